// The few MPI operations aevb uses, wrapped so the training loop reads as math.
//
// Failure policy (never a hang): before training starts, every phase that can
// fail on some ranks only (reading files, validating data) runs inside
// collectively(): the ranks agree on the outcome with one reduction, the lowest
// failing rank prints its message, and every rank leaves with the same exit
// code. After training has started an error on one rank calls MPI_Abort, which
// ends all ranks.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace aevb {

class MpiComm {
 public:
  explicit MpiComm(MPI_Comm c = MPI_COMM_WORLD);
  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm get() const { return comm_; }

  void allreduce_sum(float* buf, int64_t n) const;
  void allreduce_sum(double* buf, int64_t n) const;
  int64_t allreduce_max(int64_t v) const;
  int64_t allreduce_min(int64_t v) const;
  double allreduce_max(double v) const;
  void bcast(float* buf, int64_t n, int root = 0) const;
  void bcast(double* buf, int64_t n, int root = 0) const;
  void bcast(std::string& s, int root = 0) const;
  void barrier() const;
  // Every rank's values concatenated on `root` in rank order (empty elsewhere).
  std::vector<double> gather(const std::vector<double>& local, int root = 0) const;
  std::vector<int64_t> gather(const std::vector<int64_t>& local, int root = 0) const;
  // Rows of row_bytes bytes: rank r's rows [displs[r], displs[r] + counts[r])
  // of buf are sent to every rank (in place: each rank fills its own part first).
  void allgatherv_rows(uint8_t* buf, const std::vector<int>& counts, const std::vector<int>& displs,
                       int64_t row_bytes) const;
  // Floats: rank r's [displs[r], displs[r] + counts[r]) of buf reach every rank
  // (in place, as allgatherv_rows).
  void allgatherv(float* buf, const std::vector<int>& counts, const std::vector<int>& displs) const;
  // Each rank sends send_counts[r] rows from send + send_displs[r] rows to rank
  // r, and receives recv_counts[q] rows from rank q at recv + recv_displs[q].
  void alltoallv_rows(const uint8_t* send, const std::vector<int>& send_counts, const std::vector<int>& send_displs,
                      uint8_t* recv, const std::vector<int>& recv_counts, const std::vector<int>& recv_displs,
                      int64_t row_bytes) const;
  // Ends every rank of the job (a failure after the collective checks).
  [[noreturn]] void abort(int code) const;
  static double wtime();

  // Non-blocking sum, for overlapping the decoder's gradient reduction with the
  // encoder's backward pass.
  MPI_Request iallreduce_sum(float* buf, int64_t n) const;
  static void wait(MPI_Request& r);

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

// Thrown on every rank when collectively() found a failure; the message has
// already been printed to stderr by one rank, and every rank holds it (for the
// JSON summary line that rank 0 prints).
struct CollectiveExit {
  int code;
  std::string message;
};

// A failure every rank has detected identically (e.g. divergence seen through
// the reduced control slots): rank 0 prints "<tool>: error: <message>", and
// every rank throws CollectiveExit{code} to leave cleanly (no MPI_Abort).
[[noreturn]] void agreed_failure(const MpiComm& comm, const std::string& tool, int code, const std::string& message);

// Runs phase(); if it throws aevb::Error on any rank, all ranks throw
// CollectiveExit with the largest exit code, after the lowest failing rank has
// printed "<tool>: error: <message>" to stderr.
void collectively(const MpiComm& comm, const std::string& tool, const std::function<void()>& phase);

}  // namespace aevb
