// The training benchmarks' data: synthetic uint8 grey levels stored as MNIST's
// are (the step converts and binarizes them; its cost does not depend on the
// values), visited in a fixed permutation so that rows come from anywhere in
// the 7.8 MB set as they do from a real split.
#pragma once
#include <cstdint>
#include <vector>

#include "aevb/base/partition.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/io/row_reader.hpp"
#include "aevb/train/train_rows.hpp"

namespace aevb::bench {

class SyntheticRows {
 public:
  static constexpr int64_t kRows = 10000;

  explicit SyntheticRows(int64_t cols) {
    SplitInfo split;
    split.dtype = "uint8";
    split.cols = cols;
    split.scale = 1.0 / 255;
    format_ = row_format(split);
    std::vector<float> u(static_cast<size_t>(kRows * cols));
    uniforms({1, Purpose::kBinarize, 0, 0, 0}, u.data(), static_cast<int64_t>(u.size()));
    stored_.resize(u.size());
    for (size_t k = 0; k < u.size(); ++k) stored_[k] = static_cast<uint8_t>(u[k] * 255.f);
    perm_ = permutation(1, 0, kRows);
  }

  const RowFormat& format() const { return format_; }

  // Positions `mine` (of the permutation) as the step's rows.
  void fill(const Range& mine, StepRows& rows) const {
    rows.row.clear();
    rows.global_index.clear();
    for (int64_t i = mine.lo; i < mine.hi; ++i) {
      const int64_t g = perm_[static_cast<size_t>(i)];
      rows.row.push_back(stored_.data() + g * format_.cols);
      rows.global_index.push_back(g);
    }
  }

 private:
  RowFormat format_;
  std::vector<uint8_t> stored_;
  std::vector<int64_t> perm_;
};

}  // namespace aevb::bench
