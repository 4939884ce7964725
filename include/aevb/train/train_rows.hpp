// This rank's rows of each training step, from a split of any size, with the
// memory per rank bounded by --memory-budget (docs/memory.md).
//
// The global minibatch of step s of an epoch is positions [s*M, s*M + M) of
// the epoch's order (data_order.hpp); rank r takes part_of(s*M, M, r, P). How
// the rows get there depends on the budget, never the rows themselves:
//
//   resident  the split as stored (uint8 stays uint8) fits in half the
//             budget: every rank holds all of it, read once at start (each
//             rank reads 1/P of it, an allgather shares the rest).
//   streamed  a reader thread prepares "units" of the order ahead of the
//             steps (up to five): a range of positions of about P x budget/8
//             bytes of rows (whole windows of a block order). The unit's rows, sorted by
//             global index, are split over the ranks: each rank reads its
//             share in large reads, then one all-to-all moves every row to
//             the rank whose slice of a step uses it. So, summed over ranks,
//             each row is read once per epoch. Units switch at steps that
//             every rank derives alike, where every rank waits for its own
//             read, the ranks agree on read errors, and the all-to-all runs.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aevb/base/watchdog.hpp"
#include "aevb/dist/mpi_comm.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/row_reader.hpp"
#include "aevb/train/data_order.hpp"

namespace aevb {

// Bytes of rows, not zero-filled when sized (every byte is then written by a
// read or an exchange): a unit's buffer is 1/8 of the budget.
struct RowBuffer {
  std::unique_ptr<uint8_t[]> bytes;
  size_t size = 0;
  uint8_t* data() { return bytes.get(); }
  const uint8_t* data() const { return bytes.get(); }
};

// This rank's slice of one step, rows in their stored dtype.
struct StepRows {
  std::vector<const uint8_t*> row;
  std::vector<int64_t> global_index;
  int64_t size() const { return static_cast<int64_t>(row.size()); }
};

struct TrainRowsSetup {
  const Manifest& manifest;
  std::string split;
  ValidateOptions validate;
  int64_t n = 0;                // N: rows used (the first N of the split)
  int64_t batch = 0;            // M, the global minibatch
  int64_t steps_per_epoch = 0;  // S: full minibatches per epoch
  int64_t total_steps = 0;      // the run ends before this global step
  int64_t first_step = 0;       // where this run starts (a resume starts mid-epoch)
  uint64_t seed = 0;
  ShuffleSpec shuffle;
  int64_t budget_bytes = 0;     // --memory-budget
  Watchdog* watchdog = nullptr;
};

class TrainRows {
 public:
  // usage_error if a window of the block order cannot fit the budget.
  TrainRows(const TrainRowsSetup& s, const MpiComm& comm);
  ~TrainRows();
  TrainRows(const TrainRows&) = delete;
  TrainRows& operator=(const TrainRows&) = delete;

  const RowFormat& format() const { return reader_.format(); }
  bool resident() const { return resident_; }
  int64_t unit_rows() const { return unit_rows_; }  // streamed: target rows per unit (all ranks)

  // This rank's rows of global step `step`. Steps come in increasing order,
  // one after another. A read error on any rank ends every rank (CollectiveExit
  // naming the shard) at the step whose rows it concerns.
  const StepRows& rows(int64_t step);

  double wait_seconds() const { return wait_seconds_; }  // blocked waiting for rows
  int64_t bytes_read() const { return bytes_read_; }     // by this rank's reads

 private:
  struct Unit;
  void load_resident();
  void switch_unit(int64_t step);  // agreed: every rank calls it at the same step
  void reader_loop();
  void prepare(Unit& u, EpochOrder& order);  // the reader thread: plan and read one unit
  std::pair<int64_t, int64_t> next_range(int64_t epoch, int64_t a, EpochOrder& order, bool first) const;
  // Unit buffers (all of one size) are recycled: fresh ones would be
  // page-faulted in for every unit, on the compute's cores.
  RowBuffer take_buffer(size_t bytes);
  void give_buffer(RowBuffer&& b);
  int64_t epoch_positions(int64_t epoch) const;

  TrainRowsSetup s_;
  const MpiComm& comm_;
  RowReader reader_;  // the reader thread's (resident: the main thread's, at start)
  bool resident_ = false;
  int64_t unit_rows_ = 0;
  std::vector<int64_t> rank_start_;  // rank r's slice of a step starts at offset rank_start_[r]

  // resident mode
  std::vector<uint8_t> all_;
  std::unique_ptr<EpochOrder> order_;
  int64_t order_epoch_ = -1;

  // streamed mode: units in order; the front ones are in use by the main thread
  std::deque<std::unique_ptr<Unit>> alive_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Unit>> ready_;  // prepared by the reader, not yet switched to
  std::vector<RowBuffer> spare_;  // buffers of released units (never more than were in use at once)
  int64_t released_ = 0, prepared_ = 0;      // units freed by the main thread / started by the reader
  bool stop_ = false, reader_done_ = false;
  std::thread thread_;

  StepRows out_;
  double wait_seconds_ = 0;
  std::atomic<int64_t> bytes_read_{0};
};

}  // namespace aevb
