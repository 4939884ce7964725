// Issue 9: nothing a user feeds in crashes the tools. Declared sizes are
// checked against the bytes present before anything is allocated (IDX, .npy,
// MAT-files), labels and CSV headers are checked; and the bugs the fuzzers
// (fuzz/) found, each as a regression test. ReaderLimits runs in-process
// (unit); ConvertBadInput runs aevb-data (cli).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <matio.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "aevb/base/error.hpp"
#include "aevb/convert/convert.hpp"
#include "aevb/convert/idx.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"
#include "converter_test_util.hpp"
#include "data_test_util.hpp"
#include "train_test_util.hpp"

namespace {

using namespace aevb;
using namespace aevb::testing;

std::string npy_bytes(const std::string& descr, const std::string& shape, size_t data_bytes) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string s("\x93NUMPY\x01\x00", 8);
  s += static_cast<char>(h.size() & 0xff);
  s += static_cast<char>(h.size() >> 8);
  return s + h + std::string(data_bytes, '\0');
}

// A 560 x n uint8 variable 'ff', as matio writes it (compressed or not).
void write_frey(const std::string& path, size_t n, bool compressed) {
  std::vector<uint8_t> px(560 * n);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7 + i / 13);
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  ASSERT_NE(mat, nullptr);
  size_t dims[2] = {560, n};
  matvar_t* v = Mat_VarCreate("ff", MAT_C_UINT8, MAT_T_UINT8, 2, dims, px.data(), 0);
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(Mat_VarWrite(mat, v, compressed ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE), 0);
  Mat_VarFree(v);
  Mat_Close(mat);
}

void truncate_to(const std::string& path, uintmax_t size) { std::filesystem::resize_file(path, size); }

// ---- in-process ----

TEST(ReaderLimits, IdxHeaderClaimingMoreRowsThanPresentIsRefusedBeforeAllocating) {
  // 2^28 rows of 28 x 28 in a 470 KB file was std::bad_alloc (exit 1).
  for (bool gz : {false, true}) {
    TempDir d;
    const std::string p = d / "huge";
    write_file(p, idx_bytes(0x803, {1u << 28, 28, 28}, std::vector<uint8_t>(470000, 7)), gz);
    auto [code, msg] = error_of([&] { read_idx_images(p); });
    EXPECT_EQ(code, kExitBadInput);
    EXPECT_EQ(msg, p + ": truncated IDX file: expected 210453397504 bytes of data after the header, "
                       "found 470000 (header: 268435456 x 28 x 28)") << (gz ? "gzip" : "plain");
  }
}

TEST(ReaderLimits, IdxDimensionProductOverflowIsNamed) {
  const std::string b = idx_bytes(0x803, {0xffffffffu, 1u << 20, 1u << 20}, {1, 2, 3});
  auto [code, msg] = error_of([&] {
    parse_idx("mem.idx", reinterpret_cast<const uint8_t*>(b.data()), b.size(), kIdxImagesMagic);
  });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, "mem.idx: IDX header declares 4294967295 x 1048576 x 1048576 bytes of data, "
                 "more than any file holds; found 3");
}

TEST(ReaderLimits, IdxZeroItemsOfAnOverflowingItemSizeAreRefused) {
  // Found by fuzz_idx: 0 rows of 2734686457 x 4245183243 passed (0 bytes of data)
  // and IdxFile::cols() overflowed int64 (UBSan).
  const std::string b = idx_bytes(0x803, {0, 2734686457u, 4245183243u}, {});
  auto [code, msg] = error_of([&] {
    parse_idx("z.idx", reinterpret_cast<const uint8_t*>(b.data()), b.size(), kIdxImagesMagic);
  });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, "z.idx: IDX dimensions 0 x 2734686457 x 4245183243 declare items of more than 1 TiB each");
}

TEST(ReaderLimits, MnistLabelsOutsideZeroToNineAreNamedWithTheRow) {
  const std::string b = idx_bytes(0x801, {4}, {1, 2, 12, 3});
  const IdxFile f = parse_idx("lb", reinterpret_cast<const uint8_t*>(b.data()), b.size(), kIdxLabelsMagic);
  auto [code, msg] = error_of([&] { check_digit_labels(f); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, "lb: label 12 at row 2 is not a digit 0..9");
}

TEST(ReaderLimits, NpyHeaderLengthBeyondTheFileIsRefusedBeforeAllocating) {
  const std::string b = std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{}";
  std::FILE* f = fmemopen(const_cast<char*>(b.data()), b.size(), "rb");
  auto [code, msg] = error_of([&] { scan_npy(f, static_cast<int64_t>(b.size()), "h.npy"); });
  std::fclose(f);
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, "h.npy: truncated .npy header: expected 4294967295 bytes, the file has 2 after the "
                 "12-byte preamble");
}

TEST(ReaderLimits, EmptyMatVariableIsNotReadWithANullBuffer) {
  // Found by fuzz_mat_header: a miMATRIX element of 0 bytes was read as
  // read_at(off, nullptr, 0), i.e. fread/memcpy with a null buffer (UBSan).
  std::string b(116, ' ');
  b += std::string(8, '\0') + std::string("\x00\x01IM", 4);
  b += std::string("\x0e\x00\x00\x00\x00\x00\x00\x00", 8);  // miMATRIX, 0 bytes
  check_mat_layout(
      [&](uint64_t off, void* dst, size_t n) -> size_t {
        EXPECT_NE(dst, nullptr);
        EXPECT_GT(n, 0u);
        const size_t k = std::min<size_t>(n, b.size() - off);
        std::memcpy(dst, b.data() + off, k);
        return k;
      },
      b.size(), "empty.mat");
}

TEST(ReaderLimits, ManifestNumberOutOfRangeIsBadJsonNotAnEscapingException) {
  // Found by fuzz_manifest: nlohmann's out_of_range (a number like 1e999)
  // escaped Manifest::load, which caught only parse_error (exit 1 in the tools).
  std::istringstream in(R"({"format": "aevb-manifest", "x": 0.0039215E862745098})");
  auto [code, msg] = error_of([&] { Manifest::parse(in, "ds"); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg.rfind("ds/manifest.json: invalid JSON: ", 0), 0u) << msg;
}

TEST(ReaderLimits, ModelParamsOfAHugeDeclaredShapeAreRefusedBeforeReading) {
  // Found by fuzz_model: /params declared 2^36 floats (chunked, nothing written)
  // was allocated in full before its size was compared with the architecture.
  TempDir d;
  const std::string p = d / "model.h5";
  ModelSpec spec;
  spec.x_dim = 6;
  spec.hidden = {3};
  spec.latent = 2;
  Vae m(spec);
  ModelMeta meta;
  meta.row_shape = {2, 3};
  save_model(p, m, meta);
  {
    h5::Id f = h5::open_file_rw(p);
    ASSERT_GE(H5Ldelete(f, "params", H5P_DEFAULT), 0);
    const hsize_t dims[1] = {hsize_t{1} << 36}, chunk[1] = {64};
    hid_t space = H5Screate_simple(1, dims, nullptr), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    hid_t ds = H5Dcreate2(f, "params", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  auto [code, msg] = error_of([&] { load_model(p); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, p + ": /params has shape [68719476736] but the architecture needs " +
                     std::to_string(m.num_params()) + " values");
}

// An architecture of huge layers (a corrupted x_dim or hidden size): refused
// from the attributes alone, before a Vae would allocate it.
TEST(ReaderLimits, ModelOfAHugeArchitectureIsRefusedBeforeAllocating) {
  TempDir d;
  const std::string p = d / "model.h5";
  ModelSpec spec;
  spec.x_dim = 6;
  spec.hidden = {3};
  spec.latent = 2;
  save_model(p, Vae(spec), ModelMeta{});
  for (const int64_t x_dim : {int64_t{1} << 40, int64_t{1} << 30}) {
    {
      h5::Id f = h5::open_file_rw(p);
      ASSERT_GE(H5Adelete(f, "x_dim"), 0);
      h5::write_attr_int(f, "x_dim", x_dim);
    }
    auto [code, msg] = error_of([&] { load_model(p); });
    EXPECT_EQ(code, kExitBadInput);
    if (x_dim > (int64_t{1} << 31))
      EXPECT_EQ(msg, p + ": bad model architecture: layer sizes beyond 2^31 or a parameter count that overflows");
    else  // fits in int64, but not what /params holds
      EXPECT_EQ(msg.rfind(p + ": /params has shape [", 0), 0u) << msg;
  }
}

// Found by fuzz_shard: a row_shape whose product overflows int64 (UBSan:
// signed overflow in product()). Now refused naming the shape, in the shard
// attribute and in manifest.json alike.
TEST(ReaderLimits, RowShapeWhoseProductOverflowsIsRefused) {
  TempDir d;
  write_float_dataset(d / "ds", 4, 2, [](int64_t, int64_t) { return 0.5f; });
  const Manifest m = Manifest::load(d / "ds");
  const std::string shard = m.path_of(m.split("train").shards[0]);
  const std::vector<int64_t> huge = {int64_t{1} << 62, int64_t{1} << 62};
  {
    h5::Id f = h5::open_file_rw(shard);
    ASSERT_GE(H5Adelete(f, "row_shape"), 0);
    h5::write_attr_ints(f, "row_shape", huge);
  }
  auto [code, msg] = error_of([&] { verify_shard_file(shard); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, shard + ": row_shape [4611686018427387904,4611686018427387904] has more values than int64 holds");
  std::string text = slurp(d / "ds/manifest.json");
  const size_t at = text.find("\"row_shape\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, text.find(']', at) - at + 1, "\"row_shape\": [4611686018427387904, 4611686018427387904]");
  std::istringstream in(text);
  auto [code2, msg2] = error_of([&] { Manifest::parse(in, d / "ds"); });
  EXPECT_EQ(code2, kExitBadInput);
  EXPECT_NE(msg2.find("row_shape: its product overflows int64"), std::string::npos) << msg2;
}

// Found by fuzz_shard: row_offset = 2^63 - 1 overflowed where a message adds
// the row number to it (UBSan). Refused as a row range when the shard is read.
TEST(ReaderLimits, ShardRowRangeBeyondInt64IsRefused) {
  TempDir d;
  write_float_dataset(d / "ds", 4, 2, [](int64_t, int64_t) { return 0.5f; });
  const Manifest m = Manifest::load(d / "ds");
  const std::string shard = m.path_of(m.split("train").shards[0]);
  {
    h5::Id f = h5::open_file_rw(shard);
    ASSERT_GE(H5Adelete(f, "row_offset"), 0);
    h5::write_attr_int(f, "row_offset", std::numeric_limits<int64_t>::max());
  }
  auto [code, msg] = error_of([&] { verify_shard_file(shard); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, shard + ": rows 4 at row_offset 9223372036854775807 is not a valid row range");
}

// ---- aevb-data ----

TEST(ConvertBadInput, IdxHugeRowCountIsExit3NotBadAlloc) {
  TempDir d;
  SmallMnist src(d, false);
  write_file(src.images_train, idx_bytes(0x803, {1u << 28, 28, 28}, std::vector<uint8_t>(470000, 1)), false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist --mnist-dir " + d.path + " --out " + out, d), 3,
                 src.images_train + ": truncated IDX file: expected 210453397504 bytes of data after the "
                                    "header, found 470000 (header: 268435456 x 28 x 28)",
                 out);
}

TEST(ConvertBadInput, MnistLabelTwelveIsNamedWithFileAndRow) {
  TempDir d;
  SmallMnist src(d, true);
  std::vector<uint8_t> lb = src.train_lb;
  lb[5] = 12;
  write_file(src.labels_train, idx_bytes(0x801, {SmallMnist::kTrain}, lb), true);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert mnist --mnist-dir " + d.path + " --out " + out, d), 3,
                 src.labels_train + ": label 12 at row 5 is not a digit 0..9", out);
}

TEST(ConvertBadInput, NpyShapeWhoseSizeOverflowsNamesShapeAndFileSize) {
  // (4, 2^62+3) float32 with 48 data bytes: the size product overflowed and it converted (exit 0).
  TempDir d;
  write_file(d / "o.npy", npy_bytes("<f4", "(4, 4611686018427387907)", 48), false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert npy --input " + d / "o.npy" + " --out " + out, d), 3,
                 d / "o.npy" + ": .npy shape (4, 4611686018427387907) of <f4 declares more data than any "
                               "file can hold; the file has 176 bytes",
                 out);
}

TEST(ConvertBadInput, TruncatedFreyMatFileIsExit3NotZeroRows) {
  for (bool compressed : {false, true}) {
    SCOPED_TRACE(compressed ? "compressed" : "uncompressed");
    TempDir d;
    const std::string p = d / "frey_rawface.mat", out = d / "ds";
    write_frey(p, 40, compressed);
    const uintmax_t size = std::filesystem::file_size(p), cut = size / 4;
    truncate_to(p, size - cut);
    const RunResult r = run_data_tool("convert frey --input " + p + " --out " + out, d);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_TRUE(all_files(out).empty());
    const std::string want = p + ": truncated MAT-file: the element at byte 128 declares " +
                             std::to_string(size - 136) + " bytes, the file holds " +
                             std::to_string(size - cut - 136) + " after its tag (file size " +
                             std::to_string(size - cut) + ")";
    EXPECT_EQ(r.err, "aevb-data: error: " + want + "\n");
  }
  // An intact file still converts.
  TempDir d;
  write_frey(d / "ok.mat", 3, true);
  const auto j = ok_json(run_data_tool("convert frey --input " + d / "ok.mat" + " --out " + d / "ds", d));
  EXPECT_EQ(j["rows"], 3);
}

TEST(ConvertBadInput, CsvByteOrderMarkIsNotPartOfTheFirstName) {
  TempDir d;
  write_file(d / "bom.csv", "\xEF\xBB\xBF" "a,b\n1,2\n3,4\n", false);
  const auto j = ok_json(run_data_tool("convert csv --header --columns a --label-column b --input " +
                                       d / "bom.csv" + " --out " + d / "ds", d));
  EXPECT_EQ(j["rows"], 2);
  EXPECT_EQ(all_rows(d / "ds", "train"), (std::vector<float>{1, 3}));
}

TEST(ConvertBadInput, DuplicateCsvHeaderNamesAreNamed) {
  TempDir d;
  write_file(d / "dup.csv", "a,b,a\n1,2,3\n", false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert csv --header --input " + d / "dup.csv" + " --out " + out, d), 3,
                 d / "dup.csv" + ":1: columns 0 and 2 are both named 'a' (header names must be unique)", out);
}

}  // namespace
