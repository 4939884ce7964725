// aevb-report's options and driver (report_options.hpp).
#include "aevb/report/report.hpp"
#include "report_options.hpp"

#include <boost/program_options.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/base/utf8.hpp"
#include "aevb/base/version.hpp"
#include "aevb/cli/options.hpp"
#include "aevb/io/durable_file.hpp"
#include "page.hpp"
#include "run_data.hpp"

namespace aevb::report {

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "aevb-report: a self-contained HTML report of aevb-train runs: learning curves (ELBO against training\n"
    "samples seen, log axis, as in the AEVB paper's Figure 2; several runs overlaid), KL per latent\n"
    "dimension and active units (latents-SPLIT/latents.h5 of aevb-infer encode), the evaluator's K sweep\n"
    "with standard errors (eval*.h5 of aevb-eval), the pictures (pictures/*.png, samples/epoch-*.png),\n"
    "the configuration and provenance (config.ini, model.h5 and checkpoint attributes, dataset checksums).\n"
    "Chart.js is inlined: the page opens offline, anywhere it is copied. See docs/report.md.\n\n"
    "Usage: aevb-report RUN_DIR... [--out DIR] [--max-sample-grids N]\n\n"
    "  RUN_DIR  a run directory of aevb-train (it holds metrics.jsonl), or a sweep directory (its\n"
    "           subdirectories that hold one are taken, sorted by name)\n\n";

constexpr const char* kExitCodes =
    "\nOutput: OUT/index.html, written atomically. Default OUT: RUN_DIR/report for one run, SWEEP/report\n"
    "for one sweep directory, otherwise the first run's parent directory/report.\n"
    "Exit codes: 0 ok, 1 internal error, 2 usage (a bad option, a RUN_DIR that is not a run or sweep\n"
    "directory), 3 bad input (a damaged metrics.jsonl, no batch size), 4 cannot write the report.\n"
    "The last stdout line is one JSON object: {\"tool\":\"aevb-report\",\"status\":\"ok\",\"report\":...,\n"
    "\"runs\":N,...} or {\"status\":\"error\",\"exit_code\":N,\"error\":...}.\n";

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

const OptionRules& report_option_rules() {
  static const OptionRules rules = {
      OptionRule::integer("max-sample-grids").ge(1).le(100000).or_value(-1, "all"),
  };
  return rules;
}

bool parse_report_options(int argc, char** argv, ReportOptions& o) {
  po::options_description opts("Options", 100, 40);
  opts.add_options()
    ("out", po::value(&o.out), "folder of the report (created if missing): OUT/index.html")
    ("max-sample-grids", po::value(&o.max_sample_grids)->default_value(o.max_sample_grids),
     "training-progress grids (samples/epoch-NNNNNN.png) embedded per run: evenly spaced, the first and the "
     "last kept (-1 = all)")
    ("help,h", "print this help and exit")
    ("version", "print the version and exit");
  po::options_description hidden;
  hidden.add_options()("run-dir", po::value(&o.run_dirs));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("run-dir", -1);
  po::variables_map vm;
  try {
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::parsed_options parsed = po::command_line_parser(argc, argv).options(all).positional(pos).style(style).run();
    // The last occurrence of an option wins (as in aevb-train and aevb-eval);
    // every positional RUN_DIR is kept.
    std::vector<po::option> kept;
    for (auto it = parsed.options.rbegin(); it != parsed.options.rend(); ++it) {
      bool seen = false;
      for (const auto& k : kept) seen = seen || (k.string_key == it->string_key && it->string_key != "run-dir");
      if (!seen) kept.insert(kept.begin(), *it);
    }
    parsed.options = std::move(kept);
    check_option_rules(parsed, report_option_rules());
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(std::string(e.what()) + " (see 'aevb-report --help')");
  }
  if (vm.count("version")) {
    std::cout << "aevb-report " << version() << std::endl;
    return false;
  }
  if (vm.count("help")) {
    std::cout << kUsage << opts << kExitCodes;
    return false;
  }
  if (o.run_dirs.empty()) throw usage_error("missing RUN_DIR (see 'aevb-report --help')");
  if (vm.count("out") && o.out.empty()) throw usage_error("--out: expected a directory, got ''");
  return true;
}

nlohmann::json make_report(const ReportOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  // Every argument is checked before anything is read or written.
  const std::vector<std::string> dirs = find_run_dirs(o.run_dirs);
  std::vector<RunData> runs;
  for (const std::string& d : dirs) runs.push_back(load_run(d, o.max_sample_grids));
  label_runs(runs);
  for (const RunData& r : runs)
    for (const std::string& w : r.warnings) std::cerr << "aevb-report: warning: " << utf8_safe(w) << std::endl;

  PageInfo info;
  info.args = o.run_dirs;
  info.generated_at = utc_now();
  PageStats stats;
  const std::string page = render_page(runs, info, stats);

  const std::string out_dir = o.out.empty() ? default_out_dir(o.run_dirs, dirs) : o.out;
  make_output_dir(out_dir);
  const std::string path = (std::filesystem::path(out_dir) / "index.html").string();
  write_text_atomically(path, page);
  std::cout << "wrote " << utf8_safe(path) << " (" << runs.size() << (runs.size() == 1 ? " run, " : " runs, ")
            << stats.charts << " charts, " << stats.pictures << " pictures)" << std::endl;

  nlohmann::json run_list = nlohmann::json::array();
  for (const RunData& r : runs) run_list.push_back(r.dir);
  return {{"tool", "aevb-report"},
          {"status", "ok"},
          {"exit_code", 0},
          {"report", path},
          {"runs", runs.size()},
          {"run_dirs", run_list},
          {"charts", stats.charts},
          {"pictures", stats.pictures},
          {"warnings", stats.warnings},
          {"bytes", page.size()},
          {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
}

int report_main(int argc, char** argv) {
  int code = kExitOk;
  std::string message;
  try {
    ReportOptions o;
    if (!parse_report_options(argc, argv, o)) return kExitOk;  // --help, --version
    std::cout << json_text(make_report(o)) << std::endl;
    return kExitOk;
  } catch (const Error& e) {
    code = e.code();
    message = e.what();
  } catch (const std::exception& e) {
    code = kExitInternal;
    message = std::string("internal error: ") + e.what();
  }
  std::cerr << "aevb-report: error: " << utf8_safe(message) << std::endl;
  std::cout << json_text({{"tool", "aevb-report"}, {"status", "error"}, {"exit_code", code}, {"error", message}})
            << std::endl;
  return code;
}

}  // namespace aevb::report
