// aevb-data's shared command-line pieces (data_cli.hpp).
#include "data_cli.hpp"

#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/io/shard_format.hpp"

namespace aevb::data_cli {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Parses args for one subcommand; usage_error (exit 2) for anything Boost rejects.
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& opts,
                        const po::positional_options_description* pos, const std::string& cmd) {
  po::variables_map vm;
  try {
    po::command_line_parser p(args);
    p.options(opts);
    if (pos) p.positional(*pos);
    po::store(p.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw aevb::usage_error(std::string(e.what()) + " (see 'aevb-data " + cmd + " --help')");
  }
  return vm;
}

json manifest_summary(const aevb::Manifest& m, const std::string& out, int64_t input_bytes,
                      double secs, const std::string& command, const std::string& source) {
  json splits = json::object();
  int64_t rows = 0, shards = 0;
  for (const auto& [name, s] : m.splits) {
    std::cout << name << ": " << s.rows << " rows of " << aevb::shape_string(s.row_shape) << " "
              << s.dtype << " in " << s.shards.size() << " shard(s)\n";
    splits[name] = {{"rows", s.rows}, {"shards", s.shards.size()}};
    rows += s.rows;
    shards += static_cast<int64_t>(s.shards.size());
  }
  std::cout << "wrote " << out << "/" << aevb::kManifestFile << "\n";
  json j = {{"command", command}, {"out", out},         {"splits", splits},
            {"rows", rows},       {"shards", shards},   {"input_bytes", input_bytes},
            {"seconds", secs},    {"rows_per_s", secs > 0 ? rows / secs : 0.0},
            {"mb_per_s", secs > 0 ? input_bytes / 1e6 / secs : 0.0}};
  if (!source.empty()) j["dataset"] = source;
  return j;
}

}  // namespace aevb::data_cli
