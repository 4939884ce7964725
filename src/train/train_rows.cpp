#include "aevb/train/train_rows.hpp"

#include <algorithm>
#include <climits>
#include <numeric>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aevb/base/clock.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/partition.hpp"

namespace aevb {
namespace {
constexpr const char* kTool = "aevb-train";
// A unit holds an eighth of the budget (per rank); the reader may have up to
// kAhead units prepared or in use, so with the receive buffer of the one being
// exchanged at most 6/8 of the budget holds rows. Small units keep the
// reader ahead from the start (it reads the next while one is used).
constexpr int64_t kUnitShare = 8, kAhead = 5;
std::string mib(int64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }
}  // namespace

struct TrainRows::Unit {
  int64_t epoch = 0, a = 0, b = 0;  // positions [a, b) of the epoch's order
  RowBuffer send, recv;  // rows this rank read (grouped by the rank that uses them) / uses
  std::vector<int> send_counts, send_displs, recv_counts, recv_displs;  // in rows
  std::vector<int64_t> slot;    // the k-th row this rank uses is row slot[k] of recv
  std::vector<int64_t> global;  // and has this global index
  size_t next = 0;              // rows used so far
  std::exception_ptr error;     // from the read; agreed on before the exchange
};

TrainRows::TrainRows(const TrainRowsSetup& s, const MpiComm& comm)
    : s_(s), comm_(comm), reader_(s.manifest, s.split, s.validate) {
  const int P = comm.size();
  const int64_t rb = format().row_bytes;
  if (rb > INT_MAX) throw input_error(s.split + ": rows of " + std::to_string(rb) + " bytes are too large to stream");
  for (int r = 0; r <= P; ++r) rank_start_.push_back(s.batch * r / P);
  resident_ = s.n * rb <= s.budget_bytes / 2 && s.n < INT_MAX;
  unit_rows_ = P * std::max<int64_t>(1, s.budget_bytes / kUnitShare / rb);
  if (!resident_ && s.shuffle.kind == ShuffleSpec::Kind::kBlocks && s.shuffle.window_rows() > unit_rows_)
    throw usage_error("--shuffle " + s.shuffle.to_string() + ": a window of " + std::to_string(s.shuffle.window_rows()) +
                      " rows (" + mib(s.shuffle.window_rows() * rb / P) + " per rank) does not fit an eighth of " +
                      "--memory-budget " + mib(s.budget_bytes) + "; raise the budget to at least " +
                      mib(kUnitShare * s.shuffle.window_rows() * rb / P) + " or use smaller blocks or windows");
  EpochOrder check(s.seed, 0, s.shuffle.kind == ShuffleSpec::Kind::kGlobal ? 0 : s.n, s.shuffle);  // usage_error if malformed
  // Shards whose reads are not checksummed (no Fletcher32 filter) are
  // verified whole before training, each by one rank.
  collectively(comm, kTool, [&] {
    for (size_t i = static_cast<size_t>(comm.rank()); i < s.manifest.split(s.split).shards.size();
         i += static_cast<size_t>(P))
      check_shard_for_streaming(s.manifest, s.split, i, s.validate);
  });
  if (resident_) load_resident();
  // After the rows are checked (a bad file is the more basic error). One
  // smaller batch per epoch is not what --batch asked for.
  if (s.batch > s.n)
    throw usage_error("--batch " + std::to_string(s.batch) + ": larger than the " + std::to_string(s.n) +
                      " training rows of split '" + s.split + "' of " + s.manifest.dir + "; use --batch " +
                      std::to_string(s.n) + " or less");
  if (!resident_) thread_ = std::thread([this] { reader_loop(); });
}

TrainRows::~TrainRows() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();  // a read in progress finishes first
}

// Every rank reads 1/P of the rows; the allgather gives every rank all of them.
void TrainRows::load_resident() {
  const int P = comm_.size();
  const int64_t rb = format().row_bytes;
  all_.resize(static_cast<size_t>(s_.n * rb));
  std::vector<int> counts, displs;
  for (int r = 0; r < P; ++r) {
    const Range part = part_of(0, s_.n, r, P);
    counts.push_back(static_cast<int>(part.size()));
    displs.push_back(static_cast<int>(part.lo));
  }
  const Range mine = part_of(0, s_.n, comm_.rank(), P);
  collectively(comm_, kTool, [&] { reader_.read_range(mine.lo, mine.size(), all_.data() + mine.lo * rb); });
  bytes_read_ = reader_.bytes_read();
  comm_.allgatherv_rows(all_.data(), counts, displs, rb);
}

int64_t TrainRows::epoch_positions(int64_t epoch) const {
  return std::min(s_.steps_per_epoch, s_.total_steps - epoch * s_.steps_per_epoch) * s_.batch;
}

// Buffers of released units are kept and reused: a fresh one would be
// page-faulted in on the compute's cores at every unit (0.5 s per 128 MB unit
// at 2 ranks, measured, against 0.08 s for the exchange itself). At most
// kAhead + 1 exist at once, so keeping them stays within the budget.
RowBuffer TrainRows::take_buffer(size_t bytes) {
  RowBuffer b;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto best = std::max_element(spare_.begin(), spare_.end(),
                                 [](const RowBuffer& x, const RowBuffer& y) { return x.size < y.size; });
    if (best != spare_.end()) {
      b = std::move(*best);
      spare_.erase(best);
    }
  }
  // All of one size, the most a rank reads or uses of any unit (a unit has
  // at most unit_rows_ rows; a rank's share of each step's slice differs from
  // M/P by at most one row), so every spare fits every later unit.
  const size_t cap = std::max(bytes, static_cast<size_t>((unit_rows_ / comm_.size() + unit_rows_ / s_.batch + 2) *
                                                         format().row_bytes));
  if (b.size < bytes) b = RowBuffer{std::unique_ptr<uint8_t[]>(new uint8_t[cap]), cap};
  return b;
}

void TrainRows::give_buffer(RowBuffer&& b) {
  if (!b.bytes) return;
  std::lock_guard<std::mutex> l(mu_);
  spare_.push_back(std::move(b));
}

// Units end at window boundaries when they can, so that windows are read
// whole. A run's first unit is an eighth of the others: the first step waits
// for it alone, and the prefetcher is ahead from then on.
std::pair<int64_t, int64_t> TrainRows::next_range(int64_t epoch, int64_t a, EpochOrder& order, bool first) const {
  const int64_t end = epoch_positions(epoch), target = a + (first ? std::max<int64_t>(1, unit_rows_ / 8) : unit_rows_);
  if (target >= end) return {a, end};
  int64_t b = order.boundary_at_or_before(target);
  if (b <= a) b = order.boundary_after(a);
  return {a, std::min(b, end)};
}

void TrainRows::reader_loop() {
  // The reader needs a few % of a core; at a lower priority it takes them
  // when the compute threads wait, instead of preempting one mid-step (with
  // one rank per core a preempted rank stalls every rank at the allreduce).
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  pthread_setname_np(pthread_self(), "aevb-reader");  // as top -H and perf name it
  int64_t epoch = s_.first_step / s_.steps_per_epoch;
  int64_t a = (s_.first_step % s_.steps_per_epoch) * s_.batch;
  std::unique_ptr<EpochOrder> order;
  bool first = true;
  while (epoch * s_.steps_per_epoch < s_.total_steps) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || prepared_ < released_ + kAhead; });
      if (stop_) return;
    }
    auto u = std::make_unique<Unit>();
    u->epoch = epoch;
    try {
      if (!order) order = std::make_unique<EpochOrder>(s_.seed, epoch, s_.n, s_.shuffle);
      std::tie(u->a, u->b) = next_range(epoch, a, *order, first);
      first = false;
      prepare(*u, *order);
    } catch (...) {
      u->error = std::current_exception();
      if (u->b <= u->a) u->b = epoch_positions(epoch);  // keep the sequence going
    }
    a = u->b;
    const bool epoch_done = a >= epoch_positions(epoch);
    {
      std::lock_guard<std::mutex> l(mu_);
      ready_.push_back(std::move(u));
      ++prepared_;
    }
    cv_.notify_all();
    if (epoch_done) {
      ++epoch, a = 0;
      order.reset();
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  reader_done_ = true;
  cv_.notify_all();
}

// The unit's plan, which every rank derives alike: its rows sorted by global
// index are split over the ranks in P contiguous parts (each rank reads one);
// each row goes to the rank whose step slice holds its position, and every
// rank-to-rank group keeps position order, which is the order of use.
void TrainRows::prepare(Unit& u, EpochOrder& order) {
  const int P = comm_.size(), me = comm_.rank();
  const int64_t U = u.b - u.a, M = s_.batch, rb = format().row_bytes;
  std::vector<uint32_t> g(static_cast<size_t>(U)), ord(static_cast<size_t>(U)), reader(static_cast<size_t>(U));
  for (int64_t i = 0; i < U; ++i) g[static_cast<size_t>(i)] = static_cast<uint32_t>(order.at(u.a + i));
  std::iota(ord.begin(), ord.end(), 0u);
  std::sort(ord.begin(), ord.end(), [&](uint32_t x, uint32_t y) { return g[x] < g[y]; });
  for (int q = 0; q < P; ++q)
    for (int64_t j = U * q / P; j < U * (q + 1) / P; ++j) reader[ord[static_cast<size_t>(j)]] = static_cast<uint32_t>(q);
  const auto consumer = [&](int64_t i) {
    const int64_t o = (u.a + i) % M;
    return static_cast<int>(std::upper_bound(rank_start_.begin(), rank_start_.end(), o) - rank_start_.begin()) - 1;
  };
  u.send_counts.assign(static_cast<size_t>(P), 0);
  u.recv_counts.assign(static_cast<size_t>(P), 0);
  for (int64_t i = 0; i < U; ++i) {
    const int q = static_cast<int>(reader[static_cast<size_t>(i)]), c = consumer(i);
    if (q == me) ++u.send_counts[static_cast<size_t>(c)];
    if (c == me) ++u.recv_counts[static_cast<size_t>(q)];
  }
  u.send_displs.assign(static_cast<size_t>(P), 0);
  u.recv_displs.assign(static_cast<size_t>(P), 0);
  for (int r = 1; r < P; ++r) {
    u.send_displs[static_cast<size_t>(r)] = u.send_displs[static_cast<size_t>(r - 1)] + u.send_counts[static_cast<size_t>(r - 1)];
    u.recv_displs[static_cast<size_t>(r)] = u.recv_displs[static_cast<size_t>(r - 1)] + u.recv_counts[static_cast<size_t>(r - 1)];
  }
  // Slots: where each row this rank reads goes in its send buffer; where each
  // row it uses sits in its receive buffer.
  std::vector<int> sent(static_cast<size_t>(P), 0), got(static_cast<size_t>(P), 0);
  std::vector<uint32_t> send_slot(static_cast<size_t>(U));
  for (int64_t i = 0; i < U; ++i) {
    const size_t q = reader[static_cast<size_t>(i)], c = static_cast<size_t>(consumer(i));
    if (static_cast<int>(q) == me) send_slot[static_cast<size_t>(i)] = static_cast<uint32_t>(u.send_displs[c] + sent[c]++);
    if (static_cast<int>(c) == me) {
      u.slot.push_back(u.recv_displs[q] + got[q]++);
      u.global.push_back(g[static_cast<size_t>(i)]);
    }
  }
  const int64_t lo = U * me / P, hi = U * (me + 1) / P;
  u.send = take_buffer(static_cast<size_t>((hi - lo) * rb));
  std::vector<int64_t> rows(static_cast<size_t>(hi - lo));
  std::vector<uint8_t*> dst(static_cast<size_t>(hi - lo));
  for (int64_t j = lo; j < hi; ++j) {
    const uint32_t i = ord[static_cast<size_t>(j)];
    rows[static_cast<size_t>(j - lo)] = g[i];
    dst[static_cast<size_t>(j - lo)] = u.send.data() + int64_t{send_slot[i]} * rb;
  }
  reader_.read(rows.data(), hi - lo, dst.data());
  bytes_read_ = reader_.bytes_read();
}

// Called by every rank at the same step (the first one that reaches past the
// last unit), so the agreement and the all-to-all below match up.
void TrainRows::switch_unit(int64_t step) {
  const double t0 = now_s();
  if (s_.watchdog) s_.watchdog->phase("waiting for the data reader's next rows", false, step);
  std::unique_ptr<Unit> u;
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !ready_.empty() || reader_done_; });
    if (ready_.empty()) throw Error(kExitInternal, "the data reader ended before step " + std::to_string(step));
    u = std::move(ready_.front());
    ready_.pop_front();
  }
  if (s_.watchdog) s_.watchdog->phase("exchanging rows (waiting for the other ranks)", true, step);
  collectively(comm_, kTool, [&] {
    if (u->error) std::rethrow_exception(u->error);
  });
  if (comm_.size() > 1) {
    u->recv = take_buffer(u->slot.size() * static_cast<size_t>(format().row_bytes));
    comm_.alltoallv_rows(u->send.data(), u->send_counts, u->send_displs, u->recv.data(), u->recv_counts,
                         u->recv_displs, format().row_bytes);
    give_buffer(std::move(u->send));
  } else {
    std::swap(u->recv, u->send);
  }
  alive_.push_back(std::move(u));
  wait_seconds_ += now_s() - t0;
}

const StepRows& TrainRows::rows(int64_t step) {
  const int64_t e = step / s_.steps_per_epoch, begin = (step % s_.steps_per_epoch) * s_.batch;
  const int r = comm_.rank();
  const int64_t lo = begin + rank_start_[static_cast<size_t>(r)], hi = begin + rank_start_[static_cast<size_t>(r + 1)];
  const int64_t rb = format().row_bytes;
  out_.row.clear();
  out_.global_index.clear();
  if (resident_) {
    if (!order_ || order_epoch_ != e) order_ = std::make_unique<EpochOrder>(s_.seed, e, s_.n, s_.shuffle);
    order_epoch_ = e;
    for (int64_t p = lo; p < hi; ++p) {
      const int64_t g = order_->at(p);
      out_.row.push_back(all_.data() + g * rb);
      out_.global_index.push_back(g);
    }
    return out_;
  }
  // Units this step no longer touches are freed; the reader may then go on.
  while (!alive_.empty() && (alive_.front()->epoch < e || alive_.front()->b <= begin)) {
    give_buffer(std::move(alive_.front()->recv));
    alive_.pop_front();
    {
      std::lock_guard<std::mutex> l(mu_);
      ++released_;
    }
    cv_.notify_all();
  }
  while (alive_.empty() || alive_.back()->epoch < e || alive_.back()->b < begin + s_.batch) switch_unit(step);
  for (int64_t p = lo; p < hi; ++p) {
    auto it = std::find_if(alive_.begin(), alive_.end(), [&](const auto& u) { return u->epoch == e && p < u->b; });
    Unit& u = **it;
    out_.row.push_back(u.recv.data() + u.slot[u.next] * rb);
    out_.global_index.push_back(u.global[u.next]);
    ++u.next;
  }
  return out_;
}

}  // namespace aevb
