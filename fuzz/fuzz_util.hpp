// Shared by the libFuzzer targets (docs/fuzzing.md). A target feeds its input
// to one of our parsers; an aevb::Error (a clean "bad input" report) is the
// expected outcome for most inputs. Anything else (a sanitizer report, a
// std::bad_alloc or other exception escaping, a hang) is a crash.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "aevb/base/error.hpp"

namespace aevb::fuzz {

// A per-process scratch directory in memory (/dev/shm), for parsers that read a path.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string d = base + "/aevb-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string p = scratch_dir() + "/" + name;
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return p;
}

// Runs f; an aevb::Error is a clean rejection, everything else propagates.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const aevb::Error&) {
  }
}

// Takes bytes off the front of the fuzz input.
struct Bytes {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint8_t u8() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | u8();
    return v;
  }
  std::string str(size_t max) {
    const size_t k = std::min<size_t>(u8() % (max + 1), n);
    std::string s(reinterpret_cast<const char*>(p), k);
    p += k;
    n -= k;
    return s;
  }
};

}  // namespace aevb::fuzz
