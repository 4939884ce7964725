#include "aevb/dist/gradient_reduction.hpp"

namespace aevb {
namespace {

class AllreduceReduction final : public GradientReduction {
 public:
  AllreduceReduction(const MpiComm& comm, bool overlap) : comm_(comm), overlap_(overlap) {}

  void tail_ready(float* buf, int64_t from, int64_t n) override {
    from_ = from;
    if (overlap_) tail_req_ = comm_.iallreduce_sum(buf + from, n - from);
  }

  void finish(float* buf, int64_t n) override {
    const double t0 = MpiComm::wtime();
    if (overlap_ && from_ >= 0) {
      comm_.allreduce_sum(buf, from_);
      MpiComm::wait(tail_req_);
    } else {
      comm_.allreduce_sum(buf, n);  // also when no tail was started this step
    }
    from_ = -1;
    blocked_s_ += MpiComm::wtime() - t0;
  }

 private:
  const MpiComm& comm_;
  bool overlap_;
  int64_t from_ = -1;  // start of the tail in flight this step; -1: none
  MPI_Request tail_req_ = MPI_REQUEST_NULL;
};

}  // namespace

std::unique_ptr<GradientReduction> make_allreduce_reduction(const MpiComm& comm, bool overlap) {
  return std::make_unique<AllreduceReduction>(comm, overlap);
}

}  // namespace aevb
