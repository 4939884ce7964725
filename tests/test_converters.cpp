// Converters other than MNIST IDX: .amat, Frey Face .mat, CSV, .npy; --split
// and --shuffle-seed semantics. Every fixture is written here. (verify,
// reshard and --force: test_dataset_tools.cpp.)
#include <gtest/gtest.h>
#include <matio.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

#include "aevb/convert/convert.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/base/seeded_random.hpp"
#include "converter_test_util.hpp"
#include "data_test_util.hpp"

namespace {

using namespace aevb;
using namespace aevb::testing;
using nlohmann::json;

// ---- .amat ----

std::vector<uint8_t> amat_bits(int64_t rows, uint32_t salt) {
  std::vector<uint8_t> v(static_cast<size_t>(rows * 784));
  for (size_t i = 0; i < v.size(); ++i) v[i] = ((i * 7 + salt * 13 + i / 11) % 3) == 0;
  return v;
}
std::string amat_text(const std::vector<uint8_t>& bits) {
  std::string s;
  for (size_t i = 0; i < bits.size(); ++i) {
    s += static_cast<char>('0' + bits[i]);
    s += (i % 784 == 783) ? '\n' : ' ';
  }
  return s;
}

TEST(ConvertAmat, RoundTripPlainAndGzippedFiles) {
  TempDir d;
  const auto train = amat_bits(9, 1), valid = amat_bits(3, 2), test = amat_bits(4, 3);
  write_file(d / "binarized_mnist_train.amat", amat_text(train), false);
  write_file(d / "binarized_mnist_valid.amat.gz", amat_text(valid), true);
  write_file(d / "binarized_mnist_test.amat", amat_text(test), false);
  const std::string out = d / "ds";
  const json j = ok_json(run_data_tool("convert amat --amat-dir " + d.path + " --out " + out +
                                           " --rows-per-shard 4",
                                       d));
  EXPECT_EQ(j["rows"], 16);
  EXPECT_EQ(j["splits"]["train"]["shards"], 3);  // ceil(9/4)
  EXPECT_EQ(j["splits"]["valid"]["shards"], 1);
  const Manifest m = Manifest::load(out);
  const SplitInfo& s = m.split("train");
  EXPECT_EQ(s.dtype, "uint8");
  EXPECT_EQ(s.binarization, "static");
  EXPECT_EQ(s.binarization_seed, -1);
  EXPECT_EQ(s.scale, 1.0);
  EXPECT_EQ(s.row_shape, (std::vector<int64_t>{28, 28}));
  EXPECT_FALSE(s.has_labels);
  for (const auto& [name, bits] : {std::pair{"train", train}, {"valid", valid}, {"test", test}}) {
    const auto x = load_split(m, name, {.require_unit_interval = true}).x;
    ASSERT_EQ(x.size(), bits.size()) << name;
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], static_cast<float>(bits[i])) << name << i;
  }
}

TEST(ConvertAmat, WrongValueCountAndNonBinaryValueAreNamed) {
  TempDir d;
  std::string text = amat_text(amat_bits(3, 1));
  std::string short_line = text;
  short_line.erase(784 * 2, 2);  // line 2 loses one value
  write_file(d / "a.amat", short_line, false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert amat --train " + d / "a.amat" + " --out " + out, d), 3,
                 d / "a.amat" + ":2: expected 784 values, found 783", out);
  std::string two = text;
  two[784 * 2 * 2 + 2 * 5] = '2';  // line 3, column 5
  write_file(d / "b.amat.gz", two, true);
  expect_failure(run_data_tool("convert amat --test " + d / "b.amat.gz" + " --out " + out, d), 3,
                 d / "b.amat.gz" + ":3: column 5: '2' is not 0 or 1", out);
}

// ---- Frey Face .mat ----

void write_mat(const std::string& path, const char* name, matio_classes cls, matio_types type,
               size_t rows, size_t cols, void* data) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  ASSERT_NE(mat, nullptr);
  size_t dims[2] = {rows, cols};
  matvar_t* v = Mat_VarCreate(name, cls, type, 2, dims, data, 0);
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
  Mat_VarFree(v);
  Mat_Close(mat);
}

TEST(ConvertFrey, ColumnsBecome28x20ImagesScaledToUnitInterval) {
  TempDir d;
  const size_t n = 7;
  std::vector<uint8_t> ff = test_pixels(static_cast<int64_t>(n), 560, 5);  // column-major 560 x 7
  write_mat(d / "frey_rawface.mat", "ff", MAT_C_UINT8, MAT_T_UINT8, 560, n, ff.data());
  const std::string out = d / "ds";
  const json j = ok_json(run_data_tool("convert frey --input " + d / "frey_rawface.mat" + " --out " +
                                           out + " --split train=5,test=rest --shards 2",
                                       d));
  EXPECT_EQ(j["splits"]["train"]["rows"], 5);
  EXPECT_EQ(j["splits"]["test"]["rows"], 2);
  const Manifest m = Manifest::load(out);
  EXPECT_EQ(m.split("train").row_shape, (std::vector<int64_t>{28, 20}));
  EXPECT_EQ(m.split("train").binarization, "none");
  EXPECT_DOUBLE_EQ(m.split("train").scale, 1.0 / 255.0);
  const DataMatrix train = load_split(m, "train", {.require_unit_interval = true});
  const DataMatrix test = load_split(m, "test", {});
  // Image i = column i of ff = bytes [560 i, 560 (i+1)), row-major 28 x 20.
  for (int64_t i = 0; i < 7; ++i) {
    const DataMatrix& x = i < 5 ? train : test;
    const int64_t r = i < 5 ? i : i - 5;
    for (int64_t p = 0; p < 560; ++p)
      ASSERT_FLOAT_EQ(x.row(r)[p], static_cast<float>(ff[static_cast<size_t>(i * 560 + p)] / 255.0));
  }
}

TEST(ConvertFrey, MissingVariableAndWrongClassAreNamed) {
  TempDir d;
  std::vector<uint8_t> bytes(560 * 2, 3);
  write_mat(d / "novar.mat", "faces", MAT_C_UINT8, MAT_T_UINT8, 560, 2, bytes.data());
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert frey --input " + d / "novar.mat" + " --out " + out, d), 3,
                 d / "novar.mat" + ": no variable 'ff' (variables in the file: faces)", out);
  std::vector<double> dbl(560 * 2, 0.5);
  write_mat(d / "double.mat", "ff", MAT_C_DOUBLE, MAT_T_DOUBLE, 560, 2, dbl.data());
  expect_failure(run_data_tool("convert frey --input " + d / "double.mat" + " --out " + out, d), 3,
                 d / "double.mat" + ": variable 'ff' is of class double, expected uint8", out);
  write_mat(d / "shape.mat", "ff", MAT_C_UINT8, MAT_T_UINT8, 28, 40, bytes.data());
  expect_failure(run_data_tool("convert frey --input " + d / "shape.mat" + " --out " + out, d), 3,
                 d / "shape.mat" + ": variable 'ff' has size 28 x 40, expected 560 x N (one 28 x 20 image per column)",
                 out);
}

// ---- CSV ----

TEST(ConvertCsv, ColumnsByNameLabelsAndFractionSplit) {
  TempDir d;
  write_file(d / "t.csv.gz", csv_text(20, true) + "\n\n", true);  // trailing blank lines are skipped
  const std::string out = d / "ds";
  const json j = ok_json(run_data_tool("convert csv --input " + d / "t.csv.gz" + " --out " + out +
                                           " --header --columns c,a --label-column id"
                                           " --split train=0.7,valid=0.15,test=0.15 --shards 2",
                                       d));
  EXPECT_EQ(j["splits"]["train"]["rows"], 14);
  EXPECT_EQ(j["splits"]["valid"]["rows"], 3);
  EXPECT_EQ(j["splits"]["test"]["rows"], 3);  // floor(3.0) plus the rounding remainder
  const Manifest m = Manifest::load(out);
  EXPECT_EQ(m.name, "t");
  EXPECT_EQ(m.split("train").row_shape, std::vector<int64_t>{2});
  int64_t next = 0;
  for (const char* split : {"train", "valid", "test"}) {
    const DataMatrix x = load_split(m, split, {});
    for (int64_t i = 0; i < x.rows; ++i, ++next) {  // no shuffle: file order, consecutive splits
      EXPECT_EQ(x.labels[static_cast<size_t>(i)], next);
      EXPECT_EQ(x.row(i)[0], static_cast<float>(-next));  // c first, as listed
      EXPECT_EQ(x.row(i)[1], static_cast<float>(next));
    }
  }
  EXPECT_EQ(next, 20);
}

TEST(ConvertCsv, ShuffleIsTheSeededPermutationAndIndependentOfSharding) {
  TempDir d;
  write_file(d / "t.csv", csv_text(30, false), false);
  auto convert = [&](const std::string& name, const std::string& extra) {
    ok_json(run_data_tool("convert csv --input " + d / "t.csv" + " --out " + d / name +
                              " --label-column 0 --columns 1,2 --split train=20,test=rest " + extra,
                          d));
    return Manifest::load(d / name);
  };
  const Manifest a = convert("a", "--shuffle-seed 11 --shards 3");
  const Manifest b = convert("b", "--shuffle-seed 11 --rows-per-shard 7");
  const Manifest c = convert("c", "--shuffle-seed 12");
  const auto perm = permutation(11, Purpose::kDataShuffle, 0, 30);
  std::vector<int64_t> got;
  for (const char* split : {"train", "test"}) {
    const DataMatrix x = load_split(a, split, {});
    for (int64_t i = 0; i < x.rows; ++i) {
      got.push_back(x.labels[static_cast<size_t>(i)]);
      EXPECT_EQ(x.row(i)[0], static_cast<float>(got.back()));  // the row travels with its label
    }
    EXPECT_EQ(load_split(b, split, {}).labels, x.labels) << "same order whatever the sharding";
  }
  EXPECT_EQ(got, perm);
  EXPECT_NE(load_split(c, "train", {}).labels, load_split(a, "train", {}).labels);
}

TEST(ConvertCsv, WrongValueCountAndTextInANumericColumnAreNamed) {
  TempDir d;
  const std::string out = d / "ds";
  write_file(d / "short.csv", "a,b,c,x\n1,2,3,4\n5,6,7\n", false);
  expect_failure(run_data_tool("convert csv --header --input " + d / "short.csv" + " --out " + out, d), 3,
                 d / "short.csv" + ":3: expected 4 values, found 3", out);
  write_file(d / "text.csv", "a,b,c,x\n1,2,3,4\n5,6,7,abc\n", false);
  expect_failure(run_data_tool("convert csv --header --input " + d / "text.csv" + " --out " + out, d), 3,
                 d / "text.csv" + ":3: column 3 ('x'): 'abc' is not a number", out);
  write_file(d / "lab.csv", "1,2,0\n5,6,1.5\n", false);
  expect_failure(run_data_tool("convert csv --label-column 2 --input " + d / "lab.csv" + " --out " + out, d), 3,
                 d / "lab.csv" + ":2: label column 2: '1.5' is not an integer", out);
  expect_failure(run_data_tool("convert csv --columns q --input " + d / "lab.csv" + " --out " + out, d), 2,
                 "--columns 'q' is a column name; names need --header", out);
}

TEST(ConvertCsv, ShuffleAboveTheMemoryBudgetIsRefused) {
  TempDir d;
  std::string s;
  for (int r = 0; r < 700; ++r) {
    for (int c = 0; c < 400; ++c) s += c ? ",1" : "1";
    s += "\n";
  }
  write_file(d / "big.csv", s, false);
  const std::string out = d / "ds";
  expect_failure(run_data_tool("convert csv --input " + d / "big.csv" + " --out " + out +
                                   " --shuffle-seed 1 --memory-budget 1",
                               d),
                 2,
                 "--shuffle-seed holds all rows of " + d / "big.csv" +
                     " in memory (2 MiB), more than --memory-budget 1 MiB: raise --memory-budget "
                     "or convert without shuffling (training shuffles every epoch anyway)",
                 out);
}

// ---- .npy ----

std::string npy_bytes(const std::string& descr, const std::string& shape, const void* data,
                      size_t bytes, bool fortran = false) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                  ", 'shape': " + shape + ", }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string s("\x93NUMPY\x01\x00", 8);
  s += static_cast<char>(h.size() & 0xff);
  s += static_cast<char>(h.size() >> 8);
  s += h;
  s.append(static_cast<const char*>(data), bytes);
  return s;
}

TEST(ConvertNpy, Uint8Float32AndFloat64RoundTrip) {
  TempDir d;
  const std::vector<uint8_t> u8 = test_pixels(5, 6, 3);
  write_file(d / "u8.npy", npy_bytes("|u1", "(5, 2, 3)", u8.data(), u8.size()), false);
  std::vector<float> f4(10);
  std::vector<double> f8(10);
  for (int i = 0; i < 10; ++i) f4[static_cast<size_t>(i)] = f8[static_cast<size_t>(i)] = i * 0.25f - 1;
  write_file(d / "f4.npy", npy_bytes("<f4", "(10,)", f4.data(), 40), false);
  write_file(d / "f8.npy", npy_bytes("<f8", "(5, 2)", f8.data(), 80), false);

  ok_json(run_data_tool("convert npy --input " + d / "u8.npy" + " --out " + d / "u8 --scale 0.00392156862745098", d));
  const Manifest m = Manifest::load(d / "u8");
  EXPECT_EQ(m.split("train").dtype, "uint8");
  EXPECT_EQ(m.split("train").row_shape, (std::vector<int64_t>{2, 3}));
  const auto x = all_rows(d / "u8", "train");
  for (size_t i = 0; i < u8.size(); ++i) ASSERT_FLOAT_EQ(x[i], static_cast<float>(u8[i] * 0.00392156862745098));

  ok_json(run_data_tool("convert npy --input " + d / "f4.npy" + " --out " + d / "f4", d));
  EXPECT_EQ(Manifest::load(d / "f4").split("train").row_shape, std::vector<int64_t>{1});
  EXPECT_EQ(all_rows(d / "f4", "train"), f4);
  ok_json(run_data_tool("convert npy --input " + d / "f8.npy" + " --out " + d / "f8 --split train=3,test=2", d));
  EXPECT_EQ(Manifest::load(d / "f8").split("test").dtype, "float32");
  std::vector<float> both = all_rows(d / "f8", "train"), t = all_rows(d / "f8", "test");
  both.insert(both.end(), t.begin(), t.end());
  EXPECT_EQ(both, f4);
}

TEST(ConvertNpy, TruncatedFortranOrderAndUnsupportedDtypeAreNamed) {
  TempDir d;
  const std::string out = d / "ds";
  std::vector<float> f(12, 1.0f);
  std::string trunc = npy_bytes("<f4", "(3, 4)", f.data(), 48);
  trunc.resize(trunc.size() - 5);
  write_file(d / "t.npy", trunc, false);
  expect_failure(run_data_tool("convert npy --input " + d / "t.npy" + " --out " + out, d), 3,
                 d / "t.npy" + ": truncated .npy: shape (3, 4) of <f4 needs 48 bytes of data after the header, found 43 (file size 171)", out);
  write_file(d / "f.npy", npy_bytes("<f4", "(3, 4)", f.data(), 48, true), false);
  expect_failure(run_data_tool("convert npy --input " + d / "f.npy" + " --out " + out, d), 3,
                 d / "f.npy" + ": fortran_order is True; only C-order arrays are supported (save np.ascontiguousarray(a))",
                 out);
  write_file(d / "i.npy", npy_bytes("<i4", "(3, 4)", f.data(), 48), false);
  expect_failure(run_data_tool("convert npy --input " + d / "i.npy" + " --out " + out, d), 3,
                 d / "i.npy" + ": unsupported dtype '<i4' (supported: '|u1' uint8, '<f4' float32, '<f8' float64)",
                 out);
}

// ---- --split ----

TEST(SplitOption, FractionsCountsAndRest) {
  auto rows = [](const std::string& s, int64_t n) { return resolve_split(parse_split(s), n, "f"); };
  EXPECT_EQ(rows("train=0.8,valid=0.1,test=0.1", 1005), (std::vector<int64_t>{804, 100, 101}));
  EXPECT_EQ(rows("train=50,valid=10,test=rest", 100), (std::vector<int64_t>{50, 10, 40}));
  EXPECT_EQ(rows("train=rest,test=0.25", 10), (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(rows("train=60,test=40", 100), (std::vector<int64_t>{60, 40}));
  auto err = [&](const std::string& s, int64_t n) {
    try {
      rows(s, n);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), kExitUsage);
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(err("train=60,test=30", 100),
            "--split asks for 90 rows but f has 100 rows (name one split 'rest' to take the remainder)");
  EXPECT_EQ(err("train=0.5,test=0.4", 100), "--split fractions sum to 0.9, not 1 (or name one split 'rest')");
  EXPECT_EQ(err("train=200,test=rest", 100), "--split asks for 200 rows before 'rest' but f has 100 rows");
  EXPECT_EQ(err("train=rest,test=rest", 100), "--split 'train=rest,test=rest': only one split may be 'rest'");
  EXPECT_EQ(err("train=0.5,train=0.5", 100), "--split 'train=0.5,train=0.5': split 'train' given twice");
  EXPECT_EQ(err("train", 100), "--split 'train': expected name=value entries like "
                               "train=0.8,valid=0.1,test=0.1 or train=50000,test=rest, got 'train'");
}

}  // namespace
