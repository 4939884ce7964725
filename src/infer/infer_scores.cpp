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

std::vector<float> gather_pictured(const MpiComm& comm, int64_t first, int64_t local_points, int64_t shown,
                                   int64_t kinds, int64_t D, const std::function<float(int64_t, int64_t, int64_t)>& tile) {
  std::vector<double> local;  // point-major: point i's kinds tiles (doubles: exact for floats)
  for (int64_t i = 0; i < local_points && first + i < shown; ++i)
    for (int64_t k = 0; k < kinds; ++k)
      for (int64_t d = 0; d < D; ++d) local.push_back(tile(k, i, d));
  const std::vector<double> all = comm.gather(local);  // global order: contiguous parts in rank order
  const int64_t n = int64_t(all.size()) / (kinds * D);
  std::vector<float> rows(all.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < kinds; ++k)
      for (int64_t d = 0; d < D; ++d) rows[(k * n + i) * D + d] = float(all[(i * kinds + k) * D + d]);
  return rows;
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
