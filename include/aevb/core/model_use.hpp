// What a trained VAE is for, beyond its likelihood (aevb-infer): the encoder's
// posterior q(z|x) = N(mu, diag exp(logvar)) of data rows, the decoder's mean
// E[x|z] of latent rows, and the latent paths the pictures walk (the prior's
// quantile grid of the paper's Figure 4, linear and spherical interpolation).
// Pure math on the model's own oneDNN networks: no files, no MPI.
#pragma once
#include <cstdint>
#include <vector>

#include "aevb/core/vae.hpp"

namespace aevb {

// mu and logvar (rows x J each) of the encoder on x (rows x D). Results depend
// on `rows` (oneDNN picks its kernels by shape): callers that promise
// bit-identical output for any rank count call this with fixed-size chunks.
void encode_rows(Vae& m, const float* x, int64_t rows, float* mu, float* logvar);

// E[x|z] (rows x D): sigmoid(logits) for a Bernoulli decoder, the mean for a
// Gaussian one. logvar (rows x D, Gaussian only, may be null) gets the decoder's
// log variance.
void decode_means(Vae& m, const float* z, int64_t rows, float* mean, float* logvar = nullptr);

// The standard normal's quantile function Phi^-1(p), 0 < p < 1 (to ~1e-15:
// a rational start refined by Newton steps on std::erfc).
double normal_quantile(double p);

// The paper's Figure 4: an n x n grid of latent points, row-major (row = first
// varied dimension `dim_a` top to bottom, column = `dim_b`), each coordinate
// Phi^-1 of (i + 0.5) / n so that the grid covers equal prior mass; the other
// J - 2 coordinates are 0. Returns n*n rows of J values.
std::vector<float> manifold_grid(int64_t latent, int64_t n, int64_t dim_a, int64_t dim_b);

// `steps` points from a to b inclusive (steps >= 2), rows of J: linear
// a + t (b - a), or spherical (slerp on the angle between a and b, with the
// norm interpolated linearly; linear when a and b are parallel).
void interpolate_latents(const float* a, const float* b, int64_t latent, int64_t steps, bool spherical, float* out);

}  // namespace aevb
