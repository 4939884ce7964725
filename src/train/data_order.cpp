#include "aevb/train/data_order.hpp"

#include <algorithm>

#include "aevb/base/error.hpp"
#include "aevb/base/rng.hpp"

namespace aevb {
namespace {

constexpr int64_t kDefaultBlockRows = 2048, kDefaultWindowBlocks = 32;
constexpr int64_t kMaxWindows = int64_t{1} << 24;  // the window number is the 24-bit `sample` of the noise key

int64_t parse_positive(const std::string& text, const std::string& what, const std::string& whole) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < 1 || v > (int64_t{1} << 31))
    throw usage_error("--shuffle " + whole + ": " + what + " '" + text + "' must be an integer in [1, 2^31]");
  return v;
}

}  // namespace

ShuffleSpec ShuffleSpec::parse(const std::string& text) {
  ShuffleSpec s;
  if (text == "global") return s;
  if (text == "none") {
    s.kind = Kind::kNone;
    return s;
  }
  if (text == "blocks" || text.rfind("blocks:", 0) == 0) {
    s.kind = Kind::kBlocks;
    s.block_rows = kDefaultBlockRows;
    s.window_blocks = kDefaultWindowBlocks;
    if (text == "blocks") return s;
    const std::string args = text.substr(7);
    const size_t comma = args.find(',');
    if (comma == std::string::npos)
      throw usage_error("--shuffle " + text + ": expected blocks:B,W (B rows per block, W blocks per window)");
    s.block_rows = parse_positive(args.substr(0, comma), "B (rows per block)", text);
    s.window_blocks = parse_positive(args.substr(comma + 1), "W (blocks per window)", text);
    return s;
  }
  throw usage_error("--shuffle '" + text + "': expected global, blocks, blocks:B,W or none");
}

std::string ShuffleSpec::to_string() const {
  switch (kind) {
    case Kind::kGlobal: return "global";
    case Kind::kNone: return "none";
    case Kind::kBlocks: break;
  }
  return "blocks:" + std::to_string(block_rows) + "," + std::to_string(window_blocks);
}

EpochOrder::EpochOrder(uint64_t seed, int64_t epoch, int64_t n, const ShuffleSpec& spec)
    : seed_(seed), epoch_(epoch), n_(n), spec_(spec) {
  const uint64_t e = static_cast<uint64_t>(epoch);
  if (spec.kind == ShuffleSpec::Kind::kGlobal) {
    permutation32({seed, Purpose::kPermutation, e, 0, 0}, n, perm_);
  } else if (spec.kind == ShuffleSpec::Kind::kBlocks) {
    const int64_t B = spec.block_rows, W = spec.window_blocks;
    const int64_t blocks = (n + B - 1) / B, windows = (blocks + W - 1) / W;
    if (windows > kMaxWindows)
      throw usage_error("--shuffle " + spec.to_string() + ": " + std::to_string(n) + " rows make " +
                        std::to_string(windows) + " windows, more than 2^24; use larger blocks or windows");
    permutation32({seed, Purpose::kBlockOrder, e, 0, 0}, blocks, perm_);
    // Every block has B rows but the last one, which lands in some window:
    // windows are located by their first positions.
    window_start_.assign(static_cast<size_t>(windows + 1), 0);
    for (int64_t k = 0; k < blocks; ++k) {
      const int64_t b = perm_[static_cast<size_t>(k)];
      window_start_[static_cast<size_t>(k / W + 1)] += std::min(B, n - b * B);
    }
    for (int64_t w = 0; w < windows; ++w) window_start_[static_cast<size_t>(w + 1)] += window_start_[static_cast<size_t>(w)];
  }
}

void EpochOrder::enter_window(int64_t w) {
  const int64_t B = spec_.block_rows, W = spec_.window_blocks;
  const int64_t first = w * W, last = std::min<int64_t>(first + W, static_cast<int64_t>(perm_.size()));
  block_start_.assign(1, 0);
  for (int64_t k = first; k < last; ++k)
    block_start_.push_back(block_start_.back() + std::min(B, n_ - int64_t{perm_[static_cast<size_t>(k)]} * B));
  permutation32({seed_, Purpose::kWindowOrder, static_cast<uint64_t>(epoch_), 0, static_cast<uint32_t>(w)},
                block_start_.back(), in_window_);
  window_ = w;
}

int64_t EpochOrder::at(int64_t p) {
  switch (spec_.kind) {
    case ShuffleSpec::Kind::kGlobal: return perm_[static_cast<size_t>(p)];
    case ShuffleSpec::Kind::kNone: return p;
    case ShuffleSpec::Kind::kBlocks: break;
  }
  if (window_ < 0 || p < window_start_[static_cast<size_t>(window_)] ||
      p >= window_start_[static_cast<size_t>(window_ + 1)])
    enter_window((std::upper_bound(window_start_.begin(), window_start_.end(), p) - window_start_.begin()) - 1);
  const int64_t q = in_window_[static_cast<size_t>(p - window_start_[static_cast<size_t>(window_)])];
  const size_t j = static_cast<size_t>(std::upper_bound(block_start_.begin(), block_start_.end(), q) -
                                       block_start_.begin() - 1);
  const int64_t block = perm_[static_cast<size_t>(window_ * spec_.window_blocks) + j];
  return block * spec_.block_rows + (q - block_start_[j]);
}

int64_t EpochOrder::boundary_at_or_before(int64_t p) const {
  if (spec_.kind != ShuffleSpec::Kind::kBlocks) return p;
  return *(std::upper_bound(window_start_.begin(), window_start_.end(), p) - 1);
}

int64_t EpochOrder::boundary_after(int64_t p) const {
  if (spec_.kind != ShuffleSpec::Kind::kBlocks) return std::min(p + 1, n_);
  const auto it = std::upper_bound(window_start_.begin(), window_start_.end(), p);
  return it == window_start_.end() ? n_ : *it;
}

}  // namespace aevb
