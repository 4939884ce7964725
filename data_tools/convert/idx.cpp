#include "aevb/convert/idx.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include "aevb/base/error.hpp"

namespace aevb {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to n bytes into dst; returns how many were read (fewer at the end).
using ByteReader = std::function<size_t(uint8_t* dst, size_t n)>;

// The largest piece of the data read (and allocated) at a time when the size
// present is not known up front (gzip): memory grows with the bytes that
// actually arrive, never with what a header claims.
constexpr size_t kChunk = size_t{64} << 20;

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

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

// The IDX parser. `present` is the number of bytes the source holds (a plain
// file's size, a buffer's length) or -1 when unknown (gzip): the data size the
// header declares is checked against it before anything is allocated, and
// without it the data is read in bounded chunks.
IdxFile parse_idx_from(const ByteReader& read, int64_t present, const std::string& path,
                       uint32_t magic, const char* what) {
  IdxFile out;
  out.path = path;
  const size_t ndims = magic & 0xff;
  uint8_t head[4];
  if (read(head, 4) != 4)
    throw input_error(path + ": truncated IDX file: shorter than the 4-byte magic");
  const uint32_t got_magic = be32(head);
  if (got_magic != magic)
    throw input_error(path + ": bad IDX magic " + hex32(got_magic) + ", expected " + hex32(magic) +
                      " (" + what + ")");
  std::vector<uint8_t> dims_raw(4 * ndims);
  if (read(dims_raw.data(), dims_raw.size()) != dims_raw.size())
    throw input_error(path + ": truncated IDX file: header ends before its " +
                      std::to_string(ndims) + " dimension sizes");
  uint64_t total = 1;
  bool overflow = false;
  for (size_t i = 0; i < ndims; ++i) {
    const uint32_t d = be32(&dims_raw[4 * i]);
    if (i > 0 && d == 0)
      throw input_error(path + ": IDX dimension " + std::to_string(i) + " is 0, expected > 0");
    out.dims.push_back(d);
    overflow = overflow || __builtin_mul_overflow(total, uint64_t{d}, &total);
  }
  // The size of one item too: with 0 items the total is 0 whatever the others
  // say, but cols() and the shard's row_shape use them.
  uint64_t item = 1;
  for (size_t i = 1; i < ndims; ++i)
    if (__builtin_mul_overflow(item, static_cast<uint64_t>(out.dims[i]), &item) || item > (uint64_t{1} << 40))
      throw input_error(path + ": IDX dimensions " + dims_text(out.dims) +
                        " declare items of more than 1 TiB each");
  const uint64_t header = 4 + 4 * ndims;
  if (present >= 0) {
    const uint64_t found = static_cast<uint64_t>(present) - header;
    if (overflow)
      throw input_error(path + ": IDX header declares " + dims_text(out.dims) +
                        " bytes of data, more than any file holds; found " + std::to_string(found));
    if (total > found)
      throw input_error(path + ": truncated IDX file: expected " + std::to_string(total) +
                        " bytes of data after the header, found " + std::to_string(found) +
                        " (header: " + dims_text(out.dims) + ")");
    if (total < found)
      throw input_error(path + ": IDX file has trailing bytes after the " + std::to_string(total) +
                        " bytes of data its header announces");
    out.data.resize(total);
    const size_t got = read(out.data.data(), total);
    if (got != total)
      throw input_error(path + ": truncated IDX file: expected " + std::to_string(total) +
                        " bytes of data after the header, found " + std::to_string(got));
    return out;
  }
  if (overflow || total > (uint64_t{1} << 40))
    throw input_error(path + ": IDX dimensions " + dims_text(out.dims) +
                      " are implausibly large (over 1 TiB of data)");
  // Unknown size: grow with the data that arrives, a bounded chunk at a time.
  out.data.reserve(std::min<uint64_t>(total, kChunk));
  uint64_t done = 0;
  while (done < total) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(total - done, kChunk));
    out.data.resize(done + want);
    const size_t got = read(out.data.data() + done, want);
    done += got;
    if (got != want)
      throw input_error(path + ": truncated IDX file: expected " + std::to_string(total) +
                        " bytes of data after the header, found " + std::to_string(done) +
                        " (header: " + dims_text(out.dims) + ")");
  }
  uint8_t extra;
  if (read(&extra, 1) != 0)
    throw input_error(path + ": IDX file has trailing bytes after the " + std::to_string(total) +
                      " bytes of data its header announces");
  return out;
}

IdxFile read_idx(const std::string& path, uint32_t magic, const char* what) {
  const bool gzipped = has_gzip_magic(path);  // also reports a missing file clearly
  GzPtr f(gzopen(path.c_str(), "rb"));
  if (!f) throw input_error(path + ": cannot open: " + std::strerror(errno));
  gzbuffer(f.get(), 1 << 20);
  int64_t present = -1;
  struct stat st {};
  if (!gzipped && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) present = st.st_size;
  IdxFile out = parse_idx_from(
      [&](uint8_t* dst, size_t n) { return read_some(f.get(), path, dst, n); }, present, path,
      magic, what);
  out.gzipped = gzipped;
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

IdxFile parse_idx(const std::string& name, const uint8_t* data, size_t size, uint32_t magic) {
  if (magic != kIdxImagesMagic && magic != kIdxLabelsMagic)
    throw input_error(name + ": unknown IDX magic " + hex32(magic));
  size_t pos = 0;
  return parse_idx_from(
      [&](uint8_t* dst, size_t n) {
        const size_t k = std::min(n, size - pos);
        if (k) std::memcpy(dst, data + pos, k);
        pos += k;
        return k;
      },
      static_cast<int64_t>(size), name, magic, magic == kIdxImagesMagic ? "images" : "labels");
}

void check_same_rows(const IdxFile& images, const IdxFile& labels) {
  if (images.rows() != labels.rows())
    throw input_error("image file " + images.path + " has " + std::to_string(images.rows()) +
                      " rows but label file " + labels.path + " has " +
                      std::to_string(labels.rows()));
}

void check_digit_labels(const IdxFile& labels) {
  for (size_t r = 0; r < labels.data.size(); ++r)
    if (labels.data[r] > 9)
      throw input_error(labels.path + ": label " + std::to_string(labels.data[r]) + " at row " +
                        std::to_string(r) + " is not a digit 0..9");
}

}  // namespace aevb
