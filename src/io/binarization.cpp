#include "aevb/io/binarization.hpp"

#include "aevb/base/rng.hpp"

namespace aevb {

bool binarization_applies(const std::string& option, bool bernoulli_decoder, const std::string& recorded) {
  return bernoulli_decoder && (option == "dynamic" || (option == "auto" && recorded == "dynamic"));
}

void binarize_for_evaluation(DataMatrix& d, uint64_t eval_seed) {
  for (int64_t i = 0; i < d.rows; ++i) {
    float* r = d.x.data() + i * d.cols;
    binarize({eval_seed, Purpose::kEvalBinarize, 0, static_cast<uint64_t>(d.global_index[static_cast<size_t>(i)]), 0},
             r, r, d.cols);
  }
}

}  // namespace aevb
