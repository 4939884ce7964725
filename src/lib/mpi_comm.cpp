#include "aevb/mpi_comm.hpp"

#include <climits>
#include <iostream>

#include "aevb/error.hpp"

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
void MpiComm::barrier() const { MPI_Barrier(comm_); }

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
  if (comm.rank() == 0) std::cerr << tool << ": error: " << message << std::endl;
  throw CollectiveExit{code};
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
  const int64_t worst = comm.allreduce_max(code);
  if (worst == 0) return;
  const int64_t first = comm.allreduce_min(code ? comm.rank() : INT_MAX);
  if (comm.rank() == first) {
    std::cerr << tool << ": error: " << msg << std::endl;
  }
  throw CollectiveExit{static_cast<int>(worst)};
}

}  // namespace aevb
