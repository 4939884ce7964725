// Nearest neighbours under a per-point mask of the coordinates that count
// (aevb-infer inpaint's baseline: the training image closest on the observed
// pixels). The distances come from two oneDNN matmuls per block of candidates,
//   sum_d m_id (x_id - b_td)^2 = sum_d m_id x_id^2 - 2 (m.x) b_t + m_i (b_t^2),
// not from a hand-written triple loop.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace aevb {

class MaskedNearest {
 public:
  // n query points of dimension D: x (n x D), mask (n x D, 1 = counts).
  MaskedNearest(const float* x, const uint8_t* mask, int64_t n, int64_t D);
  ~MaskedNearest();
  // Offers candidates b (rows x D) whose global indices start at first_index;
  // call once per block of a stream of any length.
  void offer(const float* b, int64_t rows, int64_t first_index);
  const std::vector<int64_t>& best_index() const { return best_index_; }  // -1 before any offer
  const std::vector<double>& best_distance() const { return best_; }
  const std::vector<float>& best_rows() const { return best_rows_; }  // n x D: each query's best candidate

 private:
  struct Gemm;
  int64_t n_, D_;
  std::vector<float> mx_, m_, xsq_;  // m.x (n x D), m (n x D), sum_d m x^2 (n)
  std::vector<float> bsq_, cross_, msq_;
  std::vector<double> best_;
  std::vector<int64_t> best_index_;
  std::vector<float> best_rows_;
  std::unique_ptr<Gemm> gemm_;
};

}  // namespace aevb
