// The data order (train/data_order.hpp) and the streamed row reader
// (io/row_reader.hpp), in-process: what the order is, that it depends on
// (seed, epoch, --shuffle) only, and that streamed reads return load_rows'
// values and catch corrupted and truncated shards.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"
#include "aevb/io/row_reader.hpp"
#include "aevb/train/data_order.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

std::vector<int64_t> whole_order(uint64_t seed, int64_t epoch, int64_t n, const std::string& spec) {
  EpochOrder o(seed, epoch, n, ShuffleSpec::parse(spec));
  std::vector<int64_t> v;
  for (int64_t p = 0; p < n; ++p) v.push_back(o.at(p));
  return v;
}

TEST(DataOrder, GlobalIsTheTrainersPermutation) {
  EXPECT_EQ(whole_order(7, 3, 1001, "global"), permutation(7, 3, 1001));
  EXPECT_EQ(whole_order(7, 3, 50, "none"), [] {
    std::vector<int64_t> v(50);
    for (int64_t i = 0; i < 50; ++i) v[static_cast<size_t>(i)] = i;
    return v;
  }());
}

// Every row once; each window is the rows of W whole blocks (the last block
// short: 1003 = 62 * 16 + 11), permuted inside the window.
TEST(DataOrder, BlocksVisitWholeBlocksWindowByWindow) {
  const int64_t n = 1003, B = 16, W = 4;
  EpochOrder o(5, 2, n, ShuffleSpec::parse("blocks:16,4"));
  std::vector<int64_t> all;
  int64_t p = 0, windows = 0;
  while (p < n) {
    const int64_t end = o.boundary_after(p);
    EXPECT_EQ(o.boundary_at_or_before(p), p);
    std::set<int64_t> blocks;
    std::vector<int64_t> rows;
    for (int64_t q = p; q < end; ++q) {
      rows.push_back(o.at(q));
      blocks.insert(o.at(q) / B);
    }
    EXPECT_LE(blocks.size(), static_cast<size_t>(W));
    int64_t expect = 0;
    for (int64_t b : blocks) expect += std::min(B, n - b * B);
    EXPECT_EQ(static_cast<int64_t>(rows.size()), expect) << "a window holds its blocks whole";
    EXPECT_FALSE(std::is_sorted(rows.begin(), rows.end())) << "rows are shuffled inside the window";
    all.insert(all.end(), rows.begin(), rows.end());
    p = end;
    ++windows;
  }
  EXPECT_EQ(windows, (63 + W - 1) / W);
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(all[static_cast<size_t>(i)], i);
  // A pure function of (seed, epoch): again the same, another epoch differs.
  EXPECT_EQ(whole_order(5, 2, n, "blocks:16,4"), whole_order(5, 2, n, "blocks:16,4"));
  EXPECT_NE(whole_order(5, 2, n, "blocks:16,4"), whole_order(5, 3, n, "blocks:16,4"));
  EXPECT_NE(whole_order(5, 2, n, "blocks:16,4"), whole_order(6, 2, n, "blocks:16,4"));
  // Random access gives what a sequential walk gives (the window cache).
  EpochOrder r(5, 2, n, ShuffleSpec::parse("blocks:16,4"));
  const auto seq = whole_order(5, 2, n, "blocks:16,4");
  for (int64_t q : {900, 3, 517, 1002, 0, 64})
    EXPECT_EQ(r.at(q), seq[static_cast<size_t>(q)]);
}

TEST(DataOrder, ShuffleOptionIsParsedAndNamed) {
  EXPECT_EQ(ShuffleSpec::parse("blocks").to_string(), "blocks:2048,32");
  EXPECT_EQ(ShuffleSpec::parse("blocks:8,2").window_rows(), 16);
  EXPECT_EQ(ShuffleSpec::parse("none").to_string(), "none");
  for (const char* bad : {"", "Global", "blocks:", "blocks:8", "blocks:0,2", "blocks:8,x", "blocks:8,2,1", "rows"}) {
    try {
      ShuffleSpec::parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), kExitUsage);
      EXPECT_NE(std::string(e.what()).find("--shuffle"), std::string::npos) << e.what();
    }
  }
}

class StreamedReads : public ::testing::Test {
 protected:
  void SetUp() override {
    // 300 rows in 3 shards; values identify (row, column).
    write_float_dataset(d / "data", 300, 8, [](int64_t i, int64_t j) { return float(i * 8 + j); }, "none", 3);
  }
  TempDir d;
};

// The vectorized conversion gives the bits of the one-rounding definition
// (v * scale in double, then float) for every byte, at row lengths around the
// vector widths; float rows are scaled the same way.
TEST(StoredToFloat, IsTheTableForEveryByteAndLength) {
  for (double scale : {1.0 / 255, 1.0 / 256, 0.3, 1.0})
    for (int64_t cols : {1, 7, 16, 31, 64, 256, 784, 1000}) {
      RowFormat f;
      f.u8 = true;
      f.cols = cols;
      f.row_bytes = cols;
      f.scale = scale;
      std::vector<uint8_t> row(static_cast<size_t>(cols));
      for (int64_t j = 0; j < cols; ++j) row[static_cast<size_t>(j)] = static_cast<uint8_t>((j * 37 + 11) % 256);
      std::vector<float> out(row.size());
      stored_to_float(f, row.data(), out.data());
      for (int64_t j = 0; j < cols; ++j)
        ASSERT_EQ(out[static_cast<size_t>(j)], static_cast<float>(row[static_cast<size_t>(j)] * scale)) << j;
      f.u8 = false;
      f.row_bytes = 4 * cols;
      std::vector<float> in(row.begin(), row.end()), fl(row.size());
      stored_to_float(f, reinterpret_cast<const uint8_t*>(in.data()), fl.data());
      for (int64_t j = 0; j < cols; ++j) ASSERT_EQ(fl[static_cast<size_t>(j)], static_cast<float>(in[static_cast<size_t>(j)] * scale));
    }
}

TEST_F(StreamedReads, ScatteredAndContiguousReadsMatchLoadRows) {
  const Manifest m = Manifest::load(d / "data");
  RowReader reader(m, "train", {});
  const std::vector<int64_t> rows = {0, 1, 2, 99, 100, 150, 151, 260, 299};
  const int64_t rb = reader.format().row_bytes;
  std::vector<uint8_t> buf(rows.size() * static_cast<size_t>(rb));
  std::vector<uint8_t*> out;
  for (size_t i = 0; i < rows.size(); ++i) out.push_back(buf.data() + i * static_cast<size_t>(rb));
  reader.read(rows.data(), static_cast<int64_t>(rows.size()), out.data());
  const DataMatrix want = load_rows(m, "train", rows, {});
  std::vector<float> x(8);
  for (size_t i = 0; i < rows.size(); ++i) {
    stored_to_float(reader.format(), out[i], x.data());
    for (int j = 0; j < 8; ++j) EXPECT_EQ(x[static_cast<size_t>(j)], want.row(static_cast<int64_t>(i))[j]);
  }
  std::vector<uint8_t> range(static_cast<size_t>(120 * rb));
  reader.read_range(90, 120, range.data());  // crosses a shard boundary
  stored_to_float(reader.format(), range.data() + 30 * rb, x.data());
  EXPECT_EQ(x[3], float(120 * 8 + 3));
  EXPECT_GE(reader.bytes_read(), static_cast<int64_t>(rows.size() + 120) * rb);
}

// The converter's shards carry Fletcher32 checksums: a flipped byte in the
// data is caught by the read itself, named with the file.
TEST_F(StreamedReads, CorruptedChunkIsCaughtByTheRead) {
  const Manifest m = Manifest::load(d / "data");
  const std::string shard = d / "data/train-00001-of-00003.h5";
  {
    h5::Id f = h5::open_file_read(shard);
    EXPECT_TRUE(h5::has_fletcher32(h5::open_dataset(f, "data")));
  }
  // Row 150 is global row 150: its first value 1200.0f, then 1201.0f.
  std::string bytes = slurp(shard);
  const float pattern[2] = {1200.f, 1201.f};
  const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(pattern), sizeof pattern));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] ^= 0x10;
  write_file(shard, bytes, false);
  RowReader reader(m, "train", {});
  std::vector<uint8_t> buf(static_cast<size_t>(reader.format().row_bytes));
  uint8_t* out = buf.data();
  const int64_t ok_row = 10, bad_row = 150;
  reader.read(&ok_row, 1, &out);  // another shard still reads
  try {
    reader.read(&bad_row, 1, &out);
    FAIL() << "the corrupted chunk was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitBadInput);
    EXPECT_NE(std::string(e.what()).find(shard), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("corrupted"), std::string::npos) << e.what();
  }
}

// HDF5 would read the cut-off part of an open file as zeros (which pass the
// checksum): the reader compares the size first.
TEST_F(StreamedReads, ShardTruncatedWhileOpenIsNamed) {
  const Manifest m = Manifest::load(d / "data");
  const std::string shard = d / "data/train-00002-of-00003.h5";
  RowReader reader(m, "train", {});
  std::vector<uint8_t> buf(static_cast<size_t>(reader.format().row_bytes));
  uint8_t* out = buf.data();
  const int64_t row = 250;
  reader.read(&row, 1, &out);  // opens the shard
  std::filesystem::resize_file(shard, std::filesystem::file_size(shard) / 2);
  try {
    reader.read(&row, 1, &out);
    FAIL() << "read a truncated shard";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kExitBadInput);
    EXPECT_NE(std::string(e.what()).find(shard + ": truncated"), std::string::npos) << e.what();
  }
}

// A shard as older aevb-data wrote it (contiguous /data, no Fletcher32):
// its reads are not checksummed, so it is verified whole before training,
// and a changed byte is caught by its data_sha256.
TEST_F(StreamedReads, ShardWithoutChecksumFilterIsVerifiedWhole) {
  const Manifest m = Manifest::load(d / "data");
  const std::string shard = d / "data/train-00001-of-00003.h5";
  EXPECT_FALSE(check_shard_for_streaming(m, "train", 1, {}));  // Fletcher32: checked by the reads
  auto rewrite = [&](float delta) {
    h5::Id f = h5::open_file_rw(shard);
    h5::Array<float> a = h5::read_dataset<float>(f, "data");
    a.data[5] += delta;
    ASSERT_GE(H5Ldelete(f, "data", H5P_DEFAULT), 0);
    h5::write_dataset<float>(f, "data", a.data.data(), a.dims);  // contiguous, no filter
  };
  rewrite(0.f);
  {
    h5::Id f = h5::open_file_read(shard);
    EXPECT_FALSE(h5::has_fletcher32(h5::open_dataset(f, "data")));
  }
  EXPECT_TRUE(check_shard_for_streaming(m, "train", 1, {}));  // verified, and intact
  rewrite(1.f);
  try {
    check_shard_for_streaming(m, "train", 1, {});
    FAIL() << "a changed value passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hashes to"), std::string::npos) << e.what();
  }
}

// Held as stored when it fits, read per pass when not: the same chunks.
TEST_F(StreamedReads, RowRangeGivesTheSameChunksCachedOrNot) {
  const Manifest m = Manifest::load(d / "data");
  RowRange cached(m, "train", {}, 40, 260, 1 << 20), streamed(m, "train", {}, 40, 260, 100);
  EXPECT_TRUE(cached.cached());
  EXPECT_FALSE(streamed.cached());
  std::vector<float> a, b;
  std::vector<int64_t> ga, gb;
  cached.for_each(64, [&](DataMatrix& c) {
    a.insert(a.end(), c.x.begin(), c.x.end());
    ga.insert(ga.end(), c.global_index.begin(), c.global_index.end());
  });
  streamed.for_each(64, [&](DataMatrix& c) {
    b.insert(b.end(), c.x.begin(), c.x.end());
    gb.insert(gb.end(), c.global_index.begin(), c.global_index.end());
  });
  EXPECT_EQ(a, b);
  EXPECT_EQ(ga, gb);
  ASSERT_EQ(ga.size(), 220u);
  EXPECT_EQ(ga.front(), 40);
  EXPECT_EQ(a[8], float(41 * 8));
}

}  // namespace
}  // namespace aevb::testing
