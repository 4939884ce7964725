// MNIST IDX files -> sharded dataset (train, optional valid, test).
#pragma once
#include <cstdint>
#include <string>

#include "aevb/io/dataset.hpp"

namespace aevb {

struct MnistConvertOptions {
  std::string images_train, labels_train, images_test, labels_test, out;
  int64_t shards = 1;
  // Rows carved from the training file into a "valid" split: the first
  // valid_rows entries of seeded_permutation(60000, split_seed). Both train and
  // valid keep the original file order of their rows.
  int64_t valid_rows = 0;
  uint64_t split_seed = 0;
  std::string binarization = "dynamic";  // dynamic | static | none
  int64_t binarize_seed = -1;            // required for static
  int gzip_level = 0;
  bool force = false;
};

struct ConvertResult {
  Manifest manifest;
  int64_t input_bytes = 0;  // decompressed IDX payload bytes read
};

// Reads all four files (and checks them) before anything is written.
ConvertResult convert_mnist(const MnistConvertOptions& opt);

// The 4 standard MNIST file names inside dir, with or without ".gz";
// input_error naming the directory and the missing name.
MnistConvertOptions find_mnist_files(const std::string& dir, MnistConvertOptions base);

}  // namespace aevb
