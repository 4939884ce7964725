// Dataset shards: a valid 2-split-free dataset (5 rows of 2 x 3 uint8, labels)
// written once by DatasetWriter; per input the shard gets the input's edits
// (h5_mutate.hpp), then verify_shard_file, load_split and load_rows read it.
#include <hdf5.h>

#include "aevb/base/error.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/shard_writer.hpp"
#include "h5_mutate.hpp"

namespace {

struct Setup {
  std::string dir, shard, pristine;
  aevb::fuzz::H5Names names;
  Setup() {
    aevb::h5::quiet();
    // HDF5 callocs a large metadata cache per open file; under ASan every such
    // allocation is a fresh mmap (page faults dominated, ~60 exec/s). Unlimited
    // free lists let HDF5 reuse its blocks: same code paths, far faster.
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    dir = aevb::fuzz::scratch_dir() + "/ds";
    aevb::DatasetWriter w(dir, "fz", "fuzz", true);
    aevb::SplitSpec s;
    s.name = "train";
    s.dtype = aevb::h5::DType::uint8;
    s.row_shape = {2, 3};
    s.rows = 5;
    s.value_range = {0, 255};
    s.scale = 1.0 / 255;
    s.value_meaning = "fuzz";
    s.labels = aevb::h5::DType::uint8;
    w.begin_split(s);
    uint8_t px[30], lb[5] = {0, 1, 2, 3, 4};
    for (int i = 0; i < 30; ++i) px[i] = static_cast<uint8_t>(i * 8);
    w.add_rows(px, lb, 5);
    w.end_split();
    const aevb::Manifest m = w.commit();
    shard = m.path_of(m.split("train").shards[0]);
    pristine = aevb::fuzz::scratch_dir() + "/pristine-shard.h5";
    std::filesystem::copy_file(shard, pristine, std::filesystem::copy_options::overwrite_existing);
    names = aevb::fuzz::list_h5(pristine);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup s;
  aevb::fuzz::mutate_copy(s.pristine, s.shard, s.names, {data, size});
  aevb::fuzz::expect_clean([&] { aevb::verify_shard_file(s.shard); });
  aevb::fuzz::expect_clean([&] {
    const aevb::Manifest m = aevb::Manifest::load(s.dir);
    aevb::load_split(m, "train", {.require_unit_interval = true});
  });
  aevb::fuzz::expect_clean([&] { aevb::load_rows(aevb::Manifest::load(s.dir), "train", {1, 3}, {}); });
  return 0;
}
