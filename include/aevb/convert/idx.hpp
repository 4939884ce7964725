// Reader for the IDX files of the MNIST distribution (gzipped or plain).
//
// IDX: big-endian header (magic 0x00000803 = unsigned bytes, 3 dims for
// images; 0x00000801 = unsigned bytes, 1 dim for labels), one big-endian
// uint32 per dimension, then the bytes row-major. Every inconsistency is an
// input_error naming the file and what was expected.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aevb {

struct IdxFile {
  std::string path;
  bool gzipped = false;        // detected from the gzip magic 1f 8b
  std::vector<int64_t> dims;   // dims[0] = number of items (rows)
  std::vector<uint8_t> data;   // product(dims) bytes, row-major
  int64_t rows() const { return dims.empty() ? 0 : dims[0]; }
  int64_t cols() const;        // product of dims[1..] (1 for labels)
};

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;

IdxFile read_idx_images(const std::string& path);  // magic 0x803, 3 dims
IdxFile read_idx_labels(const std::string& path);  // magic 0x801, 1 dim
// The same parser over bytes in memory (plain IDX, not gzip); `name` stands for
// the file in messages. The declared data size is checked against the bytes
// present before anything is allocated (files: against the file size, or, for
// gzip, read in bounded chunks until the stream ends).
IdxFile parse_idx(const std::string& name, const uint8_t* data, size_t size, uint32_t magic);

// "image file X has 60000 rows but label file Y has 59999"
void check_same_rows(const IdxFile& images, const IdxFile& labels);
// MNIST labels are digits: "X: label 12 at row 3 is not a digit 0..9".
void check_digit_labels(const IdxFile& labels);

}  // namespace aevb
