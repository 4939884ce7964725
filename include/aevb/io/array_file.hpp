// A small self-describing HDF5 file of named arrays and root attributes: what
// aevb-infer writes (latents shards and their index, samples, reconstructions,
// inpainting and denoising results). Each file carries its `format` and
// `format_version` attributes (README, "Files aevb-infer writes").
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aevb {

template <class T>
struct NamedArray {
  std::vector<int64_t> dims;  // row-major; dims[0] = rows
  std::vector<T> data;
};

struct ArrayFile {
  std::string format;
  int64_t format_version = 1;
  std::map<std::string, std::string> text;   // string attributes
  std::map<std::string, int64_t> ints;       // int64 attributes
  std::map<std::string, double> reals;       // float64 attributes
  std::map<std::string, NamedArray<float>> f32;
  std::map<std::string, NamedArray<double>> f64;
  std::map<std::string, NamedArray<int64_t>> i64;
  std::map<std::string, NamedArray<uint8_t>> u8;
};

// Writes atomically (temp file, fsync, rename); output_error naming the path.
void write_array_file(const std::string& path, const ArrayFile& f);

// Reads every root attribute and root dataset (float32, float64, int64 and
// uint8 datasets; other integer widths read as int64). input_error naming the
// path when it is not HDF5, or when its format attribute is not
// `expected_format` (when given).
ArrayFile read_array_file(const std::string& path, const std::string& expected_format = "");

}  // namespace aevb
