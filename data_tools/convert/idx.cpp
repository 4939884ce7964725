#include "aevb/convert/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "aevb/base/error.hpp"

namespace aevb {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

bool has_gzip_magic(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw input_error(path + ": cannot open: " + std::strerror(errno));
  unsigned char m[2] = {0, 0};
  size_t n = std::fread(m, 1, 2, f);
  std::fclose(f);
  return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

// Reads up to n bytes; returns how many were read. Corrupt gzip data is an
// error, but a stream that simply ends early is reported as a short read so the
// caller can say "truncated" with the byte counts.
size_t read_some(gzFile f, const std::string& path, uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    const unsigned want = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    int got = gzread(f, dst + done, want);
    if (got < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      if (err == Z_BUF_ERROR) break;  // "unexpected end of file": truncated .gz
      throw input_error(path + ": corrupt gzip data: " + (msg ? msg : "unknown zlib error"));
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

IdxFile read_idx(const std::string& path, uint32_t magic, const char* what) {
  IdxFile out;
  out.path = path;
  out.gzipped = has_gzip_magic(path);  // also reports a missing file clearly
  GzPtr f(gzopen(path.c_str(), "rb"));
  if (!f) throw input_error(path + ": cannot open: " + std::strerror(errno));
  gzbuffer(f.get(), 1 << 20);

  const size_t ndims = magic & 0xff;
  uint8_t head[4];
  if (read_some(f.get(), path, head, 4) != 4)
    throw input_error(path + ": truncated IDX file: shorter than the 4-byte magic");
  const uint32_t got_magic = be32(head);
  if (got_magic != magic)
    throw input_error(path + ": bad IDX magic " + hex32(got_magic) + ", expected " + hex32(magic) +
                      " (" + what + ")");
  std::vector<uint8_t> dims_raw(4 * ndims);
  if (read_some(f.get(), path, dims_raw.data(), dims_raw.size()) != dims_raw.size())
    throw input_error(path + ": truncated IDX file: header ends before its " +
                      std::to_string(ndims) + " dimension sizes");
  uint64_t total = 1;
  for (size_t i = 0; i < ndims; ++i) {
    const uint32_t d = be32(&dims_raw[4 * i]);
    if (i > 0 && d == 0)
      throw input_error(path + ": IDX dimension " + std::to_string(i) + " is 0, expected > 0");
    out.dims.push_back(d);
    total *= d;
    if (total > (uint64_t{1} << 40))
      throw input_error(path + ": IDX dimensions are implausibly large (over 1 TiB of data)");
  }
  out.data.resize(total);
  const size_t got = read_some(f.get(), path, out.data.data(), total);
  if (got != total)
    throw input_error(path + ": truncated IDX file: expected " + std::to_string(total) +
                      " bytes of data after the header, found " + std::to_string(got));
  uint8_t extra;
  if (read_some(f.get(), path, &extra, 1) != 0)
    throw input_error(path + ": IDX file has trailing bytes after the " + std::to_string(total) +
                      " bytes of data its header announces");
  return out;
}

}  // namespace

int64_t IdxFile::cols() const {
  int64_t c = 1;
  for (size_t i = 1; i < dims.size(); ++i) c *= dims[i];
  return c;
}

IdxFile read_idx_images(const std::string& path) {
  return read_idx(path, kIdxImagesMagic, "images");
}

IdxFile read_idx_labels(const std::string& path) {
  return read_idx(path, kIdxLabelsMagic, "labels");
}

void check_same_rows(const IdxFile& images, const IdxFile& labels) {
  if (images.rows() != labels.rows())
    throw input_error("image file " + images.path + " has " + std::to_string(images.rows()) +
                      " rows but label file " + labels.path + " has " +
                      std::to_string(labels.rows()));
}

}  // namespace aevb
