// aevb-report's command line, and the driver that makes the page.
//
//   aevb-report RUN_DIR... [--out DIR] [--max-sample-grids N]
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aevb/cli/option_rules.hpp"

namespace aevb::report {

struct ReportOptions {
  std::vector<std::string> run_dirs;  // as given: run directories or sweep directories
  std::string out;                    // "" = the default (run_data.hpp, default_out_dir)
  int64_t max_sample_grids = 12;      // -1 = all
};

// The allowed values of the numeric options (docs/report.md lists them).
const OptionRules& report_option_rules();

// Parses argv; false after --help or --version (printed), usage_error (exit 2)
// for anything wrong. As in the other executables an option given twice takes
// its last value, and options must be spelled in full.
bool parse_report_options(int argc, char** argv, ReportOptions& o);

// Reads the runs, writes OUT/index.html atomically, and returns the summary
// (the last stdout line): {"tool", "status": "ok", "report", "runs", ...}.
nlohmann::json make_report(const ReportOptions& o);

// report_main (include/aevb/report/report.hpp, called by src/apps/report_main.cpp):
// parse, report, and the contract for scripts: exit codes from
// aevb/base/error.hpp, an error as one line on stderr ("aevb-report: error:
// ..."), and the last stdout line one JSON object on success and on failure alike.

}  // namespace aevb::report
