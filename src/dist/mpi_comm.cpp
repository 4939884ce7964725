#include "aevb/dist/mpi_comm.hpp"

#include <climits>
#include <cstdlib>
#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/base/utf8.hpp"

namespace aevb {

MpiComm::MpiComm(MPI_Comm c) : comm_(c) {
  MPI_Comm_rank(c, &rank_);
  MPI_Comm_size(c, &size_);
}

// MPI counts are int: reduce very large buffers in pieces.
template <class F>
static void in_pieces(int64_t n, F f) {
  const int64_t piece = INT_MAX / 2;
  for (int64_t off = 0; off < n; off += piece) f(off, static_cast<int>(std::min(piece, n - off)));
}

void MpiComm::allreduce_sum(float* buf, int64_t n) const {
  if (size_ == 1) return;
  in_pieces(n, [&](int64_t off, int cnt) { MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, comm_); });
}
void MpiComm::allreduce_sum(double* buf, int64_t n) const {
  if (size_ == 1) return;
  in_pieces(n, [&](int64_t off, int cnt) { MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_DOUBLE, MPI_SUM, comm_); });
}
int64_t MpiComm::allreduce_max(int64_t v) const {
  int64_t out = v;
  MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MAX, comm_);
  return out;
}
int64_t MpiComm::allreduce_min(int64_t v) const {
  int64_t out = v;
  MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MIN, comm_);
  return out;
}
void MpiComm::bcast(float* buf, int64_t n, int root) const {
  if (size_ == 1) return;
  in_pieces(n, [&](int64_t off, int cnt) { MPI_Bcast(buf + off, cnt, MPI_FLOAT, root, comm_); });
}
void MpiComm::bcast(std::string& s, int root) const {
  if (size_ == 1) return;
  int64_t n = static_cast<int64_t>(s.size());
  MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_);
  s.resize(static_cast<size_t>(n));
  MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm_);
}
void MpiComm::bcast(double* buf, int64_t n, int root) const {
  if (size_ == 1) return;
  in_pieces(n, [&](int64_t off, int cnt) { MPI_Bcast(buf + off, cnt, MPI_DOUBLE, root, comm_); });
}
double MpiComm::allreduce_max(double v) const {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, comm_);
  return v;
}
void MpiComm::barrier() const { MPI_Barrier(comm_); }
void MpiComm::abort(int code) const {
  MPI_Abort(comm_, code);
  std::abort();  // not reached: MPI_Abort does not return
}
double MpiComm::wtime() { return MPI_Wtime(); }

template <class T>
static std::vector<T> gather_impl(const std::vector<T>& local, MPI_Comm comm, int rank, int size, int root,
                                  MPI_Datatype type) {
  // The total is agreed by every rank first, so that a gather too large for
  // MPI's int counts fails on all ranks together instead of leaving the
  // others waiting in MPI_Gatherv.
  int64_t mine = static_cast<int64_t>(local.size()), total = 0, largest = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_INT64_T, MPI_SUM, comm);
  MPI_Allreduce(&mine, &largest, 1, MPI_INT64_T, MPI_MAX, comm);
  if (total > INT_MAX || largest > INT_MAX)
    throw Error(kExitInternal, "gather: " + std::to_string(total) + " values in all, more than MPI's 2^31 - 1");
  int n = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm);
  std::vector<T> all;
  if (rank == root) {
    int64_t at = 0;
    for (int r = 0; r < size; ++r) displs[static_cast<size_t>(r)] = static_cast<int>(at), at += counts[static_cast<size_t>(r)];
    all.resize(static_cast<size_t>(at));
  }
  MPI_Gatherv(local.data(), n, type, all.data(), counts.data(), displs.data(), type, root, comm);
  return all;
}
std::vector<double> MpiComm::gather(const std::vector<double>& local, int root) const {
  return gather_impl(local, comm_, rank_, size_, root, MPI_DOUBLE);
}
std::vector<int64_t> MpiComm::gather(const std::vector<int64_t>& local, int root) const {
  return gather_impl(local, comm_, rank_, size_, root, MPI_INT64_T);
}

namespace {
// One row as an MPI type, so that counts are rows (a row count fits an int
// where a byte count might not).
struct RowType {
  MPI_Datatype t;
  explicit RowType(int64_t row_bytes) {
    MPI_Type_contiguous(static_cast<int>(row_bytes), MPI_BYTE, &t);
    MPI_Type_commit(&t);
  }
  ~RowType() { MPI_Type_free(&t); }
};
}  // namespace

void MpiComm::allgatherv_rows(uint8_t* buf, const std::vector<int>& counts, const std::vector<int>& displs,
                              int64_t row_bytes) const {
  if (size_ == 1) return;
  RowType row(row_bytes);
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts.data(), displs.data(), row.t, comm_);
}

void MpiComm::allgatherv(float* buf, const std::vector<int>& counts, const std::vector<int>& displs) const {
  if (size_ == 1) return;
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts.data(), displs.data(), MPI_FLOAT, comm_);
}

void MpiComm::alltoallv_rows(const uint8_t* send, const std::vector<int>& send_counts,
                             const std::vector<int>& send_displs, uint8_t* recv, const std::vector<int>& recv_counts,
                             const std::vector<int>& recv_displs, int64_t row_bytes) const {
  RowType row(row_bytes);
  MPI_Alltoallv(send, send_counts.data(), send_displs.data(), row.t, recv, recv_counts.data(), recv_displs.data(),
                row.t, comm_);
}

MPI_Request MpiComm::iallreduce_sum(float* buf, int64_t n) const {
  MPI_Request r = MPI_REQUEST_NULL;
  if (size_ == 1) return r;
  if (n > INT_MAX) {  // beyond one MPI count: no overlap, reduce in pieces now
    allreduce_sum(buf, n);
    return r;
  }
  MPI_Iallreduce(MPI_IN_PLACE, buf, static_cast<int>(n), MPI_FLOAT, MPI_SUM, comm_, &r);
  return r;
}
void MpiComm::wait(MPI_Request& r) {
  if (r != MPI_REQUEST_NULL) MPI_Wait(&r, MPI_STATUS_IGNORE);
}

void agreed_failure(const MpiComm& comm, const std::string& tool, int code, const std::string& message) {
  if (comm.rank() == 0) std::cerr << tool << ": error: " << utf8_safe(message) << std::endl;
  throw CollectiveExit{code, message};
}

void collectively(const MpiComm& comm, const std::string& tool, const std::function<void()>& phase) {
  int code = 0;
  std::string msg;
  try {
    phase();
  } catch (const Error& e) {
    code = e.code();
    msg = e.what();
  } catch (const std::exception& e) {
    code = kExitInternal;
    msg = std::string("internal error: ") + e.what();
  }
  const int64_t worst = comm.allreduce_max(static_cast<int64_t>(code));
  if (worst == 0) return;
  const int64_t first = comm.allreduce_min(static_cast<int64_t>(code ? comm.rank() : INT_MAX));
  if (comm.rank() == first) {
    std::cerr << tool << ": error: " << utf8_safe(msg) << std::endl;
  }
  comm.bcast(msg, static_cast<int>(first));
  throw CollectiveExit{static_cast<int>(worst), msg};
}

}  // namespace aevb
