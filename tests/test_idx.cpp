// IDX reading and IDX -> HDF5 -> read-back round trips.
#include <gtest/gtest.h>

#include <cmath>

#include "aevb/convert/convert_mnist.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/base/error.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/convert/idx.hpp"
#include "data_test_util.hpp"

namespace {

using namespace aevb;
using namespace aevb::testing;


class IdxRoundTrip : public ::testing::TestWithParam<bool> {};

TEST_P(IdxRoundTrip, ReaderReturnsTheSourceBytes) {
  TempDir d;
  SmallMnist src(d, GetParam());
  const IdxFile im = read_idx_images(src.images_train);
  EXPECT_EQ(im.gzipped, GetParam());
  EXPECT_EQ(im.dims, (std::vector<int64_t>{SmallMnist::kTrain, SmallMnist::kH, SmallMnist::kW}));
  EXPECT_EQ(im.data, src.train_px);
  const IdxFile lb = read_idx_labels(src.labels_train);
  EXPECT_EQ(lb.data, src.train_lb);
}

TEST_P(IdxRoundTrip, ConvertedShardsReadBackExactly) {
  TempDir d;
  SmallMnist src(d, GetParam());
  MnistConvertOptions o;
  o.images_train = src.images_train;
  o.labels_train = src.labels_train;
  o.images_test = src.images_test;
  o.labels_test = src.labels_test;
  o.out = d / "ds";
  o.shards = 3;
  convert_mnist(o);

  const Manifest m = Manifest::load(o.out);
  for (const auto& [split, px, lb] :
       {std::tuple{"train", &src.train_px, &src.train_lb}, {"test", &src.test_px, &src.test_lb}}) {
    const SplitInfo& s = m.split(split);
    EXPECT_EQ(s.shards.size(), 3u);
    EXPECT_EQ(s.row_shape, (std::vector<int64_t>{SmallMnist::kH, SmallMnist::kW}));
    // Stored bytes, shard by shard, are the source bytes.
    std::vector<uint8_t> stored;
    for (const auto& sh : s.shards) {
      h5::Id f = h5::open_file_read(m.path_of(sh));
      auto a = h5::read_dataset<uint8_t>(f, "data");
      stored.insert(stored.end(), a.data.begin(), a.data.end());
    }
    EXPECT_EQ(stored, *px) << split;
    // Model inputs are value/255, labels as in the label file.
    const DataMatrix x = load_split(m, split, {.require_unit_interval = true});
    ASSERT_EQ(x.x.size(), px->size());
    for (size_t i = 0; i < px->size(); ++i)
      ASSERT_EQ(x.x[i], static_cast<float>((*px)[i] / 255.0)) << split << " element " << i;
    EXPECT_EQ(x.labels, std::vector<int64_t>(lb->begin(), lb->end()));
  }
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxRoundTrip, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "gzip" : "plain"; });

TEST(IdxReader, WrongMagicIsNamed) {
  TempDir d;
  const std::string p = d / "labels-as-images";
  write_file(p, idx_bytes(0x801, {3}, {1, 2, 3}), false);
  auto [code, msg] = error_of([&] { read_idx_images(p); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, p + ": bad IDX magic 0x00000801, expected 0x00000803 (images)");
}

TEST(IdxReader, TruncatedDataIsNamedWithByteCounts) {
  for (bool gz : {false, true}) {
    TempDir d;
    const std::string p = d / "short.idx";
    std::string bytes = idx_bytes(0x803, {10, 4, 7}, test_pixels(10, 28, 0));
    bytes.resize(bytes.size() - 30);
    write_file(p, bytes, gz);
    auto [code, msg] = error_of([&] { read_idx_images(p); });
    EXPECT_EQ(code, kExitBadInput);
    EXPECT_EQ(msg, p + ": truncated IDX file: expected 280 bytes of data after the header, found 250 (header: 10 x 4 x 7)");
  }
}

TEST(IdxReader, TruncatedGzipStreamIsReportedAsTruncated) {
  TempDir d;
  const std::string p = d / "cut.gz";
  write_file(p, idx_bytes(0x803, {50, 4, 7}, test_pixels(50, 28, 3)), true);
  std::string gz = slurp(p);
  gz.resize(gz.size() / 2);
  write_file(p, gz, false);
  auto [code, msg] = error_of([&] { read_idx_images(p); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_NE(msg.find(p + ": truncated IDX file"), std::string::npos) << msg;
}

TEST(IdxReader, MissingFileIsNamed) {
  auto [code, msg] = error_of([&] { read_idx_labels("/nonexistent/labels.gz"); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, "/nonexistent/labels.gz: cannot open: No such file or directory");
}

TEST(IdxReader, ImageLabelCountMismatchIsNamed) {
  TempDir d;
  const std::string im = d / "im", lb = d / "lb";
  write_file(im, idx_bytes(0x803, {5, 2, 2}, test_pixels(5, 4, 0)), false);
  write_file(lb, idx_bytes(0x801, {4}, test_labels(4, 0)), false);
  auto [code, msg] = error_of([&] { check_same_rows(read_idx_images(im), read_idx_labels(lb)); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, "image file " + im + " has 5 rows but label file " + lb + " has 4");
}

TEST(IdxReader, TrailingBytesAreRejected) {
  TempDir d;
  const std::string p = d / "long";
  write_file(p, idx_bytes(0x801, {3}, {1, 2, 3, 4}), false);
  auto [code, msg] = error_of([&] { read_idx_labels(p); });
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(msg, p + ": IDX file has trailing bytes after the 3 bytes of data its header announces");
}

}  // namespace
