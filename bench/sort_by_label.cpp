// Copies a dataset with its training split stored sorted by label (stable;
// the test split as is): the worst case for a data order that shuffles only
// locally, used by bench/shuffle_quality.sh.
//
//   aevb_bench_sort_by_label IN OUT [TRAIN_SPLIT]
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "aevb/base/error.hpp"
#include "aevb/io/row_reader.hpp"
#include "aevb/io/shard_writer.hpp"

int main(int argc, char** argv) {
  using namespace aevb;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s IN OUT [TRAIN_SPLIT]\n", argv[0]);
    return 2;
  }
  const std::string train = argc > 3 ? argv[3] : "train";
  try {
    const Manifest in = Manifest::load(argv[1]);
    DatasetWriter w(argv[2], in.name + "-sorted-by-label", "aevb_bench_sort_by_label", true);
    for (const auto& [name, sp] : in.splits) {
      if (!sp.has_labels || sp.dtype != "uint8") throw input_error(name + ": needs uint8 rows with labels");
      RowReader r(in, name, {});
      const int64_t rb = r.format().row_bytes;
      std::vector<uint8_t> x(static_cast<size_t>(sp.rows * rb));
      std::vector<int64_t> labels(static_cast<size_t>(sp.rows));
      r.read_range(0, sp.rows, x.data());
      r.read_labels(0, sp.rows, labels.data());
      std::vector<int64_t> order(static_cast<size_t>(sp.rows));
      std::iota(order.begin(), order.end(), int64_t{0});
      if (name == train)
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return labels[a] < labels[b]; });
      std::vector<uint8_t> xs(x.size());
      std::vector<uint8_t> ls(labels.size());
      for (size_t i = 0; i < order.size(); ++i) {
        std::copy_n(x.begin() + order[i] * rb, rb, xs.begin() + static_cast<int64_t>(i) * rb);
        ls[i] = static_cast<uint8_t>(labels[static_cast<size_t>(order[i])]);
      }
      SplitSpec s;
      s.name = name;
      s.dtype = h5::DType::uint8;
      s.row_shape = sp.row_shape;
      s.rows = sp.rows;
      s.scale = sp.scale;
      s.value_range = {0, 255};
      s.value_meaning = "grey level (copied from " + in.dir + ")";
      s.binarization = sp.binarization;
      s.binarization_seed = sp.binarization_seed;
      s.labels = h5::DType::uint8;
      w.begin_split(s);
      w.add_rows(xs.data(), ls.data(), sp.rows);
      w.end_split();
    }
    w.commit();
  } catch (const Error& e) {
    std::fprintf(stderr, "aevb_bench_sort_by_label: %s\n", e.what());
    return e.code();
  }
  return 0;
}
