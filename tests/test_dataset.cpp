// DatasetWriter + reader: sharding, row selection, validation messages,
// all-or-nothing writes, valid split, static binarization, real MNIST.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "aevb/convert/convert_mnist.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/convert/idx.hpp"
#include "aevb/base/seeded_random.hpp"
#include "aevb/io/shard_writer.hpp"
#include "data_test_util.hpp"

namespace {

using namespace aevb;
using namespace aevb::testing;


SplitSpec float_spec(int64_t rows, int64_t shards, std::vector<double> range = {0, 1}) {
  SplitSpec s;
  s.name = "train";
  s.dtype = h5::DType::float32;
  s.row_shape = {2, 3};
  s.rows = rows;
  s.value_range = std::move(range);
  s.value_meaning = "test values";
  s.labels = h5::DType::int64;
  s.shards = shards;
  return s;
}

// rows x 6 floats: row r holds r/100 + c/1000; labels 100 + r.
std::string write_float_dataset(const TempDir& d, int64_t rows, int64_t shards,
                                float poison = 0, int64_t poison_row = -1,
                                std::vector<double> range = {0, 1}) {
  std::vector<float> x(static_cast<size_t>(rows * 6));
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    labels[static_cast<size_t>(r)] = 100 + r;
    for (int64_t c = 0; c < 6; ++c) x[static_cast<size_t>(r * 6 + c)] = r / 100.0f + c / 1000.0f;
  }
  if (poison_row >= 0) x[static_cast<size_t>(poison_row * 6 + 2)] = poison;
  const std::string out = d / "ds";
  DatasetWriter w(out, "toy", "test", false);
  w.begin_split(float_spec(rows, shards, range));
  // Uneven batches so that batches straddle shard boundaries.
  for (int64_t first = 0; first < rows;) {
    const int64_t n = std::min<int64_t>(rows - first, 3);
    w.add_rows(x.data() + first * 6, labels.data() + first, n);
    first += n;
  }
  w.end_split();
  w.commit();
  return out;
}

TEST(ShardWriter, SplitsRowsIntoNearEqualShards) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3));
  const SplitInfo& s = m.split("train");
  ASSERT_EQ(s.shards.size(), 3u);
  EXPECT_EQ(s.shards[0].file, "train-00000-of-00003.h5");
  EXPECT_EQ((std::vector<int64_t>{s.shards[0].rows, s.shards[1].rows, s.shards[2].rows}),
            (std::vector<int64_t>{3, 3, 4}));
  EXPECT_EQ((std::vector<int64_t>{s.shards[0].row_offset, s.shards[1].row_offset,
                                  s.shards[2].row_offset}),
            (std::vector<int64_t>{0, 3, 6}));
  EXPECT_EQ(s.dtype, "float32");
  EXPECT_EQ(s.cols, 6);
  EXPECT_EQ(all_files(m.dir).size(), 4u) << "no temp files left";
}

TEST(DatasetReader, LoadRowsReturnsExactlyTheRequestedRowsAcrossThreeShards) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3));
  const std::vector<int64_t> want = {0, 2, 3, 5, 8, 9};
  const DataMatrix x = load_rows(m, "train", want, {});
  EXPECT_EQ(x.rows, 6);
  EXPECT_EQ(x.global_index, want);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(x.labels[i], 100 + want[i]);
    for (int64_t c = 0; c < 6; ++c)
      EXPECT_EQ(x.row(static_cast<int64_t>(i))[c], want[i] / 100.0f + c / 1000.0f);
  }
  // Only the rows of the middle shard: shards 0 and 2 are never opened, so
  // deleting them must not matter.
  fs::remove(m.dir + "/train-00000-of-00003.h5");
  fs::remove(m.dir + "/train-00002-of-00003.h5");
  const DataMatrix mid = load_rows(m, "train", {4, 5}, {});
  EXPECT_EQ(mid.labels, (std::vector<int64_t>{104, 105}));
}

TEST(DatasetReader, LoadRowsRejectsUnsortedOrOutOfRangeRows) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3));
  EXPECT_EQ(error_of([&] { load_rows(m, "train", {3, 2}, {}); }).first, kExitUsage);
  auto [code, msg] = error_of([&] { load_rows(m, "train", {10}, {}); });
  EXPECT_EQ(code, kExitUsage);
  EXPECT_EQ(msg, "row 10 is out of range for split 'train' of " + m.dir + " (it has 10 rows)");
}

TEST(DatasetReader, LoadSplitMaxRowsAndUnknownSplit) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3));
  const DataMatrix x = load_split(m, "train", {}, 4);
  EXPECT_EQ(x.rows, 4);
  EXPECT_EQ(x.labels, (std::vector<int64_t>{100, 101, 102, 103}));
  auto [code, msg] = error_of([&] { m.split("valid"); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, m.dir + "/manifest.json: no split 'valid' (available: train)");
}

TEST(DatasetReader, NaNInFloatDataNamesFileAndRow) {
  TempDir d;
  const Manifest m = Manifest::load(
      write_float_dataset(d, 10, 3, std::numeric_limits<float>::quiet_NaN(), 7));
  auto [code, msg] = error_of([&] { load_split(m, "train", {}); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, m.dir + "/train-00002-of-00003.h5: non-finite value nan in /data at row 1 of the "
                         "shard (global row 7), column 2");
  // load_rows checks too, even on a subset.
  EXPECT_EQ(error_of([&] { load_rows(m, "train", {7}, {}); }).second, msg);
}

TEST(DatasetReader, ValuesOutsideUnitIntervalRejectedWhenRequired) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3, 1.5f, 4, {0, 2}));
  EXPECT_NO_THROW(load_split(m, "train", {.require_unit_interval = false}));
  auto [code, msg] = error_of([&] { load_split(m, "train", {.require_unit_interval = true}); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, m.dir + "/train-00001-of-00003.h5: value 1.5 (stored 1.5 * scale 1) at row 1 of "
                         "the shard (global row 4), column 2 is outside [0,1], which the Bernoulli "
                         "decoder requires");
}

TEST(DatasetReader, ValuesOutsideTheDeclaredRangeAreRejected) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3, -0.5f, 0, {0, 1}));
  auto [code, msg] = error_of([&] { load_split(m, "train", {}); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, m.dir + "/train-00000-of-00003.h5: stored value -0.5 at row 0 of the shard "
                         "(global row 0), column 2 is outside the declared value_range [0,1]");
}

TEST(DatasetReader, ShardWithWrongRowShapeIsRejected) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3));
  const std::string shard = m.dir + "/train-00001-of-00003.h5";
  {
    h5::Id f = h5::open_file_rw(shard);
    h5::write_attr_ints(f, "row_shape", {3, 2});
  }
  auto [code, msg] = error_of([&] { load_split(m, "train", {}); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, shard + ": row_shape is [3,2] but manifest.json says [2,3]");
  {
    h5::Id f = h5::open_file_rw(shard);
    h5::write_attr_ints(f, "row_shape", {2, 4});  // consistent with neither /data nor manifest
  }
  EXPECT_EQ(error_of([&] { load_split(m, "train", {}); }).second,
            shard + ": /data has shape [3,6], expected [3,8] (rows x product of row_shape [2,4])");
}

TEST(DatasetReader, ModifiedDataFailsTheChecksum) {
  TempDir d;
  const Manifest m = Manifest::load(write_float_dataset(d, 10, 3));
  const std::string shard = m.dir + "/train-00002-of-00003.h5";
  {
    h5::Id f = h5::open_file_rw(shard);
    h5::Id data = h5::open_dataset(f, "data");
    const float row[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    h5::write_rows(data, 0, 1, row);
  }
  auto [code, msg] = error_of([&] { load_split(m, "train", {}); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_NE(msg.find(shard + ": /data hashes to "), std::string::npos) << msg;
  EXPECT_NE(msg.find("(file corrupted or modified after conversion)"), std::string::npos) << msg;
  // A subset cannot be checksummed; verify_checksums=false skips it entirely.
  EXPECT_NO_THROW(load_split(m, "train", {.verify_checksums = false}));
}

TEST(DatasetReader, MissingManifestIsNamed) {
  TempDir d;
  auto [code, msg] = error_of([&] { Manifest::load(d.path); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, d.path + "/manifest.json: cannot open (is " + d.path +
                     " an aevb dataset directory?)");
}

TEST(ShardWriter, AbandonedWriterLeavesNothingBehind) {
  TempDir d;
  const std::string out = d / "ds";
  {
    DatasetWriter w(out, "toy", "test", false);
    w.begin_split(float_spec(10, 3));
    std::vector<float> x(60, 0.25f);
    std::vector<int64_t> labels(10, 1);
    w.add_rows(x.data(), labels.data(), 7);  // two shards finished, one open
    EXPECT_FALSE(all_files(out).empty());    // temp files exist meanwhile
  }  // e.g. an exception unwound past the writer
  EXPECT_FALSE(fs::exists(out)) << "the directory it created is removed again";
}

TEST(ShardWriter, RefusesToOverwriteADatasetWithoutForce) {
  TempDir d;
  const std::string out = write_float_dataset(d, 10, 3);
  auto [code, msg] = error_of([&] { DatasetWriter w(out, "toy", "test", false); });
  EXPECT_EQ(code, kExitOutput);
  EXPECT_EQ(msg, out + " already holds a dataset (" + out +
                     "/manifest.json); pass --force to replace it");
  // With force, a 1-shard dataset replaces the 3-shard one and the old shards go.
  DatasetWriter w(out, "toy", "test", true);
  w.begin_split(float_spec(2, 1));
  std::vector<float> x(12, 0.5f);
  std::vector<int64_t> labels(2, 0);
  w.add_rows(x.data(), labels.data(), 2);
  w.end_split();
  w.commit();
  auto files = all_files(out);
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"manifest.json", "train-00000-of-00001.h5"}));
}

MnistConvertOptions small_options(const SmallMnist& src, const std::string& out) {
  MnistConvertOptions o;
  o.images_train = src.images_train;
  o.labels_train = src.labels_train;
  o.images_test = src.images_test;
  o.labels_test = src.labels_test;
  o.out = out;
  return o;
}

TEST(DatasetValidSplit, IsTheSeededPermutationAndDisjointFromTrain) {
  TempDir d;
  SmallMnist src(d, false);
  MnistConvertOptions o = small_options(src, d / "ds");
  o.valid_rows = 7;
  o.split_seed = 42;
  o.shards = 2;
  convert_mnist(o);
  const Manifest m = Manifest::load(o.out);
  const DataMatrix train = load_split(m, "train", {}), valid = load_split(m, "valid", {});
  ASSERT_EQ(valid.rows, 7);
  ASSERT_EQ(train.rows, SmallMnist::kTrain - 7);

  const auto perm = seeded_permutation(SmallMnist::kTrain, 42);
  std::vector<int64_t> valid_src(perm.begin(), perm.begin() + 7);
  std::sort(valid_src.begin(), valid_src.end());  // both splits keep file order
  std::vector<int64_t> train_src;
  for (int64_t r = 0; r < SmallMnist::kTrain; ++r)
    if (!std::binary_search(valid_src.begin(), valid_src.end(), r)) train_src.push_back(r);

  const int64_t cols = SmallMnist::kH * SmallMnist::kW;
  auto expect_rows = [&](const DataMatrix& x, const std::vector<int64_t>& src_rows) {
    for (size_t i = 0; i < src_rows.size(); ++i) {
      EXPECT_EQ(x.labels[i], src.train_lb[static_cast<size_t>(src_rows[i])]);
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(x.row(static_cast<int64_t>(i))[c],
                  static_cast<float>(src.train_px[static_cast<size_t>(src_rows[i] * cols + c)] / 255.0));
    }
  };
  expect_rows(valid, valid_src);
  expect_rows(train, train_src);
  std::set<int64_t> all(train_src.begin(), train_src.end());
  all.insert(valid_src.begin(), valid_src.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(SmallMnist::kTrain)) << "disjoint and complete";

  // The permutation depends on the seed and is a permutation.
  auto p2 = seeded_permutation(SmallMnist::kTrain, 43);
  EXPECT_NE(perm, p2);
  std::sort(p2.begin(), p2.end());
  for (int64_t i = 0; i < SmallMnist::kTrain; ++i) EXPECT_EQ(p2[static_cast<size_t>(i)], i);
}

TEST(DatasetStaticBinarization, IsDeterministicAndKeyedBySeed) {
  TempDir d;
  SmallMnist src(d, true);
  auto convert = [&](const std::string& name, int64_t seed) {
    MnistConvertOptions o = small_options(src, d / name);
    o.binarization = "static";
    o.binarize_seed = seed;
    convert_mnist(o);
    return Manifest::load(o.out);
  };
  const Manifest a = convert("a", 7), b = convert("b", 7), c = convert("c", 8);
  EXPECT_EQ(a.split("train").shards[0].data_sha256, b.split("train").shards[0].data_sha256);
  EXPECT_NE(a.split("train").shards[0].data_sha256, c.split("train").shards[0].data_sha256);
  const SplitInfo& s = a.split("train");
  EXPECT_EQ(s.binarization, "static");
  EXPECT_EQ(s.binarization_seed, 7);
  EXPECT_EQ(s.scale, 1.0);
  const DataMatrix x = load_split(a, "train", {.require_unit_interval = true});
  int64_t ones = 0;
  for (size_t i = 0; i < x.x.size(); ++i) {
    const float v = x.x[i];
    ASSERT_TRUE(v == 0.0f || v == 1.0f);
    if (src.train_px[i] == 0) {
      ASSERT_EQ(v, 0.0f);
    }
    if (src.train_px[i] == 255) {
      ASSERT_EQ(v, 1.0f);
    }
    ones += v == 1.0f;
  }
  // Mean of the bits ~ mean grey/255 (about 0.5 for these test pixels).
  double mean_grey = 0;
  for (uint8_t p : src.train_px) mean_grey += p / 255.0;
  mean_grey /= static_cast<double>(src.train_px.size());
  EXPECT_NEAR(static_cast<double>(ones) / static_cast<double>(x.x.size()), mean_grey, 0.05);
}

TEST(DatasetRealMnist, ConvertedShardsEqualTheSourceBytes) {
  const std::string dir = real_mnist_dir();
  if (dir.empty()) GTEST_SKIP() << "real MNIST not found (set AEVB_DATA)";
  TempDir d;
  MnistConvertOptions o = find_mnist_files(dir, {});
  o.out = d / "mnist";
  o.shards = 3;
  convert_mnist(o);
  const Manifest m = Manifest::load(o.out);
  for (const auto& [split, im, lb] :
       {std::tuple{"train", o.images_train, o.labels_train}, {"test", o.images_test, o.labels_test}}) {
    const IdxFile images = read_idx_images(im), labels = read_idx_labels(lb);
    const DataMatrix x = load_split(m, split, {.require_unit_interval = true});
    ASSERT_EQ(x.rows, std::string(split) == "train" ? 60000 : 10000);
    ASSERT_EQ(x.cols, 784);
    ASSERT_EQ(x.x.size(), images.data.size());
    for (size_t i = 0; i < images.data.size(); ++i)
      ASSERT_EQ(std::lround(x.x[i] * 255.0), images.data[i]) << split << " element " << i;
    EXPECT_EQ(x.labels, std::vector<int64_t>(labels.data.begin(), labels.data.end()));
  }
}

}  // namespace

namespace {

using namespace aevb;
using namespace aevb::testing;

TEST(ShardAtomicFile, CommitRenamesAndAbandonRemovesTheTempFile) {
  TempDir d;
  const std::string final_path = d / "x.h5";
  {
    h5::AtomicFile f(final_path);
    h5::write_attr_int(f.id(), "answer", 42);
    EXPECT_TRUE(fs::exists(f.temp_path()));
    EXPECT_FALSE(fs::exists(final_path));
  }
  EXPECT_TRUE(all_files(d.path).empty()) << "abandoned temp file removed";
  {
    h5::AtomicFile f(final_path);
    h5::write_attr_int(f.id(), "answer", 42);
    f.commit();
  }
  h5::Id f = h5::open_file_read(final_path);
  EXPECT_EQ(h5::read_attr_int(f, "answer"), 42);
  EXPECT_EQ(all_files(d.path), std::vector<std::string>{"x.h5"});
}

TEST(ShardAtomicFile, MissingDirectoryIsNamed) {
  TempDir d;
  try {
    h5::AtomicFile f(d / "no/such/x.h5");
    FAIL() << "expected output_error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitOutput);
    EXPECT_EQ(std::string(e.what()), "cannot write " + (d / "no/such/x.h5") + ": directory " +
                                         (d / "no/such") +
                                         " does not exist or is not reachable (No such file or directory)");
  }
}

TEST(ShardH5, AttributeKindsRoundTripAndMismatchesAreNamed) {
  TempDir d;
  const std::string p = d / "a.h5";
  {
    h5::Id f = h5::create_file(p);
    h5::write_attr_strings(f, "names", {"a", "bé"});
    h5::write_attr_doubles(f, "range", {0.5, 2});
    h5::write_attr_string(f, "s", "hello");
  }
  h5::Id f = h5::open_file_read(p);
  EXPECT_EQ(h5::read_attr_strings(f, "names"), (std::vector<std::string>{"a", "bé"}));
  EXPECT_EQ(h5::read_attr_doubles(f, "range"), (std::vector<double>{0.5, 2}));
  EXPECT_FALSE(h5::has_attr(f, "nope"));
  try {
    h5::read_attr_int(f, "s");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), p + ": attribute 's' is not an integer");
  }
  try {
    h5::open_file_read(d / "missing.h5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (d / "missing.h5") + ": no such file");
  }
}

}  // namespace
