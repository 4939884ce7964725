// aevb-train --samples-every: a picture of what the decoder generates, written
// into the run directory during training (the run report shows them in order).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aevb/core/vae.hpp"

namespace aevb {

// <out_dir>/samples/epoch-NNNNNN.png: the decoder's means at 64 latent points
// z ~ p(z), keyed (seed, kInferSample, 0, i) as `aevb-infer sample --seed seed`
// draws them, so every grid of a run shows the same z. Rank 0 only (it calls
// the decoder on 64 rows between steps; training's next forward pass
// overwrites whatever that left in the network's buffers).
std::string write_sample_grid(Vae& m, const std::vector<int64_t>& row_shape, const std::string& out_dir, int64_t epoch,
                              uint64_t seed);

}  // namespace aevb
