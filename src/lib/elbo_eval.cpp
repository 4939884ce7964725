#include "aevb/elbo_eval.hpp"

namespace aevb {

ElboSums evaluate_elbo(Vae& m, const EvalData& data, uint64_t seed, int samples, const MpiComm& comm, bool rank_slice,
                       int64_t chunk) {
  const int64_t lo = rank_slice ? data.rows * comm.rank() / comm.size() : 0;
  const int64_t hi = rank_slice ? data.rows * (comm.rank() + 1) / comm.size() : data.rows;
  Sgvb sg(m, Estimator::kB, samples);
  ElboSums local;
  for (int64_t b = lo; b < hi; b += chunk) {
    const int64_t n = std::min(chunk, hi - b);
    // Fixed step 0: every evaluation of the same model uses the same noise, so
    // the test ELBO of successive epochs is comparable.
    local += sg.run(data.x.data() + b * data.cols, data.index.data() + b, n, {seed, Purpose::kEvalLatentNoise, 0},
                    false, 0.f);
  }
  double v[4] = {local.elbo, local.rec, local.kl, static_cast<double>(local.points)};
  comm.allreduce_sum(v, 4);
  return ElboSums{v[0], v[1], v[2], static_cast<int64_t>(v[3])};
}

}  // namespace aevb
