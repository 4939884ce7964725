#include "aevb/io/png_image.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <memory>

#include "aevb/base/error.hpp"
#include "aevb/io/durable_file.hpp"

namespace aevb {

void tile_size(const std::vector<int64_t>& row_shape, int64_t dim, int64_t& h, int64_t& w) {
  if (row_shape.size() == 2 && row_shape[0] > 0 && row_shape[1] > 0 && row_shape[0] * row_shape[1] == dim) {
    h = row_shape[0];
    w = row_shape[1];
  } else if (row_shape.size() == 1 && row_shape[0] == dim) {
    h = dim;
    w = 1;
  } else if (row_shape.empty()) {
    // No recorded shape: a square if dim is one, else a column.
    const auto s = static_cast<int64_t>(std::llround(std::sqrt(double(dim))));
    h = s * s == dim ? s : dim;
    w = s * s == dim ? s : 1;
  } else {
    std::string shape;
    for (int64_t v : row_shape) shape += (shape.empty() ? "" : "x") + std::to_string(v);
    throw input_error("row_shape " + shape + " does not hold the model's " + std::to_string(dim) +
                      " values per row: cannot lay the rows out as pictures");
  }
}

GreyImage grid_image(const float* rows, int64_t n, int64_t dim, const GridLayout& l) {
  if (l.tile_h * l.tile_w != dim) throw input_error("grid_image: tile " + std::to_string(l.tile_h) + "x" +
                                                    std::to_string(l.tile_w) + " does not hold " + std::to_string(dim) + " values");
  const int64_t cols = std::max<int64_t>(1, std::min(l.cols, n)), grid_rows = (n + cols - 1) / cols;
  GreyImage img;
  img.width = cols * (l.tile_w + l.pad) + l.pad;
  img.height = std::max<int64_t>(1, grid_rows) * (l.tile_h + l.pad) + l.pad;
  img.pixels.assign(img.width * img.height, l.background);
  const double span = l.hi > l.lo ? l.hi - l.lo : 1.0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = l.pad + (i % cols) * (l.tile_w + l.pad), y0 = l.pad + (i / cols) * (l.tile_h + l.pad);
    for (int64_t y = 0; y < l.tile_h; ++y)
      for (int64_t x = 0; x < l.tile_w; ++x) {
        const double v = (double(rows[i * dim + y * l.tile_w + x]) - l.lo) / span;
        const double g = std::isnan(v) ? 0.0 : std::clamp(v, 0.0, 1.0);
        img.pixels[(y0 + y) * img.width + x0 + x] = static_cast<uint8_t>(std::lround(g * 255.0));
      }
  }
  return img;
}

namespace {

void to_vector(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void no_flush(png_structp) {}

struct ReadState {
  const std::vector<uint8_t>* bytes;
  size_t pos = 0;
};
void from_vector(png_structp png, png_bytep data, png_size_t n) {
  auto* st = static_cast<ReadState*>(png_get_io_ptr(png));
  if (st->pos + n > st->bytes->size()) png_error(png, "truncated file");
  std::copy_n(st->bytes->data() + st->pos, n, data);
  st->pos += n;
}

}  // namespace

void write_png(const std::string& path, const GreyImage& img) {
  std::vector<uint8_t> bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, nullptr);
    throw output_error(path + ": cannot start the PNG encoder (libpng out of memory)");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw output_error(path + ": libpng could not encode the picture");
  }
  png_set_write_fn(png, &bytes, to_vector, no_flush);
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), 8, PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t y = 0; y < img.height; ++y)
    png_write_row(png, const_cast<png_bytep>(img.pixels.data() + y * img.width));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  write_text_atomically(path, std::string(bytes.begin(), bytes.end()));
}

GreyImage read_png(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw input_error(path + ": cannot open the PNG file");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8)) throw input_error(path + ": not a PNG file");
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw input_error(path + ": cannot start the PNG decoder");
  }
  GreyImage img;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw input_error(path + ": libpng could not decode the file");
  }
  ReadState st{&bytes, 0};
  png_set_read_fn(png, &st, from_vector);
  png_read_info(png, info);
  if (png_get_color_type(png, info) != PNG_COLOR_TYPE_GRAY || png_get_bit_depth(png, info) > 8) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw input_error(path + ": expected a grey PNG of 1, 2, 4 or 8 bits per pixel (no colour, no alpha)");
  }
  // 1/2/4-bit grey (black-and-white masks) as 8-bit levels; interlaced files
  // de-interlaced by libpng's passes.
  png_set_expand_gray_1_2_4_to_8(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  img.width = png_get_image_width(png, info);
  img.height = png_get_image_height(png, info);
  img.pixels.resize(img.width * img.height);
  for (int pass = 0; pass < passes; ++pass)
    for (int64_t y = 0; y < img.height; ++y) png_read_row(png, img.pixels.data() + y * img.width, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return img;
}

}  // namespace aevb
