#include "infer_scores.hpp"

#include <algorithm>
#include <cmath>

#include "aevb/base/error.hpp"

namespace aevb {

PixelScore score_pixels(const float* x, const float* p, const uint8_t* skip, int64_t D, bool binary) {
  PixelScore s;
  int64_t n = 0, wrong = 0;
  for (int64_t d = 0; d < D; ++d) {
    if (skip && skip[d]) continue;
    ++n;
    const double e = double(x[d]) - p[d];
    s.squared_error += e * e;
    if (binary) {
      const double q = std::clamp(double(p[d]), kPluginClamp, 1 - kPluginClamp);
      s.log_lik += x[d] > 0.5f ? std::log(q) : std::log1p(-q);
      wrong += (p[d] > 0.5f) != (x[d] > 0.5f);
    }
  }
  if (n > 0) {
    s.squared_error /= double(n);
    s.error_rate = double(wrong) / double(n);
  }
  return s;
}

ScoreTable::ScoreTable(std::vector<std::string> reals, std::vector<std::string> indices) {
  for (auto& r : reals) reals_[r];
  for (auto& i : indices) indices_[i];
}

void ScoreTable::add(const std::string& column, double v) {
  auto it = reals_.find(column);
  if (it == reals_.end()) throw Error(kExitInternal, "ScoreTable: undeclared column " + column);
  it->second.push_back(v);
}

void ScoreTable::add_index(const std::string& column, int64_t v) {
  auto it = indices_.find(column);
  if (it == indices_.end()) throw Error(kExitInternal, "ScoreTable: undeclared column " + column);
  it->second.push_back(v);
}

ScoreTable ScoreTable::gather(const MpiComm& comm) const {
  ScoreTable all({}, {});
  for (const auto& [k, v] : reals_) all.reals_[k] = comm.gather(v);
  for (const auto& [k, v] : indices_) all.indices_[k] = comm.gather(v);
  return all;
}

void ScoreTable::put(ArrayFile& f) const {
  for (const auto& [k, v] : reals_) f.f64[k] = {{int64_t(v.size())}, v};
  for (const auto& [k, v] : indices_) f.i64[k] = {{int64_t(v.size())}, v};
}

nlohmann::json ScoreTable::means() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : reals_) {
    double s = 0;
    int64_t n = 0;
    for (double x : v)
      if (std::isfinite(x)) s += x, ++n;
    j[k] = n > 0 ? s / double(n) : 0.0;
  }
  return j;
}

}  // namespace aevb
