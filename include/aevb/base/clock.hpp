// Wall-clock seconds for progress lines, metrics and summaries.
#pragma once
#include <chrono>

namespace aevb {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace aevb
