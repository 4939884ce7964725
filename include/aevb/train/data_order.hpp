// The order in which an epoch visits the training rows: a pure function of
// (seed, epoch, N, --shuffle), never of the memory budget, the rank count or
// the node, so runs reproduce on any layout and resumes give the same bits.
//
//   global      a uniformly random permutation of all N rows (Fisher-Yates
//               keyed by (seed, kPermutation, epoch)); the exact order of
//               aevb-train before streaming existed. 4 bytes per row in memory.
//   blocks:B,W  rows are cut into blocks of B contiguous rows; the blocks are
//               permuted (keyed by (seed, kBlockOrder, epoch)); consecutive
//               groups of W permuted blocks form windows, and the rows of each
//               window are permuted among themselves (keyed by (seed,
//               kWindowOrder, epoch, window)). Reads are whole blocks (large
//               sequential reads) and the prefetcher works window by window.
//   none        row order 0, 1, ..., N-1 every epoch (a control: no shuffle).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aevb {

struct ShuffleSpec {
  enum class Kind { kGlobal, kBlocks, kNone };
  Kind kind = Kind::kGlobal;
  int64_t block_rows = 0, window_blocks = 0;  // kBlocks only

  // "global" | "blocks" (= blocks:2048,32) | "blocks:B,W" | "none"; usage_error
  // naming --shuffle otherwise.
  static ShuffleSpec parse(const std::string& text);
  std::string to_string() const;  // canonical: "global", "blocks:B,W" or "none"
  int64_t window_rows() const { return block_rows * window_blocks; }
};

class EpochOrder {
 public:
  // usage_error if the order cannot be formed (more than 2^24 windows).
  EpochOrder(uint64_t seed, int64_t epoch, int64_t n, const ShuffleSpec& spec);
  int64_t size() const { return n_; }
  // The global row at position p (0 <= p < n) of the epoch. Not const: a
  // block order caches the permutation of the window it last looked into.
  int64_t at(int64_t p);
  // Window boundaries: units of prefetching start and end there when they can,
  // so that a window is read whole. For global and none every position is one.
  int64_t boundary_at_or_before(int64_t p) const;
  int64_t boundary_after(int64_t p) const;  // the smallest boundary > p (or n)

 private:
  void enter_window(int64_t w);
  uint64_t seed_;
  int64_t epoch_, n_;
  ShuffleSpec spec_;
  std::vector<uint32_t> perm_;         // global: the permutation; blocks: the block order
  std::vector<int64_t> window_start_;  // blocks: first position of each window, then n
  int64_t window_ = -1;                // blocks: the window cached below
  std::vector<uint32_t> in_window_;    // its row permutation
  std::vector<int64_t> block_start_;   // its blocks' first positions inside the window, then its size
};

}  // namespace aevb
