// Binarization of grey-level data for a Bernoulli decoder: one rule for the
// trainer and the evaluator.
//
// Training with dynamic binarization draws x_d ~ Bernoulli(grey_d) every step
// (keyed by (seed, step, global index), see rng.hpp). A model trained that way
// is evaluated on ONE fixed binarization of the evaluation split, keyed by
// (eval seed, kEvalBinarize, 0, global index), so that aevb-train's test ELBO
// and aevb-eval's estimates of the same model see the same binary data.
#pragma once
#include <cstdint>
#include <string>

#include "aevb/io/dataset.hpp"

namespace aevb {

// Whether data is binarized: option is "auto", "dynamic" or "none"; recorded is
// what the model or dataset says ("dynamic" when the model was trained on
// dynamically binarized data, or the split's own attribute).
bool binarization_applies(const std::string& option, bool bernoulli_decoder, const std::string& recorded);

// The fixed evaluation binarization, in place, of every row of d.
void binarize_for_evaluation(DataMatrix& d, uint64_t eval_seed);

}  // namespace aevb
