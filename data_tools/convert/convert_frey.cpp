// Frey Face: the MATLAB file (frey_rawface.mat, read through matio) into shards.
#include <matio.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "aevb/base/error.hpp"
#include "aevb/io/shard_format.hpp"
#include "convert_internal.hpp"

namespace aevb {
namespace {

// Rows already in memory (Frey Face: 1965 x 560 bytes).
class MemorySource final : public RowSource {
 public:
  MemorySource(const uint8_t* data, int64_t rows, int64_t cols) : p_(data), rows_(rows), cols_(cols) {}
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  int64_t read(void* data, int64_t*, int64_t n) override {
    n = std::min(n, rows_ - done_);
    std::memcpy(data, p_ + done_ * cols_, static_cast<size_t>(n * cols_));
    done_ += n;
    return n;
  }

 private:
  const uint8_t* p_;
  int64_t rows_, cols_, done_ = 0;
};

void silent_matio_log(int, char*) {}

const char* mat_class_name(matio_classes c) {
  switch (c) {
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_OBJECT: return "object";
    case MAT_C_CHAR: return "char";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_DOUBLE: return "double";
    case MAT_C_SINGLE: return "single";
    case MAT_C_INT8: return "int8";
    case MAT_C_UINT8: return "uint8";
    case MAT_C_INT16: return "int16";
    case MAT_C_UINT16: return "uint16";
    case MAT_C_INT32: return "int32";
    case MAT_C_UINT32: return "uint32";
    case MAT_C_INT64: return "int64";
    case MAT_C_UINT64: return "uint64";
    case MAT_C_FUNCTION: return "function";
    case MAT_C_OPAQUE: return "opaque";
    default: return "empty";
  }
}

struct MatCloser {
  void operator()(mat_t* m) const { Mat_Close(m); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct VarFree {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};

}  // namespace

ConvertStats convert_frey(const FreyOptions& o) {
  check_common(o.common);
  if (o.input.empty()) throw usage_error("convert frey: missing --input FILE");
  const int64_t size = detail::file_size(o.input);  // "cannot open: No such file or directory"
  {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(o.input.c_str(), "rb"));
    if (!f) throw input_error(o.input + ": cannot open: " + std::strerror(errno));
    check_mat_layout(
        [&](uint64_t off, void* dst, size_t n) -> size_t {
          if (fseeko(f.get(), static_cast<off_t>(off), SEEK_SET) != 0) return 0;
          return std::fread(dst, 1, n, f.get());
        },
        static_cast<uint64_t>(size), o.input);
  }
  Mat_LogInitFunc("aevb-data", silent_matio_log);
  std::unique_ptr<mat_t, MatCloser> mat(Mat_Open(o.input.c_str(), MAT_ACC_RDONLY));
  if (!mat) throw input_error(o.input + ": not a MATLAB MAT-file (matio cannot open it)");
  std::unique_ptr<matvar_t, VarFree> ff(Mat_VarRead(mat.get(), "ff"));
  if (!ff) {
    std::string names;
    Mat_Rewind(mat.get());
    while (matvar_t* v = Mat_VarReadNextInfo(mat.get())) {
      names += std::string(names.empty() ? "" : ", ") + (v->name ? v->name : "?");
      Mat_VarFree(v);
    }
    throw input_error(o.input + ": no variable 'ff' (variables in the file: " +
                      (names.empty() ? "none" : names) + ")");
  }
  if (ff->class_type != MAT_C_UINT8 || ff->isComplex)
    throw input_error(o.input + ": variable 'ff' is of class " +
                      (ff->isComplex ? std::string("complex ") : std::string()) +
                      mat_class_name(ff->class_type) + ", expected uint8");
  if (ff->rank != 2 || ff->dims[0] != 560 || !ff->data) {
    std::string size;
    for (int i = 0; i < ff->rank; ++i) size += (i ? " x " : "") + std::to_string(ff->dims[i]);
    throw input_error(o.input + ": variable 'ff' has size " + size +
                      ", expected 560 x N (one 28 x 20 image per column)");
  }
  const int64_t n = static_cast<int64_t>(ff->dims[1]);
  if (n == 0) throw input_error(o.input + ": variable 'ff' holds no images (560 x 0)");
  // What matio says it read must be the whole 560 x N variable.
  if (ff->data_size != 1 || ff->nbytes != static_cast<size_t>(n) * 560)
    throw input_error(o.input + ": matio read " + std::to_string(ff->nbytes) + " bytes of variable 'ff', expected " +
                      std::to_string(n * 560) + " (560 x " + std::to_string(n) + " uint8)");
  const auto splits = detail::split_rows(o.common, n, o.input);

  SplitSpec base;
  base.dtype = h5::DType::uint8;
  base.row_shape = {28, 20};
  base.scale = 1.0 / 255.0;
  base.value_range = {0, 255};
  base.value_meaning = "grey level 0..255 (Frey Face); model input = grey/255";
  base.binarization = "none";
  base.source_files = {detail::basename_of(o.input)};
  base.source_sha256 = {sha256_file_hex(o.input)};
  base.gzip_level = o.common.gzip_level;
  DatasetWriter w(o.common.out, o.common.name.empty() ? "frey_face" : o.common.name,
                  detail::created_by("convert frey"), o.common.force);
  // MATLAB stores column-major, so image i (column i) is 560 contiguous bytes:
  // exactly the 28 x 20 image in row-major order.
  MemorySource src(static_cast<const uint8_t*>(ff->data), n, 560);
  detail::write_source(w, src, base, splits, o.common, 0, o.input);
  ConvertStats st;
  st.input_bytes = n * 560;
  st.manifest = w.commit();
  return st;
}

}  // namespace aevb
