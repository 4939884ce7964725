#include "aevb/train/elbo_eval.hpp"

#include <algorithm>

namespace aevb {

ElboSums allreduce_sum(const ElboSums& local, const MpiComm& comm) {
  double v[4] = {local.elbo, local.rec, local.kl, static_cast<double>(local.points)};
  comm.allreduce_sum(v, 4);
  return ElboSums{v[0], v[1], v[2], static_cast<int64_t>(v[3])};
}

ElboSums evaluate_elbo(Vae& m, const DataMatrix& mine, uint64_t seed, int samples, const MpiComm& comm,
                       int64_t chunk) {
  Sgvb sg(m, Estimator::kB, samples);
  ElboSums local;
  for (int64_t b = 0; b < mine.rows; b += chunk) {
    const int64_t n = std::min(chunk, mine.rows - b);
    local += sg.evaluate({mine.row(b), mine.global_index.data() + b, n}, {seed, Purpose::kEvalLatentNoise, 0});
  }
  return allreduce_sum(local, comm);
}

}  // namespace aevb
