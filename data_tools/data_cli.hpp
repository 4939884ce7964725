// Pieces of the aevb-data executable shared by its subcommand files
// (aevb_data_main.cpp: usage, dispatch and the converters' options;
// dataset_commands.cpp: inspect, verify, reshard). Not a library header.
#pragma once
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "aevb/io/dataset.hpp"

namespace aevb::data_cli {

namespace po = boost::program_options;
using nlohmann::json;

double seconds_since(std::chrono::steady_clock::time_point t0);

// Parses args for one subcommand; usage_error (exit 2) for anything Boost rejects.
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& opts,
                        const po::positional_options_description* pos, const std::string& cmd);

// Prints the splits written and returns the summary JSON of a conversion.
json manifest_summary(const Manifest& m, const std::string& out, int64_t input_bytes, double secs,
                      const std::string& command, const std::string& source);

// The subcommands for existing datasets; nullptr after --help.
json inspect_cmd(const std::vector<std::string>& args);
json verify_cmd(const std::vector<std::string>& args);
json reshard_cmd(const std::vector<std::string>& args);

}  // namespace aevb::data_cli
