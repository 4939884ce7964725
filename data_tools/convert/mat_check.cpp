// The MAT-file pre-check run before matio reads a file (convert frey): every
// size a level 5 MAT-file declares (each top-level element, the parts of each
// variable, the inflated size of each compressed variable) is checked against
// the bytes actually present, so a truncated file is an input_error naming the
// file instead of a variable that matio fills up with zeros.
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "aevb/base/error.hpp"
#include "aevb/convert/convert.hpp"

namespace aevb {
namespace {

enum : uint32_t { kMiInt32 = 5, kMiUint32 = 6, kMiMatrix = 14, kMiCompressed = 15 };
constexpr size_t kHeader = 128;
constexpr size_t kPrefix = size_t{64} << 10;  // bytes of a variable's element looked at

// Bytes per element of a MAT data type (0: not a numeric type).
uint64_t type_size(uint32_t t) {
  switch (t) {
    case 1: case 2: case 16: return 1;           // int8, uint8, utf8
    case 3: case 4: case 17: return 2;           // int16, uint16, utf16
    case 5: case 6: case 7: case 18: return 4;   // int32, uint32, single, utf32
    case 9: case 12: case 13: return 8;          // double, int64, uint64
    default: return 0;
  }
}

const char* class_name(uint32_t c) {
  static const char* names[] = {"empty", "cell", "struct", "object", "char", "sparse", "double",
                                "single", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                                "int64", "uint64", "function", "opaque"};
  return c < sizeof names / sizeof *names ? names[c] : "unknown";
}

struct Tag {
  uint32_t type = 0;
  uint64_t nbytes = 0;
  bool small = false;  // small data element: the data sits in the tag's second word
  uint64_t size() const { return small ? 8 : 8 + nbytes; }          // tag and data
  uint64_t padded() const { return small ? 8 : 8 + ((nbytes + 7) & ~uint64_t{7}); }
};

class MatCheck {
 public:
  MatCheck(const MatReadAt& read_at, uint64_t size, const std::string& name)
      : read_at_(read_at), size_(size), name_(name) {}

  void run() {
    if (size_ < kHeader)
      fail("truncated MAT-file: expected a 128-byte header, the file has " + std::to_string(size_) +
           " bytes");
    uint8_t h[kHeader];
    read_exact(0, h, kHeader);
    if (h[126] == 'I' && h[127] == 'M') swap_ = false;
    else if (h[126] == 'M' && h[127] == 'I') swap_ = true;
    else return;  // not a level 5 header (a level 4 file): matio decides
    const uint16_t version = swap_ ? uint16_t(h[124] << 8 | h[125]) : uint16_t(h[125] << 8 | h[124]);
    if (version != 0x0100) return;  // 0x0200: a 7.3 MAT-file is HDF5, read by libhdf5
    for (uint64_t off = kHeader; off < size_;) {
      uint8_t raw[8];
      if (size_ - off < 8)
        fail("truncated MAT-file: " + std::to_string(size_ - off) + " bytes at byte " +
             std::to_string(off) + " where an 8-byte element tag was expected");
      read_exact(off, raw, 8);
      const Tag t = tag(raw);
      const uint64_t left = size_ - off - 8;
      if (!t.small && t.nbytes > left)
        fail("truncated MAT-file: the element at byte " + std::to_string(off) + " declares " +
             std::to_string(t.nbytes) + " bytes, the file holds " + std::to_string(left) +
             " after its tag (file size " + std::to_string(size_) + ")");
      if (t.type == kMiMatrix && !t.small) check_plain_matrix(off, t);
      if (t.type == kMiCompressed && !t.small) check_compressed(off, t);
      off += t.type == kMiCompressed ? t.size() : t.padded();
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw input_error(name_ + ": " + what); }

  void read_exact(uint64_t off, void* dst, size_t n) const {
    if (n == 0) return;  // an empty element: dst may be null (fread/memcpy must not see it)
    if (read_at_(off, dst, n) != n)
      fail("read error at byte " + std::to_string(off) + " (" + std::to_string(n) + " bytes)");
  }

  uint32_t u32(const uint8_t* p) const {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }

  Tag tag(const uint8_t* p) const {
    Tag t;
    const uint32_t w = u32(p);
    if (w >> 16) {
      t.small = true;
      t.type = w & 0xffff;
      t.nbytes = w >> 16;
    } else {
      t.type = w;
      t.nbytes = u32(p + 4);
    }
    return t;
  }

  void check_plain_matrix(uint64_t off, const Tag& t) {
    std::vector<uint8_t> body(static_cast<size_t>(std::min<uint64_t>(t.nbytes, kPrefix)));
    read_exact(off + 8, body.data(), body.size());
    check_matrix(body, t.nbytes, "the variable at byte " + std::to_string(off));
  }

  // A compressed variable: the zlib stream must end inside the element and
  // inflate to exactly the miMATRIX element its first tag declares.
  void check_compressed(uint64_t off, const Tag& t) {
    const std::string where = "the compressed variable at byte " + std::to_string(off);
    z_stream z{};
    if (inflateInit(&z) != Z_OK) fail("zlib cannot start inflating " + where);
    struct End {
      z_stream* z;
      ~End() { inflateEnd(z); }
    } end{&z};
    std::vector<uint8_t> in(kPrefix), out(kPrefix), head;
    uint64_t consumed = 0, inflated = 0, declared = 0;
    bool have_tag = false;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (z.avail_in == 0) {
        if (consumed == t.nbytes)
          fail("truncated MAT-file: " + where + " ends (" + std::to_string(t.nbytes) +
               " bytes) before its zlib stream does");
        const size_t n = static_cast<size_t>(std::min<uint64_t>(t.nbytes - consumed, in.size()));
        read_exact(off + 8 + consumed, in.data(), n);
        consumed += n;
        z.next_in = in.data();
        z.avail_in = static_cast<uInt>(n);
      }
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        fail("corrupt MAT-file: " + where + ": zlib: " + (z.msg ? z.msg : "error " + std::to_string(rc)));
      const size_t got = out.size() - z.avail_out;
      inflated += got;
      if (head.size() < kPrefix)
        head.insert(head.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(
                                                 std::min(got, kPrefix - head.size())));
      if (!have_tag && head.size() >= 8) {
        const Tag inner = tag(head.data());
        have_tag = true;
        declared = inner.size();
        if (inner.type != kMiMatrix) return;  // matio only reads miMATRIX from here
      }
      if (have_tag && inflated > declared)
        fail("corrupt MAT-file: " + where + " inflates to more than the " + std::to_string(declared) +
             " bytes its tag declares");
    }
    if (!have_tag || inflated < declared)
      fail("truncated MAT-file: " + where + " inflates to " + std::to_string(inflated) +
           " bytes, its variable declares " + std::to_string(declared));
    head.erase(head.begin(), head.begin() + 8);
    check_matrix(head, declared - 8, where);
  }

  // body: the first bytes of a miMATRIX element's data (all of it when it is
  // under kPrefix); declared: its full size. Every sub-element must fit, and a
  // numeric variable's data must be exactly its dimensions' worth.
  void check_matrix(const std::vector<uint8_t>& body, uint64_t declared, const std::string& where) {
    if (declared == 0) return;  // an empty variable
    uint64_t pos = 0;
    std::vector<Tag> parts;
    std::vector<uint64_t> starts;
    while (pos < declared && parts.size() < 6) {
      if (declared - pos < 8)
        fail("truncated MAT-file: " + where + ": " + std::to_string(declared - pos) +
             " bytes left where a sub-element tag was expected");
      if (pos + 8 > body.size()) return;  // beyond what we looked at
      const Tag t = tag(body.data() + pos);
      if (t.size() > declared - pos)
        fail("truncated MAT-file: " + where + ": a part declares " + std::to_string(t.nbytes) +
             " bytes, the variable holds " + std::to_string(declared - pos - 8) + " after its tag");
      parts.push_back(t);
      starts.push_back(pos);
      pos += t.padded();
    }
    if (parts.size() < 3)
      fail("malformed MAT-file: " + where + " lacks its array flags, dimensions or name");
    auto data_of = [&](size_t i) -> const uint8_t* {
      const uint64_t s = starts[i] + (parts[i].small ? 4 : 8);
      return s + parts[i].nbytes <= body.size() ? body.data() + s : nullptr;
    };
    if (parts[0].type != kMiUint32 || parts[0].nbytes != 8 || !data_of(0))
      fail("malformed MAT-file: " + where + ": array flags must be 8 bytes of uint32");
    const uint32_t flags = u32(data_of(0));
    const uint32_t cls = flags & 0xff;
    if (parts[1].type != kMiInt32 || parts[1].nbytes < 8 || parts[1].nbytes % 4)
      fail("malformed MAT-file: " + where + ": dimensions must be two or more int32 values");
    const uint8_t* d = data_of(1);
    if (!d || cls < 6 || cls > 15) return;  // not a numeric array: matio decides
    uint64_t count = 1;
    std::string dims;
    bool overflow = false;
    for (uint64_t i = 0; i < parts[1].nbytes / 4; ++i) {
      const int32_t v = static_cast<int32_t>(u32(d + 4 * i));
      if (v < 0) fail("malformed MAT-file: " + where + ": dimension " + std::to_string(v) + " < 0");
      dims += (i ? " x " : "") + std::to_string(v);
      overflow = overflow || __builtin_mul_overflow(count, static_cast<uint64_t>(v), &count);
    }
    const bool complex = flags & 0x0800;
    for (size_t i = 3; i < (complex ? 5u : 4u); ++i) {
      const std::string part = i == 3 ? "real part" : "imaginary part";
      if (i >= parts.size())
        fail("truncated MAT-file: " + where + ": " + dims + " " + class_name(cls) +
             " variable has no " + part);
      const uint64_t ts = type_size(parts[i].type);
      uint64_t want = 0;
      if (ts == 0)
        fail("malformed MAT-file: " + where + ": " + part + " has data type " +
             std::to_string(parts[i].type) + ", not a numeric type");
      if (overflow || __builtin_mul_overflow(count, ts, &want) || want != parts[i].nbytes)
        fail("truncated MAT-file: " + where + ": " + dims + " " + class_name(cls) + " variable needs " +
             (overflow ? std::string("more") : std::to_string(want)) + " bytes of " + part +
             ", the file holds " + std::to_string(parts[i].nbytes));
    }
  }

  const MatReadAt& read_at_;
  uint64_t size_;
  std::string name_;
  bool swap_ = false;
};

}  // namespace

void check_mat_layout(const MatReadAt& read_at, uint64_t size, const std::string& name) {
  MatCheck(read_at, size, name).run();
}

}  // namespace aevb
