// What the operating system counts for this process (Linux /proc/self): what
// the summaries and the streaming benchmark report as memory and disk use.
#pragma once
#include <cstdint>

namespace aevb {

// Peak resident set size (VmHWM) in bytes; -1 where /proc is unavailable.
int64_t peak_rss_bytes();
// Bytes this process caused to be fetched from storage (read_bytes of
// /proc/self/io: reads served by the page cache do not count); -1 if unknown.
int64_t storage_read_bytes();

}  // namespace aevb
