// The flat parameter buffer's table of contents.
//
// All parameters live in ONE contiguous float buffer and all gradients in another
// of the same layout, so that the gradient exchange is one allreduce, the update
// one optimizer loop and a checkpoint one dataset, whatever the architecture.
// Layers hold offsets into it. Blocks are registered in forward order (encoder,
// then decoder) and padded to 16 floats so every block starts on a 64-byte
// boundary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aevb {

struct ParamBlock {
  std::string name;  // e.g. "encoder.0.W"
  int64_t offset = 0;
  int64_t rows = 0;  // W: fan-in; bias: 1
  int64_t cols = 0;  // fan-out
  int64_t size() const { return rows * cols; }
};

class ParamLayout {
 public:
  // Registers a block and returns its offset.
  int64_t add(const std::string& name, int64_t rows, int64_t cols) {
    ParamBlock b{name, total_, rows, cols};
    blocks_.push_back(b);
    total_ += (b.size() + 15) / 16 * 16;
    return b.offset;
  }
  int64_t total() const { return total_; }
  const std::vector<ParamBlock>& blocks() const { return blocks_; }

 private:
  std::vector<ParamBlock> blocks_;
  int64_t total_ = 0;
};

}  // namespace aevb
