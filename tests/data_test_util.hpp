// Fixtures shared by the data-layer tests: temp dirs, small IDX files, running
// the aevb-data binary.
#pragma once
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aevb/base/error.hpp"

namespace aevb::testing {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed when the object dies.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "aevb-data-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}

// IDX bytes: magic, dims, payload.
inline std::string idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                             const std::vector<uint8_t>& payload) {
  std::string s;
  put_be32(s, magic);
  for (uint32_t d : dims) put_be32(s, d);
  s.append(payload.begin(), payload.end());
  return s;
}

inline void write_file(const std::string& path, const std::string& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << bytes;
  }
}

// Deterministic pseudo-images covering all grey levels 0..255.
inline std::vector<uint8_t> test_pixels(int64_t rows, int64_t cols, uint32_t salt) {
  std::vector<uint8_t> v(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 37 + salt * 11 + i / 7) & 0xff);
  return v;
}
inline std::vector<uint8_t> test_labels(int64_t rows, uint32_t salt) {
  std::vector<uint8_t> v(static_cast<size_t>(rows));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 3 + salt) % 10);
  return v;
}

// A small MNIST-like source: train and test images + labels, 4x7 pixels.
struct SmallMnist {
  static constexpr int64_t kH = 4, kW = 7, kTrain = 53, kTest = 17;
  std::string images_train, labels_train, images_test, labels_test;
  std::vector<uint8_t> train_px, train_lb, test_px, test_lb;
  SmallMnist(const TempDir& d, bool gzip) {
    const std::string ext = gzip ? ".gz" : "";
    train_px = test_pixels(kTrain, kH * kW, 1);
    train_lb = test_labels(kTrain, 1);
    test_px = test_pixels(kTest, kH * kW, 2);
    test_lb = test_labels(kTest, 2);
    images_train = d / ("train-images-idx3-ubyte" + ext);
    labels_train = d / ("train-labels-idx1-ubyte" + ext);
    images_test = d / ("t10k-images-idx3-ubyte" + ext);
    labels_test = d / ("t10k-labels-idx1-ubyte" + ext);
    write_file(images_train, idx_bytes(0x803, {kTrain, kH, kW}, train_px), gzip);
    write_file(labels_train, idx_bytes(0x801, {kTrain}, train_lb), gzip);
    write_file(images_test, idx_bytes(0x803, {kTest, kH, kW}, test_px), gzip);
    write_file(labels_test, idx_bytes(0x801, {kTest}, test_lb), gzip);
  }
};

struct RunResult {
  int exit_code = -1;
  std::string out, err;
  std::string last_out_line() const {
    std::string s = out;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    auto p = s.rfind('\n');
    return p == std::string::npos ? s : s.substr(p + 1);
  }
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `<binary> <args>` (a path relative to the build directory, e.g.
// "aevb-eval"; args already shell-quoted where needed), capturing stdout and
// stderr in files of `scratch` named after `tag`.
inline RunResult run_tool(const std::string& binary, const std::string& args, const TempDir& scratch,
                          const std::string& tag = "tool") {
  const std::string out = scratch / (tag + ".out"), err = scratch / (tag + ".err");
  const std::string cmd = std::string(AEVB_BINARY_DIR) + "/" + binary + " " + args + " >" + out + " 2>" + err;
  RunResult r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Runs `aevb-data <args>` (args already shell-quoted where needed).
inline RunResult run_data_tool(const std::string& args, const TempDir& scratch) {
  return run_tool("aevb-data", args, scratch, "data");
}

// Files of a directory under final names that a reader could mistake for data.
inline std::vector<std::string> final_outputs(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n == "manifest.json" || (n.size() > 3 && n.substr(n.size() - 3) == ".h5")) found.push_back(n);
  }
  return found;
}

// Everything in a directory (to check that no temp file is left behind).
inline std::vector<std::string> all_files(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  for (const auto& e : fs::directory_iterator(dir)) found.push_back(e.path().filename().string());
  return found;
}

// Message and exit code of the aevb::Error that f throws.
template <class F>
std::pair<int, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const aevb::Error& e) {
    return {e.code(), e.what()};
  }
  return {0, "(no error)"};
}

// The real-MNIST directory, or "" when it is absent.
inline std::string real_mnist_dir() {
  const char* env = std::getenv("AEVB_DATA");
  // A relative AEVB_DATA is relative to the source tree (tests run in the build tree).
  std::string base = env && *env ? std::string(env) : "../shared/data";
  if (base[0] != '/') base = std::string(AEVB_SOURCE_DIR) + "/" + base;
  const std::string dir = base + "/mnist";
  return fs::exists(dir + "/train-images-idx3-ubyte.gz") ? dir : "";
}

}  // namespace aevb::testing
