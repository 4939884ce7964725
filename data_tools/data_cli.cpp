// aevb-data's shared command-line pieces (data_cli.hpp).
#include "data_cli.hpp"

#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/cli/options.hpp"
#include "aevb/convert/data_options.hpp"
#include "aevb/io/shard_format.hpp"

namespace aevb::data_cli {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Parses args for one subcommand; usage_error (exit 2) for anything Boost
// rejects, a stray argument, or a value outside data_option_rules().
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& opts,
                        const po::positional_options_description* pos, const std::string& cmd) {
  po::variables_map vm;
  const std::string see = " (see 'aevb-data " + cmd + " --help')";
  try {
    po::command_line_parser p(args);
    // No prefix guessing: `--shard 2` must not silently mean `--shards 2`.
    p.options(opts).style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing);
    if (pos) p.positional(*pos);
    po::parsed_options parsed = p.run();
    for (const auto& o : parsed.options)
      if (o.string_key.empty())  // without a positional description Boost would drop it silently
        throw aevb::usage_error("unexpected argument '" + (o.original_tokens.empty() ? "" : o.original_tokens[0]) +
                                "'" + see);
    aevb::check_option_rules(parsed, aevb::data_option_rules());
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw aevb::usage_error(std::string(e.what()) + see);
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
