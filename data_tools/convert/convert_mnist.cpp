#include "aevb/convert/convert_mnist.hpp"
#include "aevb/base/version.hpp"

#include <unistd.h>

#include <filesystem>
#include <numeric>

#include "aevb/io/checksum.hpp"
#include "aevb/base/error.hpp"
#include "aevb/convert/idx.hpp"
#include "aevb/base/seeded_random.hpp"
#include "aevb/io/shard_writer.hpp"

namespace aevb {
namespace {

std::string basename_of(const std::string& p) { return std::filesystem::path(p).filename().string(); }

struct Source {
  IdxFile images, labels;
  std::vector<std::string> files, sha256;
};

Source read_source(const std::string& images, const std::string& labels) {
  Source s{read_idx_images(images), read_idx_labels(labels), {}, {}};
  check_same_rows(s.images, s.labels);
  check_digit_labels(s.labels);
  s.files = {basename_of(images), basename_of(labels)};
  s.sha256 = {sha256_file_hex(images), sha256_file_hex(labels)};
  return s;
}

// Streams the chosen source rows into the writer, binarizing them if static.
void write_split(DatasetWriter& w, SplitSpec spec, const Source& src,
                 const std::vector<int64_t>& source_rows, uint32_t stream,
                 const MnistConvertOptions& opt) {
  const int64_t cols = src.images.cols();
  spec.row_shape = {src.images.dims[1], src.images.dims[2]};
  spec.rows = static_cast<int64_t>(source_rows.size());
  spec.source_files = src.files;
  spec.source_sha256 = src.sha256;
  w.begin_split(spec);
  constexpr int64_t kBatch = 4096;
  std::vector<uint8_t> rows(static_cast<size_t>(kBatch * cols)), labels(kBatch);
  for (size_t first = 0; first < source_rows.size(); first += kBatch) {
    const int64_t n = std::min<int64_t>(kBatch, static_cast<int64_t>(source_rows.size() - first));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = source_rows[first + static_cast<size_t>(i)];
      const uint8_t* grey = src.images.data.data() + r * cols;
      uint8_t* dst = rows.data() + i * cols;
      if (opt.binarization == "static")
        binarize_static_row(grey, dst, cols, static_cast<uint64_t>(opt.binarize_seed), stream,
                            static_cast<uint64_t>(r));
      else
        std::copy(grey, grey + cols, dst);
      labels[static_cast<size_t>(i)] = src.labels.data[static_cast<size_t>(r)];
    }
    w.add_rows(rows.data(), labels.data(), n);
  }
  w.end_split();
}

}  // namespace

MnistConvertOptions find_mnist_files(const std::string& dir, MnistConvertOptions o) {
  auto find = [&](const std::string& stem) {
    for (const std::string& name : {stem + ".gz", stem}) {
      const std::string p = dir + "/" + name;
      if (::access(p.c_str(), R_OK) == 0) return p;
    }
    throw input_error(dir + ": no " + stem + "(.gz) in the --mnist-dir directory");
  };
  o.images_train = find("train-images-idx3-ubyte");
  o.labels_train = find("train-labels-idx1-ubyte");
  o.images_test = find("t10k-images-idx3-ubyte");
  o.labels_test = find("t10k-labels-idx1-ubyte");
  return o;
}

ConvertResult convert_mnist(const MnistConvertOptions& opt) {
  if (opt.binarization != "dynamic" && opt.binarization != "static" && opt.binarization != "none")
    throw usage_error("--binarization must be dynamic, static or none, got '" + opt.binarization +
                      "'");
  if (opt.binarization == "static" && opt.binarize_seed < 0)
    throw usage_error("--binarization static needs --binarize-seed S (S >= 0)");
  if (opt.binarization != "static" && opt.binarize_seed >= 0)
    throw usage_error("--binarize-seed only applies to --binarization static");
  if (opt.shards < 1) throw usage_error("--shards must be >= 1");
  if (opt.gzip_level < 0 || opt.gzip_level > 9) throw usage_error("--gzip must be 0..9");

  // Read and check every input before the output directory is touched.
  const Source train = read_source(opt.images_train, opt.labels_train);
  const Source test = read_source(opt.images_test, opt.labels_test);
  if (test.images.cols() != train.images.cols())
    throw input_error("image file " + opt.images_test + " has rows of " +
                      std::to_string(test.images.cols()) + " pixels but " + opt.images_train +
                      " has " + std::to_string(train.images.cols()));
  const int64_t n_train = train.images.rows();
  if (opt.valid_rows < 0 || opt.valid_rows >= n_train)
    throw usage_error("--valid-rows " + std::to_string(opt.valid_rows) + " must be in [0, " +
                      std::to_string(n_train) + ")");

  std::vector<int64_t> train_rows, valid_rows, test_rows(static_cast<size_t>(test.images.rows()));
  std::iota(test_rows.begin(), test_rows.end(), int64_t{0});
  {
    std::vector<bool> is_valid(static_cast<size_t>(n_train), false);
    if (opt.valid_rows > 0) {
      const auto perm = seeded_permutation(n_train, opt.split_seed);
      for (int64_t i = 0; i < opt.valid_rows; ++i) is_valid[static_cast<size_t>(perm[i])] = true;
    }
    for (int64_t r = 0; r < n_train; ++r)
      (is_valid[static_cast<size_t>(r)] ? valid_rows : train_rows).push_back(r);
  }

  SplitSpec base;
  base.dtype = h5::DType::uint8;
  base.labels = h5::DType::uint8;
  base.shards = opt.shards;
  base.gzip_level = opt.gzip_level;
  base.binarization = opt.binarization;
  if (opt.binarization == "static") {
    base.scale = 1.0;
    base.value_range = {0, 1};
    base.value_meaning = "binary pixel, 1=ink (static Bernoulli sample of grey/255)";
    base.binarization_seed = opt.binarize_seed;
  } else {
    base.scale = 1.0 / 255.0;
    base.value_range = {0, 255};
    base.value_meaning = "grey level, 0=background 255=ink";
  }

  DatasetWriter w(opt.out, "mnist", std::string("aevb-data ") + version() + " convert mnist",
                  opt.force);
  SplitSpec spec = base;
  spec.name = "train";
  write_split(w, spec, train, train_rows, 0, opt);
  if (!valid_rows.empty()) {
    spec.name = "valid";
    spec.shards = std::min<int64_t>(opt.shards, static_cast<int64_t>(valid_rows.size()));
    write_split(w, spec, train, valid_rows, 0, opt);
  }
  spec = base;
  spec.name = "test";
  write_split(w, spec, test, test_rows, 1, opt);

  ConvertResult res;
  res.manifest = w.commit();
  res.input_bytes = static_cast<int64_t>(train.images.data.size() + train.labels.data.size() +
                                         test.images.data.size() + test.labels.data.size());
  return res;
}

}  // namespace aevb
