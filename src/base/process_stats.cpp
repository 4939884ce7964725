#include "aevb/base/process_stats.hpp"

#include <fstream>
#include <string>

namespace aevb {
namespace {
// The number after "key" on its line of a /proc file, times `unit`.
int64_t proc_value(const char* path, const std::string& key, int64_t unit) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      try {
        return std::stoll(line.substr(key.size())) * unit;
      } catch (const std::exception&) {
        return -1;
      }
    }
  return -1;
}
}  // namespace

int64_t peak_rss_bytes() { return proc_value("/proc/self/status", "VmHWM:", 1024); }
int64_t storage_read_bytes() { return proc_value("/proc/self/io", "read_bytes:", 1); }

}  // namespace aevb
