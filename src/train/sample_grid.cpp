#include "aevb/train/sample_grid.hpp"

#include <cstdio>

#include "aevb/base/rng.hpp"
#include "aevb/core/model_use.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/io/png_image.hpp"

namespace aevb {

std::string write_sample_grid(Vae& m, const std::vector<int64_t>& row_shape, const std::string& out_dir, int64_t epoch,
                              uint64_t seed) {
  constexpr int64_t kN = 64;
  const int64_t J = m.spec().latent, D = m.spec().x_dim;
  std::vector<float> z(kN * J), mean(kN * D);
  for (int64_t i = 0; i < kN; ++i) normals({seed, Purpose::kInferSample, 0, uint64_t(i), 0}, &z[i * J], J);
  decode_means(m, z.data(), kN, mean.data());
  GridLayout l;
  tile_size(row_shape, D, l.tile_h, l.tile_w);
  l.cols = 8;
  if (m.spec().decoder == DecoderKind::kGaussian && !m.spec().gaussian_sigmoid_mean) {
    // Unsquashed means: the grid's own range.
    l.lo = l.hi = mean[0];
    for (float v : mean) l.lo = std::min<double>(l.lo, v), l.hi = std::max<double>(l.hi, v);
    if (l.hi <= l.lo) l.hi = l.lo + 1;
  }
  const std::string dir = out_dir + "/samples";
  make_output_dir(dir);
  char name[32];
  std::snprintf(name, sizeof name, "/epoch-%06lld.png", static_cast<long long>(epoch));
  write_png(dir + name, grid_image(mean.data(), kN, D, l));
  return dir + name;
}

}  // namespace aevb
