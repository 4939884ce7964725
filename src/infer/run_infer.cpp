#include "aevb/base/error.hpp"
#include "aevb/infer/infer.hpp"

namespace aevb {

nlohmann::json run_infer(const InferConfig& cfg, const MpiComm& comm) {
  const std::string& c = cfg.command;
  if (c == "encode") return run_encode(cfg, comm);
  if (c == "sample") return run_sample(cfg, comm);
  if (c == "manifold") return run_manifold(cfg, comm);
  if (c == "reconstruct") return run_reconstruct(cfg, comm);
  if (c == "interpolate") return run_interpolate(cfg, comm);
  if (c == "inpaint") return run_inpaint(cfg, comm);
  if (c == "denoise") return run_denoise(cfg, comm);
  throw Error(kExitInternal, "run_infer: unknown command " + c);
}

}  // namespace aevb
