#include "aevb/train/elbo_eval.hpp"

#include <algorithm>
#include <string>

#include "aevb/base/error.hpp"
#include "aevb/io/binarization.hpp"

namespace aevb {

ElboSums allreduce_sum(const ElboSums& local, const MpiComm& comm) {
  double v[4] = {local.elbo, local.rec, local.kl, static_cast<double>(local.points)};
  comm.allreduce_sum(v, 4);
  return ElboSums{v[0], v[1], v[2], static_cast<int64_t>(v[3])};
}

ElboSums evaluate_elbo(Vae& m, RowRange& mine, bool binarize, uint64_t eval_seed, BoundSpec bound,
                       const MpiComm& comm, int64_t chunk) {
  const bool iwae = bound.objective == Objective::kIwae;
  Sgvb sg(m, iwae ? Estimator::kA : Estimator::kB, bound.samples, bound.objective);
  sg.set_bayes_decoder(bound.bayes);
  ElboSums local;
  int code = 0;
  std::string message;
  try {
    mine.for_each(chunk, [&](DataMatrix& d) {
      if (binarize) binarize_for_evaluation(d, eval_seed);
      local += sg.evaluate({d.x.data(), d.global_index.data(), d.rows}, {eval_seed, Purpose::kEvalLatentNoise, 0});
    });
  } catch (const Error& e) {  // a read of a streamed test split failed: every rank leaves together
    code = e.code();
    message = e.what();
  }
  collectively(comm, "aevb-train", [&] {
    if (code) throw Error(code, message);
  });
  return allreduce_sum(local, comm);
}

}  // namespace aevb
