// `aevb-data inspect`: print a dataset's (or one shard's) metadata and verify
// every shape and checksum. Throws input_error on the first problem found.
#pragma once
#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

namespace aevb {

// path: a dataset directory (with manifest.json) or a single shard file.
// Writes a human-readable report to `out`; returns the JSON summary.
nlohmann::json inspect_path(const std::string& path, std::ostream& out);

}  // namespace aevb
