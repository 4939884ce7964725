#include "aevb/train/activation_exchange.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>

#include "aevb/base/error.hpp"
#include "aevb/base/partition.hpp"

namespace aevb {
namespace {

// Floats of one row's layer inputs and deltas, over all layers of net.
int64_t row_floats(const Mlp& net) {
  int64_t w = 0;
  for (size_t i = 0; i < net.num_layers(); ++i) w += net.sizes()[i] + net.sizes()[i + 1];
  return w;
}

// rows x width floats from src to dst, advancing dst.
void put(float*& dst, const float* src, int64_t rows, int64_t width) {
  const size_t n = static_cast<size_t>(rows * width);
  std::memcpy(dst, src, n * sizeof(float));
  dst += n;
}

}  // namespace

int64_t ActivationExchange::floats_per_point(const Vae& model, int samples) {
  return row_floats(model.encoder) + samples * row_floats(model.decoder);
}

ActivationExchange::ActivationExchange(Vae& model, const Sgvb& sgvb, const MpiComm& comm)
    : m_(model), sgvb_(sgvb), comm_(comm) {
  if (model.spec().bayes) throw usage_error("--reduction gather: not with --bayes full (the decoder's weights are sampled)");
  const size_t layers = model.encoder.num_layers() + model.decoder.num_layers();
  in_.resize(layers);
  delta_.resize(layers);
  io_.resize(layers);
}

void ActivationExchange::exchange(int64_t M, float* ctl, int slots) {
  const int P = comm_.size(), me = comm_.rank();
  const int64_t L = sgvb_.samples(), per_point = floats_per_point(m_, static_cast<int>(L));

  // Every rank derives every rank's block size from M and P alone.
  counts_.assign(static_cast<size_t>(P), 0);
  displs_.assign(static_cast<size_t>(P), 0);
  first_point_.assign(static_cast<size_t>(P) + 1, M);
  int64_t total = 0;
  for (int q = 0; q < P; ++q) {
    const Range part = part_of(0, M, q, P);
    const int64_t count = part.size() * per_point + slots;
    if (P > 1 && total + count > INT_MAX)
      throw usage_error("--reduction gather: a batch of " + std::to_string(M) + " points sends " +
                        std::to_string(M * per_point) + " floats, more than one MPI call carries; use allreduce");
    first_point_[static_cast<size_t>(q)] = part.lo;
    counts_[static_cast<size_t>(q)] = static_cast<int>(count);
    displs_[static_cast<size_t>(q)] = static_cast<int>(total);
    total += count;
  }
  // (A throw here on one rank only ends the job through mpi_main's MPI_Abort.)
  const int64_t n = sgvb_.rows();
  if (n != first_point_[static_cast<size_t>(me) + 1] - first_point_[static_cast<size_t>(me)])
    throw Error(kExitInternal, "activation exchange: this rank holds " + std::to_string(n) + " points of the batch of " +
                std::to_string(M) + ", not its part");
  if (buf_.size() < static_cast<size_t>(total)) buf_.resize(static_cast<size_t>(total));

  // This rank's block: per layer its inputs then its deltas, encoder then
  // decoder; the control slots last.
  float* dst = buf_.data() + displs_[static_cast<size_t>(me)];
  if (n > 0) {
    for (Mlp* net : {&m_.encoder, &m_.decoder}) {
      const int64_t rows = net == &m_.decoder ? n * L : n;
      for (size_t i = 0; i < net->num_layers(); ++i) {
        const Mlp::LayerIo io = net->layer_io(rows, i);
        put(dst, io.in, rows, net->sizes()[i]);
        put(dst, io.delta, rows, net->sizes()[i + 1]);
      }
    }
  }
  std::copy(ctl, ctl + slots, dst);

  const double t0 = MpiComm::wtime();
  comm_.allgatherv(buf_.data(), counts_, displs_);
  blocked_s_ += MpiComm::wtime() - t0;

  // The flags, summed in rank order.
  std::fill(ctl, ctl + slots, 0.f);
  for (int q = 0; q < P; ++q) {
    const float* c = buf_.data() + displs_[static_cast<size_t>(q)] + counts_[static_cast<size_t>(q)] - slots;
    for (int k = 0; k < slots; ++k) ctl[k] += c[k];
  }
}

void ActivationExchange::weight_gradients() {
  // Every layer's rows in batch order (rank q's points are [first_point_[q],
  // first_point_[q+1]) of the batch), then the weight gradients.
  const int64_t M = first_point_.back(), L = sgvb_.samples();
  int64_t offset = 0;  // within a rank's block, floats per point before this layer's
  gather_rows(m_.encoder, 1, offset, 0);
  gather_rows(m_.decoder, L, offset, m_.encoder.num_layers());
  m_.encoder.weight_gradients(io_.data(), M);
  m_.decoder.weight_gradients(io_.data() + m_.encoder.num_layers(), M * L);
}

// Copies net's layer inputs and deltas of every rank's points into one matrix
// per layer; offset counts the floats per point of the layers before.
void ActivationExchange::gather_rows(Mlp& net, int64_t rows_per_point, int64_t& offset, size_t first_layer) {
  const int P = comm_.size();
  const int64_t M = first_point_.back();
  for (size_t i = 0; i < net.num_layers(); ++i) {
    const int64_t w_in = net.sizes()[i], w_out = net.sizes()[i + 1];
    FloatBuffer& in = in_[first_layer + i];
    FloatBuffer& delta = delta_[first_layer + i];
    in.resize(static_cast<size_t>(M * rows_per_point * w_in));
    delta.resize(static_cast<size_t>(M * rows_per_point * w_out));
    for (int q = 0; q < P; ++q) {
      const int64_t p0 = first_point_[static_cast<size_t>(q)], np = first_point_[static_cast<size_t>(q) + 1] - p0;
      if (np == 0) continue;
      const int64_t rows = np * rows_per_point;
      const float* block = buf_.data() + displs_[static_cast<size_t>(q)] + offset * np;
      std::memcpy(in.data() + p0 * rows_per_point * w_in, block, static_cast<size_t>(rows * w_in) * sizeof(float));
      std::memcpy(delta.data() + p0 * rows_per_point * w_out, block + rows * w_in,
                  static_cast<size_t>(rows * w_out) * sizeof(float));
    }
    offset += rows_per_point * (w_in + w_out);
    io_[first_layer + i] = {in.data(), delta.data()};
  }
}

}  // namespace aevb
