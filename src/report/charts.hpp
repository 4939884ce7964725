// The charts of the report as data: each is a JSON spec that the page's script
// (page_assets.cpp) turns into one Chart.js chart on the canvas of the same id.
//
//   {"id", "type": "scatter"|"bar", "title", "x": {"title", "log"}, "y": {"title", "min"?, "max"?},
//    "labels"?: [...] (bar charts), "series": [{"label", "data", "color", "dash"?, "key"?, "run"?,
//    "counted", "err"?: [se per point], "active"?: [bool per bar], "points"?: false}]}
//
// "counted" series are the data (their points are counted into the canvas's
// data-points attributes); the others are guides (mean +- se is drawn as
// whiskers from "err", not as series; reference lines are not counted).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run_data.hpp"

namespace aevb::report {

// The metric families of the learning curves: "elbo", "rec", "kl".
struct CurveFamily {
  std::string suffix, title, y_title;
};
const std::vector<CurveFamily>& curve_families();

// Train, test and (when recorded) valid values of one family for every run,
// against samples seen = step x batch on a log axis. Lines at step 0 (the
// evaluation before training) are left out: 0 has no place on a log axis.
// Returns null when no run has any value of the family.
nlohmann::json learning_curve_chart(const std::vector<RunData>& runs, const CurveFamily& f);

// The number of metrics lines of `r` with a numeric `key` and step > 0: what the
// learning-curve series of `key` holds.
int64_t curve_points(const RunData& r, const std::string& key);

// The KL of each latent dimension, largest first, active units coloured.
nlohmann::json kl_chart(const std::string& id, const std::string& run_label, int run_index, const LatentStats& s);

// Mean log p(x) against K (log axis) with whiskers of one standard error, one
// series per evaluation file of every run; the other estimators' means as
// horizontal reference lines. Null when no file has an importance-sampling sweep.
nlohmann::json k_sweep_chart(const std::vector<RunData>& runs);

}  // namespace aevb::report
