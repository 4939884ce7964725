// What a training run tells its user: metrics.jsonl (one JSON line per epoch,
// plus the initial model's test ELBO as epoch 0) and progress lines on stderr.
// Rank 0 only.
#pragma once
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "aevb/base/clock.hpp"
#include "aevb/core/sgvb.hpp"

namespace aevb {

class MetricsLog {
 public:
  // Keeps the lines up to `resumed_step` (a kill after an epoch's line but
  // before its checkpoint, or going back to an older checkpoint, would
  // otherwise repeat lines; a fresh start, step 0, empties the file), then
  // opens it for appending.
  MetricsLog(const std::string& path, int64_t resumed_step);
  void append(const nlohmann::json& line);

 private:
  std::string path_;
  std::ofstream out_;
};

// Per-point means of a sum over points, under the given key prefix
// ("train" -> train_elbo, train_rec, train_kl).
void put_means(nlohmann::json& j, const std::string& prefix, const ElboSums& s);

// "epoch 3/50 step 1200/30000 | 31.2k samples/s | ELBO -140.12 (rank 0 slice) | lr 0.02 | ETA 4m10s"
std::string progress_line(int64_t epoch, int64_t epochs, int64_t step, int64_t total_steps, double samples_per_s,
                          double elbo_per_point, float lr, double eta_seconds);

}  // namespace aevb
