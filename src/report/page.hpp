// The report page: one self-contained HTML file (Chart.js, the chart data and
// every picture inlined), written by aevb-report.
//
//   page.cpp        the skeleton, the learning curves, the latents, the evaluations
//   page_runs.cpp   the pictures and the configuration / provenance of each run
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run_data.hpp"

namespace aevb::report {

struct PageInfo {
  std::vector<std::string> args;  // as given on the command line
  std::string generated_at;       // UTC, ISO 8601
};

// What went into the page (for the summary line).
struct PageStats {
  int64_t charts = 0, pictures = 0, warnings = 0;
};

std::string render_page(const std::vector<RunData>& runs, const PageInfo& info, PageStats& stats);

// page_runs.cpp: the sections of each run's files.
std::string pictures_section(const std::vector<RunData>& runs, PageStats& stats);
std::string provenance_section(const std::vector<RunData>& runs);

// A root attribute of a model or checkpoint summary ("" when absent).
std::string attr_of(const H5Summary& h, const std::string& name);

// The last metrics line of a run with a numeric `key` (null when none).
const nlohmann::json* last_with(const RunData& r, const std::string& key);

}  // namespace aevb::report
