// The per-run sections of the report page (page.hpp): the pictures, embedded
// as data: URIs, and the configuration and provenance of each run.
#include <algorithm>

#include "html.hpp"
#include "page.hpp"

namespace aevb::report {

using nlohmann::json;

namespace {

// An integer zoom, so that pixelated scaling keeps every pixel square.
int64_t zoom(const Picture& p, int64_t target) {
  return std::clamp<int64_t>(target / std::max<int64_t>(1, std::max(p.width, p.height)), 1, 8);
}

std::string figure(const Picture& p, int64_t target, const std::string& caption) {
  const int64_t z = zoom(p, target);
  return "<figure><img src=\"data:image/png;base64," + base64(p.bytes) + "\" width=\"" + std::to_string(p.width * z) +
         "\" height=\"" + std::to_string(p.height * z) + "\" alt=\"" + esc(p.name) + "\" title=\"" + esc(p.path) +
         "\"><figcaption>" + esc(caption) + "</figcaption></figure>\n";
}

std::string facts(const RunData& r) {
  KeyValues kv;
  kv.emplace_back("run directory", r.dir);
  if (!r.metrics.empty()) {
    const json& last = r.metrics.back();
    const int64_t step = last.value("step", int64_t{0});
    kv.emplace_back("last metrics line", "epoch " + std::to_string(last.value("epoch", int64_t{0})) + ", step " +
                                             std::to_string(step) + " (" + std::to_string(step * r.batch) +
                                             " samples seen at batch " + std::to_string(r.batch) + ")");
    if (last.contains("wall_seconds") && last["wall_seconds"].is_number())
      kv.emplace_back("wall time", num(last["wall_seconds"].get<double>()) +
                                       " s (the last line's wall_seconds: since the start of the process that wrote "
                                       "it; a resumed run restarts this clock)");
  }
  if (r.has_checkpoint && r.checkpoint.train_seconds >= 0)
    kv.emplace_back("training time", num(r.checkpoint.train_seconds) +
                                         " s (train_seconds of the newest checkpoint, summed over resumes)");
  kv.emplace_back("MPI ranks", r.has_checkpoint && r.checkpoint.ranks > 0
                                   ? std::to_string(r.checkpoint.ranks) + " (attribute ranks of the newest checkpoint)"
                                   : std::string("not recorded (no checkpoint; model.h5 does not record it)"));
  kv.emplace_back("model.h5", r.has_model ? r.model.verify_message : "none yet (written when training ends)");
  if (r.has_checkpoint) kv.emplace_back("newest checkpoint", r.checkpoint.path + ": " + r.checkpoint.verify_message);
  const DatasetInfo& d = r.dataset;
  if (!d.configured.empty()) {
    std::string tried;
    for (const auto& t : d.tried) tried += (tried.empty() ? "" : ", ") + t;
    kv.emplace_back("dataset", "data = " + d.configured + (d.dir.empty() ? ": no manifest.json found (tried " + tried + ")"
                                                                          : ": found at " + d.dir));
  }
  if (!d.fingerprint.empty())
    kv.emplace_back("training rows fingerprint", d.fingerprint + ": " + d.fingerprint_check);
  else if (r.has_checkpoint && !r.checkpoint.data_fingerprint.empty())
    kv.emplace_back("training rows fingerprint", r.checkpoint.data_fingerprint + " (the checkpoint's; the dataset "
                                                 "was not found to check it)");
  return kv_table(kv);
}

std::string shards_table(const DatasetInfo& d) {
  std::string out = "<details><summary>dataset checksums (" + esc(d.dir) +
                    "/manifest.json)</summary>\n<table>\n<tr><th>split</th><th>shard</th><th>rows</th>"
                    "<th>data_sha256</th></tr>\n";
  for (const ShardRow& s : d.shards)
    out += "<tr><td>" + esc(s.split) + "</td><td>" + esc(s.file) + "</td><td class=\"n\">" +
           esc(std::to_string(s.rows)) + "</td><td class=\"hash\">" + esc(s.sha256) + "</td></tr>\n";
  out += "</table>\n<p class=\"note\">Per split, the SHA-256 over its shards' data_sha256 (what aevb-eval "
         "records as data_sha256):</p>\n";
  return out + kv_table(d.split_sha256) + "</details>\n";
}

}  // namespace

std::string pictures_section(const std::vector<RunData>& runs, PageStats& stats) {
  std::string out = "<section id=\"pictures\">\n<h2>Pictures</h2>\n";
  bool any = false;
  for (const RunData& r : runs) {
    if (r.pictures.empty() && r.sample_grids.empty()) continue;
    any = true;
    out += "<h3>" + esc(r.label) + "</h3>\n";
    if (!r.pictures.empty()) {
      out += "<div class=\"pictures\">\n";
      for (const Picture& p : r.pictures)
        out += figure(p, 560, p.name + " (" + std::to_string(p.width) + "x" + std::to_string(p.height) + " px, x" +
                                  std::to_string(zoom(p, 560)) + ")");
      out += "</div>\n";
      stats.pictures += static_cast<int64_t>(r.pictures.size());
    }
    if (!r.sample_grids.empty()) {
      out += "<h4>Samples during training</h4>\n<p class=\"note\">" + esc(std::to_string(r.sample_grids.size())) +
             " of the " + esc(std::to_string(r.sample_grids_total)) +
             " grids in samples/ (aevb-train --samples-every; evenly spaced, see --max-sample-grids).</p>\n"
             "<div class=\"pictures\">\n";
      for (const Picture& p : r.sample_grids) out += figure(p, 280, "epoch " + std::to_string(p.epoch));
      out += "</div>\n";
      stats.pictures += static_cast<int64_t>(r.sample_grids.size());
    }
  }
  if (!any)
    out += "<p>No <code>pictures/*.png</code> (aevb-infer) or <code>samples/epoch-NNNNNN.png</code> (aevb-train "
           "--samples-every) in the run directories.</p>\n";
  return out + "</section>\n";
}

std::string provenance_section(const std::vector<RunData>& runs) {
  std::string out = "<section id=\"provenance\">\n<h2>Configuration and provenance</h2>\n";
  for (const RunData& r : runs) {
    out += "<h3>" + esc(r.label) + "</h3>\n" + facts(r);
    out += "<details><summary>config.ini</summary>\n<pre class=\"config\">" +
           esc(r.config_text.empty() ? "(missing)" : r.config_text) + "</pre>\n</details>\n";
    if (r.has_model)
      out += "<details open><summary>model.h5 attributes</summary>\n" + kv_table(r.model.attrs) + "</details>\n";
    if (r.has_checkpoint)
      out += "<details><summary>newest checkpoint attributes (" + esc(r.checkpoint.path) + ")</summary>\n" +
             kv_table(r.checkpoint.attrs) + "</details>\n";
    if (!r.dataset.shards.empty()) out += shards_table(r.dataset);
    if (!r.warnings.empty()) {
      out += "<p>Warnings:</p>\n<ul class=\"warnings\">\n";
      for (const auto& w : r.warnings) out += "<li>" + esc(w) + "</li>\n";
      out += "</ul>\n";
    }
  }
  return out + "</section>\n";
}

}  // namespace aevb::report
