// Pictures of data rows as 8-bit grey PNG files (libpng), and the grids they
// are laid out in: each row of a data matrix is one tile of `row_shape`
// (28 x 28 for MNIST, 28 x 20 for Frey Face), its values mapped linearly from
// [lo, hi] (the data's range) to grey levels 0..255, tiles separated by a
// border of `pad` pixels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aevb {

struct GreyImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, height x width
  uint8_t at(int64_t x, int64_t y) const { return pixels[y * width + x]; }
};

struct GridLayout {
  int64_t tile_h = 28, tile_w = 28;  // the data's row_shape (a 1-D shape h becomes h x 1)
  int64_t cols = 10;                 // tiles per grid row
  int64_t pad = 2;                   // border pixels between tiles and around the grid
  uint8_t background = 128;          // the border's grey level
  double lo = 0, hi = 1;             // value range mapped to 0..255 (clamped)
};

// The tile size of a row_shape: {h, w} -> h x w, {n} -> n x 1 (a column); no
// shape: a square when dim is a perfect square, else a column. input_error
// when the shape does not hold `dim` values.
void tile_size(const std::vector<int64_t>& row_shape, int64_t dim, int64_t& h, int64_t& w);

// n rows of `dim` = tile_h * tile_w floats as a grid, row-major; ceil(n / cols)
// grid rows.
GreyImage grid_image(const float* rows, int64_t n, int64_t dim, const GridLayout& layout);

// Writes the image atomically (temp file, fsync, rename): output_error naming
// the path on failure.
void write_png(const std::string& path, const GreyImage& img);
// Reads a grey PNG of 1, 2, 4 or 8 bits, interlaced or not, as 8-bit levels
// (tests, --mask files); input_error naming the path otherwise.
GreyImage read_png(const std::string& path);

}  // namespace aevb
