// Reading one shard file (private to the io layer): open it, check it against
// its own attributes and against the manifest, and convert stored rows to
// float model inputs while checking every value. Used by dataset.cpp (whole
// splits, chosen rows) and row_reader.cpp (the trainer's streamed reads).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "aevb/base/error.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/shard_format.hpp"

namespace aevb::shard_read {

struct OpenShard {
  std::string path;
  h5::Id file, data, labels;
  ShardAttrs attrs;
  h5::DType dtype = h5::DType::other;
  int64_t rows = 0, cols = 0;
};

std::string fmt(double v);

// Checks the shard on its own terms: attributes present and sane, /data and
// /labels shaped and typed as the attributes say.
OpenShard open_shard(const std::string& path);
// The shard must be exactly what the manifest describes.
OpenShard open_checked(const Manifest& m, const SplitInfo& sp, size_t index);

// Converts n stored rows to floats (value * scale) and checks every value.
// local_row(i) = the shard row of raw row i, for messages.
template <class T, class LocalRow>
inline void convert_rows(const OpenShard& s, const T* raw, int64_t n, LocalRow local_row,
                  const ValidateOptions& opt, float* out, VerifySummary& st) {
  const size_t count = static_cast<size_t>(n * s.cols);
  if (count == 0) return;
  const double scale = s.attrs.scale;
  const double lo = s.attrs.value_range[0], hi = s.attrs.value_range[1];
  double vmin, vmax;
  bool non_finite = false;
  if constexpr (std::is_same_v<T, uint8_t>) {
    float lut[256];  // exact: computed in double, rounded once
    for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v * scale);
    uint8_t mn = 255, mx = 0;
    for (size_t k = 0; k < count; ++k) {
      mn = std::min(mn, raw[k]);
      mx = std::max(mx, raw[k]);
      out[k] = lut[raw[k]];
    }
    vmin = mn;
    vmax = mx;
  } else {
    float mn = raw[0], mx = raw[0];
    for (size_t k = 0; k < count; ++k) {
      const float v = raw[k];
      non_finite |= !std::isfinite(v);
      mn = std::min(mn, v);
      mx = std::max(mx, v);
      out[k] = scale == 1.0 ? v : static_cast<float>(v * scale);
    }
    vmin = mn;
    vmax = mx;
  }
  const bool unit_bad = opt.require_unit_interval && (vmin * scale < 0 || vmax * scale > 1);
  if (non_finite || unit_bad || vmin < lo || vmax > hi) {
    // Rare path: find the first offending element to name it precisely.
    for (size_t k = 0; k < count; ++k) {
      const double v = raw[k];
      const int64_t r = local_row(static_cast<int64_t>(k / static_cast<size_t>(s.cols)));
      const std::string where = " at row " + std::to_string(r) + " of the shard (global row " +
                                std::to_string(s.attrs.row_offset + r) + "), column " +
                                std::to_string(k % static_cast<size_t>(s.cols));
      if (!std::isfinite(v))
        throw input_error(s.path + ": non-finite value " + fmt(v) + " in /data" + where);
      if (opt.require_unit_interval && (out[k] < 0.0f || out[k] > 1.0f))
        throw input_error(s.path + ": value " + fmt(out[k]) + " (stored " + fmt(v) + " * scale " +
                          fmt(scale) + ")" + where +
                          " is outside [0,1], which the Bernoulli decoder requires");
      if (v < lo || v > hi)
        throw input_error(s.path + ": stored value " + fmt(v) + where +
                          " is outside the declared value_range [" + fmt(lo) + "," + fmt(hi) + "]");
    }
  }
  if (st.rows == 0 && st.bytes == 0) {
    st.min_value = vmin;
    st.max_value = vmax;
  } else {
    st.min_value = std::min(st.min_value, vmin);
    st.max_value = std::max(st.max_value, vmax);
  }
}


}  // namespace aevb::shard_read
