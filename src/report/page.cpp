// The report page's skeleton and its chart sections (page.hpp).
#include "page.hpp"

#include <cmath>
#include <string_view>

#include "aevb/base/version.hpp"
#include "chart_js.hpp"
#include "charts.hpp"
#include "html.hpp"
#include "page_assets.hpp"

namespace aevb::report {

using nlohmann::json;

namespace {

std::string canvas(const std::string& id, const std::string& label, bool small = false) {
  return std::string("<div class=\"chart") + (small ? " small" : "") + "\"><canvas id=\"" + esc(id) +
         "\" role=\"img\" aria-label=\"" + esc(label) + "\"></canvas></div>\n";
}

std::string metric_cell(const RunData& r, const std::string& key) {
  const json* line = last_with(r, key);
  return "<td class=\"n\">" + (line ? esc(num((*line)[key].get<double>())) : std::string("&ndash;")) + "</td>";
}

std::string learning_curves(const std::vector<RunData>& runs, json& charts) {
  std::string out = "<section id=\"curves\">\n<h2>Learning curves</h2>\n";
  bool any = false;
  for (const CurveFamily& f : curve_families()) {
    json spec = learning_curve_chart(runs, f);
    if (spec.is_null()) continue;
    out += canvas(spec["id"], f.title);
    charts.push_back(std::move(spec));
    any = true;
  }
  if (!any) return out + "<p>No metrics lines with train, test or valid values yet.</p>\n</section>\n";
  out += "<p class=\"note\">Solid: train, the mean over the epoch of the minibatch bounds (taken while the "
         "parameters changed); dashed: test and dotted: valid, evaluated after the epoch. The x axis is "
         "training samples seen = step &times; batch (config.ini <code>batch</code>), log-scaled as in the paper's "
         "Figure 2, so the evaluation before training (step 0) has no place on it; its values:";
  std::string initial;
  for (const RunData& r : runs)
    for (const json& line : r.metrics)
      if (line.value("step", int64_t{0}) == 0 && line.contains("test_elbo") && line["test_elbo"].is_number())
        initial += (initial.empty() ? " " : "; ") + esc(r.label) + " test ELBO " +
                   esc(num(line["test_elbo"].get<double>()));
  out += (initial.empty() ? std::string(" none (no step-0 line)") : initial) + ".</p>\n";
  // The last values, as numbers.
  out += "<table>\n<tr><th>run</th><th>epoch</th><th>step</th><th>samples seen</th><th>train ELBO</th>"
         "<th>test ELBO</th><th>valid ELBO</th><th>samples/s</th><th>wall seconds</th></tr>\n";
  for (const RunData& r : runs) {
    const json* last = r.metrics.empty() ? nullptr : &r.metrics.back();
    const int64_t step = last ? last->value("step", int64_t{0}) : 0;
    out += "<tr><td>" + esc(r.label) + "</td><td class=\"n\">" +
           (last ? esc(std::to_string(last->value("epoch", int64_t{0}))) : "") + "</td><td class=\"n\">" +
           esc(std::to_string(step)) + "</td><td class=\"n\">" + esc(std::to_string(step * r.batch)) + "</td>" +
           metric_cell(r, "train_elbo") + metric_cell(r, "test_elbo") + metric_cell(r, "valid_elbo") +
           metric_cell(r, "samples_per_s") + metric_cell(r, "wall_seconds") + "</tr>\n";
  }
  return out + "</table>\n</section>\n";
}

std::string latents(const std::vector<RunData>& runs, json& charts) {
  std::string out = "<section id=\"latents\">\n<h2>Latent units</h2>\n";
  bool any = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    for (size_t n = 0; n < runs[i].latents.size(); ++n) {
      const LatentStats& s = runs[i].latents[n];
      any = true;
      const std::string id = "kl-" + std::to_string(i) + "-" + std::to_string(n);
      out += "<h3>" + esc(runs[i].label) + ", split " + esc(s.split) + "</h3>\n";
      out += "<p><strong>Active units: " +
             (s.active_units >= 0 ? esc(std::to_string(s.active_units)) : std::string("unknown")) + " of " +
             esc(std::to_string(s.kl_per_dim.size())) + "</strong> (unit j is active when the variance over the " +
             (s.rows >= 0 ? esc(std::to_string(s.rows)) + " " : "") + "points of its encoder mean, Var<sub>x</sub> " +
             "E<sub>q</sub>[z<sub>j</sub>|x], exceeds " + esc(num(s.threshold)) +
             "; Burda et al. 2016). From <code>" + esc(s.path) + "</code>.</p>\n";
      json spec = kl_chart(id, runs[i].label, static_cast<int>(i), s);
      out += canvas(id, spec["title"], true);
      charts.push_back(std::move(spec));
      out += "<details><summary>per dimension (by index)</summary>\n<table>\n<tr><th>j</th><th>mean KL (nats)</th>"
             "<th>Var of the encoder mean</th><th>active</th></tr>\n";
      for (size_t j = 0; j < s.kl_per_dim.size(); ++j) {
        const bool has_var = j < s.mu_variance.size();
        out += "<tr><td class=\"n\">" + std::to_string(j) + "</td><td class=\"n\">" + esc(num(s.kl_per_dim[j])) +
               "</td><td class=\"n\">" + (has_var ? esc(num(s.mu_variance[j])) : "") + "</td><td>" +
               (has_var ? (s.mu_variance[j] > s.threshold ? "yes" : "no") : "") + "</td></tr>\n";
      }
      out += "</table>\n</details>\n";
    }
  }
  if (!any)
    out += "<p>No <code>latents-SPLIT/latents.h5</code> in the run directories (written by "
           "<code>aevb-infer encode</code>).</p>\n";
  return out + "</section>\n";
}

std::string mean_se_text(const MeanSe& m) { return num(m.mean) + " &plusmn; " + num(m.se, 3); }

// Which model an evaluation saw, judged by its params_sha256.
std::string evaluated_model(const RunData& r, const EvalSummary& e) {
  if (e.model_params_sha256.empty()) return "unknown";
  if (r.has_model && attr_of(r.model, "params_sha256") == e.model_params_sha256) return "this run's model.h5";
  if (r.has_checkpoint && attr_of(r.checkpoint, "params_sha256") == e.model_params_sha256)
    return "this run's newest checkpoint";
  return "another model (step " + std::to_string(e.model_step) + ", params_sha256 " +
         e.model_params_sha256.substr(0, 12) + "...)";
}

std::string evaluation(const std::vector<RunData>& runs, json& charts) {
  std::string out = "<section id=\"evaluation\">\n<h2>Evaluation: log p(x)</h2>\n";
  json spec = k_sweep_chart(runs);
  if (!spec.is_null()) {
    out += canvas("k-sweep", spec["title"]);
    charts.push_back(std::move(spec));
    out += "<p class=\"note\">Each point: the mean over the evaluated points of the importance-sampled "
           "log p(x) with the first K samples; whiskers: &plusmn; one standard error of that mean (sample "
           "standard deviation / &radic;n). Flat lines: the other estimators of the same file.</p>\n";
  }
  bool any = false;
  for (const RunData& r : runs) {
    for (const EvalSummary& e : r.evals) {
      any = true;
      out += "<h3>" + esc(r.label) + " / " + esc(e.name) + "</h3>\n<table class=\"kv\">\n";
      out += "<tr><th>split</th><td>" + esc(e.split) + ", " + esc(std::to_string(e.points)) + " points" +
             (e.complete ? "" : " (INCOMPLETE: an interrupted evaluation)") + "</td></tr>\n";
      out += "<tr><th>model</th><td>" + esc(evaluated_model(r, e)) + "</td></tr>\n";
      std::string data = e.data_sha256.empty() ? "not recorded" : "data_sha256 " + e.data_sha256.substr(0, 16) + "...";
      for (const auto& [split, sha] : r.dataset.split_sha256)
        if (sha == e.data_sha256) data += " = split '" + split + "' of " + r.dataset.dir;
      out += "<tr><th>data</th><td>" + esc(data) + "</td></tr>\n";
      for (size_t j = 0; j < e.k.size(); ++j)
        out += "<tr><th>IS, K = " + esc(std::to_string(e.k[j])) + "</th><td class=\"n\">" + mean_se_text(e.log_px[j]) +
               "</td></tr>\n";
      for (const auto& [label, m] : e.estimates)
        out += "<tr><th>" + esc(label) + "</th><td class=\"n\">" + mean_se_text(m) + "</td></tr>\n";
      if (e.active_units >= 0)
        out += "<tr><th>active units</th><td>" + esc(std::to_string(e.active_units)) + " of " +
               esc(std::to_string(e.latent)) + " (from /posterior_mean, threshold 0.01)</td></tr>\n";
      out += "</table>\n";
    }
  }
  if (!any)
    out += "<p>No <code>eval*.h5</code> in the run directories (aevb-eval <code>--out RUN_DIR/eval.h5</code>).</p>\n";
  return out + "</section>\n";
}

std::string utc_footer(const PageInfo& info) {
  std::string args;
  for (const auto& a : info.args) args += (args.empty() ? "" : " ") + a;
  return "<footer>Generated by aevb-report " + esc(version()) + " at " + esc(info.generated_at) + " from <code>" +
         esc(args) + "</code>. Charts: Chart.js " + esc(kChartJsVersion) +
         " (MIT license, &copy; Chart.js Contributors), from Debian's libjs-chart.js, inlined into aevb-report at "
         "build time and into this page: it opens offline, with no other file.</footer>\n";
}

}  // namespace

const json* last_with(const RunData& r, const std::string& key) {
  for (auto it = r.metrics.rbegin(); it != r.metrics.rend(); ++it) {
    const auto v = it->find(key);
    if (v != it->end() && v->is_number() && std::isfinite(v->get<double>())) return &*it;
  }
  return nullptr;
}

std::string attr_of(const H5Summary& h, const std::string& name) {
  for (const auto& [k, v] : h.attrs)
    if (k == name) return v;
  return "";
}

std::string render_page(const std::vector<RunData>& runs, const PageInfo& info, PageStats& stats) {
  std::string names;
  for (const RunData& r : runs) names += (names.empty() ? "" : ", ") + r.name;
  json charts = json::array();
  std::string body;
  body += learning_curves(runs, charts);
  body += latents(runs, charts);
  body += evaluation(runs, charts);
  body += pictures_section(runs, stats);
  body += provenance_section(runs);
  stats.charts = static_cast<int64_t>(charts.size());
  for (const RunData& r : runs) stats.warnings += static_cast<int64_t>(r.warnings.size());

  std::string page;
  page.reserve(kChartJsSize + body.size() + 8192);
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  page += "<meta name=\"generator\" content=\"aevb-report " + esc(version()) + "\">\n";
  page += "<title>aevb report: " + esc(names) + "</title>\n<style>" + std::string(kPageCss) + "</style>\n";
  page += "<script>" + std::string(kErrorCatcherJs) + "</script>\n";
  page += "<script>/* Chart.js " + std::string(kChartJsVersion) + ", inlined */\n";
  page.append(reinterpret_cast<const char*>(kChartJsBytes), kChartJsSize);
  page += "\n</script>\n</head>\n<body data-ready=\"0\">\n";
  page += "<h1>aevb run report</h1>\n<p>" + esc(std::to_string(runs.size())) + (runs.size() == 1 ? " run: " : " runs: ");
  for (size_t i = 0; i < runs.size(); ++i)
    page += (i ? ", " : "") + std::string("<code>") + esc(runs[i].dir) + "</code>";
  page += "</p>\n<pre id=\"errors\"></pre>\n";
  page += "<nav><a href=\"#curves\">learning curves</a> &middot; <a href=\"#latents\">latent units</a> &middot; "
          "<a href=\"#evaluation\">log p(x)</a> &middot; <a href=\"#pictures\">pictures</a> &middot; "
          "<a href=\"#provenance\">configuration and provenance</a></nav>\n";
  page += body;
  page += utc_footer(info);
  page += "<script type=\"application/json\" id=\"report-data\">" + json_for_script({{"charts", charts}}) +
          "</script>\n";
  page += "<script>" + std::string(kChartBuilderJs) + "</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace aevb::report
