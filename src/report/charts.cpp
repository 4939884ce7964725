// The chart specs of the report (charts.hpp).
#include "charts.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace aevb::report {

using nlohmann::json;

namespace {

// A finite number under `key` of a metrics line (NaN is written as null).
bool metric(const json& line, const std::string& key, double& v) {
  const auto it = line.find(key);
  if (it == line.end() || !it->is_number()) return false;
  v = it->get<double>();
  return std::isfinite(v);
}

int64_t step_of(const json& line) { return line.value("step", int64_t{0}); }

// How each split's line is drawn: train solid, test dashed, valid dotted.
struct Split {
  const char* name;
  std::vector<int> dash;
};
const std::vector<Split>& splits() {
  static const std::vector<Split> s = {{"train", {}}, {"test", {6, 4}}, {"valid", {2, 3}}};
  return s;
}

}  // namespace

const std::vector<CurveFamily>& curve_families() {
  static const std::vector<CurveFamily> f = {
      {"elbo", "ELBO per data point (the paper's Figure 2)", "ELBO (nats per point)"},
      {"rec", "Reconstruction term E_q[log p(x|z)] per point", "nats per point"},
      {"kl", "KL(q(z|x) || p(z)) per point", "nats per point"}};
  return f;
}

int64_t curve_points(const RunData& r, const std::string& key) {
  int64_t n = 0;
  double v = 0;
  for (const json& line : r.metrics)
    if (step_of(line) > 0 && metric(line, key, v)) ++n;
  return n;
}

json learning_curve_chart(const std::vector<RunData>& runs, const CurveFamily& f) {
  json series = json::array();
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    for (const Split& s : splits()) {
      const std::string key = std::string(s.name) + "_" + f.suffix;
      json data = json::array();
      double v = 0;
      for (const json& line : r.metrics) {
        const int64_t step = step_of(line);
        if (step > 0 && metric(line, key, v))
          data.push_back({{"x", static_cast<double>(step) * static_cast<double>(r.batch)}, {"y", v}});
      }
      if (data.empty()) continue;
      series.push_back({{"label", r.label + " " + s.name},
                        {"data", std::move(data)},
                        {"color", i},
                        {"dash", s.dash},
                        {"key", key},
                        {"run", i},
                        {"counted", true}});
    }
  }
  if (series.empty()) return nullptr;
  return {{"id", "curve-" + f.suffix},
          {"type", "scatter"},
          {"title", f.title},
          {"x", {{"title", "training samples seen (step x batch), log scale"}, {"log", true}}},
          {"y", {{"title", f.y_title}}},
          {"series", std::move(series)}};
}

json kl_chart(const std::string& id, const std::string& run_label, int run_index, const LatentStats& s) {
  std::vector<size_t> order(s.kl_per_dim.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.kl_per_dim[a] > s.kl_per_dim[b]; });
  json labels = json::array(), data = json::array(), active = json::array();
  for (const size_t j : order) {
    labels.push_back("z" + std::to_string(j));
    const double v = s.kl_per_dim[j];
    data.push_back(std::isfinite(v) ? json(v) : json(nullptr));
    active.push_back(s.mu_variance.empty() || s.mu_variance[j] > s.threshold);
  }
  return {{"id", id},
          {"type", "bar"},
          {"title", "KL per latent dimension, " + run_label + ", split " + s.split + " (largest first)"},
          {"x", {{"title", "latent dimension (sorted by KL; the label is its index)"}, {"log", false}}},
          {"y", {{"title", "mean KL(q(z_j|x) || p(z_j)) (nats)"}}},
          {"labels", std::move(labels)},
          {"series", json::array({{{"label", "KL per dimension (grey: inactive)"},
                                   {"data", std::move(data)},
                                   {"color", run_index},
                                   {"active", std::move(active)},
                                   {"key", "kl_per_dim"},
                                   {"run", run_index},
                                   {"counted", true}}})}};
}

json k_sweep_chart(const std::vector<RunData>& runs) {
  json series = json::array();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  const auto widen = [&](double a, double b) {
    if (std::isfinite(a)) lo = std::min(lo, a);
    if (std::isfinite(b)) hi = std::max(hi, b);
  };
  int colour = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    for (const EvalSummary& e : runs[i].evals) {
      if (e.k.empty()) continue;
      const std::string name = runs[i].label + " / " + e.name;
      json data = json::array(), err = json::array();
      for (size_t j = 0; j < e.k.size(); ++j) {
        data.push_back({{"x", e.k[j]}, {"y", e.log_px[j].mean}});
        err.push_back(e.log_px[j].se);
        widen(e.log_px[j].mean - e.log_px[j].se, e.log_px[j].mean + e.log_px[j].se);
      }
      const double k0 = static_cast<double>(e.k.front()), k1 = static_cast<double>(e.k.back());
      series.push_back({{"label", name + ": IS log p(x)"},
                        {"data", std::move(data)},
                        {"err", std::move(err)},
                        {"color", colour},
                        {"key", "log_px"},
                        {"run", i},
                        {"counted", true}});
      // The other estimators of the same file, flat across the K range.
      int dash = 0;
      for (const auto& [label, m] : e.estimates) {
        if (!std::isfinite(m.mean)) continue;
        widen(m.mean, m.mean);
        series.push_back({{"label", name + ": " + label},
                          {"data", json::array({{{"x", k0}, {"y", m.mean}}, {{"x", std::max(k1, k0 * 2)}, {"y", m.mean}}})},
                          {"color", colour},
                          {"dash", dash++ % 2 == 0 ? std::vector<int>{6, 4} : std::vector<int>{2, 3}},
                          {"points", false},
                          {"counted", false}});
      }
      ++colour;
    }
  }
  if (series.empty()) return nullptr;
  json y = {{"title", "mean log p(x) (nats), whiskers +- 1 s.e."}};
  if (std::isfinite(lo) && std::isfinite(hi)) {
    // Room for the whiskers, which Chart.js does not know about.
    const double pad = std::max((hi - lo) * 0.05, 1e-3);
    y["min"] = lo - pad;
    y["max"] = hi + pad;
  }
  return {{"id", "k-sweep"},
          {"type", "scatter"},
          {"title", "Importance-sampled log p(x) against the number of samples K"},
          {"x", {{"title", "K, importance samples per point (log scale)"}, {"log", true}}},
          {"y", std::move(y)},
          {"series", std::move(series)}};
}

}  // namespace aevb::report
