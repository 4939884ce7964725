// aevb-data's subcommands for existing datasets: inspect, verify, reshard.
#include <sys/stat.h>

#include <iostream>

#include "aevb/base/error.hpp"
#include "aevb/convert/convert.hpp"
#include "aevb/convert/inspect.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/io/shard_format.hpp"
#include "data_cli.hpp"

namespace aevb::data_cli {

json inspect_cmd(const std::vector<std::string>& args) {
  std::string path;
  po::options_description opts(
      "usage: aevb-data inspect PATH\n\n"
      "PATH is a dataset directory (manifest.json + shards) or a single shard .h5 file.\n"
      "Prints the metadata, verifies every shape and checksum, exits 3 if anything is wrong.\n\n"
      "options");
  opts.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(opts).add_options()("path", po::value(&path));
  po::positional_options_description pos;
  pos.add("path", 1);
  auto vm = parse(args, all, &pos, "inspect");
  if (vm.count("help")) {
    std::cout << opts;
    return nullptr;
  }
  if (path.empty()) throw aevb::usage_error("inspect: missing PATH (see 'aevb-data inspect --help')");
  const auto t0 = std::chrono::steady_clock::now();
  json j = aevb::inspect_path(path, std::cout);
  j["command"] = "inspect";
  const double secs = seconds_since(t0);
  int64_t rows = 0, shards = 0;
  if (j.contains("splits")) {
    for (const auto& [name, sp] : j["splits"].items()) {
      rows += sp["rows"].get<int64_t>();
      shards += sp["shards"].get<int64_t>();
    }
  } else {
    rows = j["rows"].get<int64_t>();
    shards = 1;
  }
  const int64_t bytes = j["bytes"].get<int64_t>();
  j["rows"] = rows;
  j["shards"] = shards;
  j["seconds"] = secs;
  j["rows_per_s"] = secs > 0 ? rows / secs : 0.0;
  j["mb_per_s"] = secs > 0 ? bytes / 1e6 / secs : 0.0;
  return j;
}

json verify_cmd(const std::vector<std::string>& args) {
  std::string path;
  bool unit = false;
  po::options_description opts(
      "usage: aevb-data verify PATH [--unit-interval]\n\n"
      "PATH is a dataset directory or one shard file. Checks every shard's attributes against\n"
      "the manifest, shapes, the SHA-256 of /data, and that every value is finite and inside\n"
      "value_range. Exit 0 if all is well, 3 naming the first problem otherwise.\n\noptions");
  opts.add_options()("help,h", "show this help")
      ("unit-interval", po::bool_switch(&unit), "also require value x scale in [0,1] (Bernoulli decoder)");
  po::options_description all;
  all.add(opts).add_options()("path", po::value(&path));
  po::positional_options_description pos;
  pos.add("path", 1);
  auto vm = parse(args, all, &pos, "verify");
  if (vm.count("help")) {
    std::cout << opts;
    return nullptr;
  }
  if (path.empty()) throw aevb::usage_error("verify: missing PATH (see 'aevb-data verify --help')");
  const auto t0 = std::chrono::steady_clock::now();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw aevb::input_error(path + ": no such file or directory");
  int64_t rows = 0, shards = 0, bytes = 0;
  json splits = json::object();
  if (S_ISDIR(st.st_mode)) {
    const aevb::Manifest m = aevb::Manifest::load(path);
    for (const auto& [name, s] : m.splits) {
      const aevb::VerifySummary v = aevb::verify_split(m, name, {.require_unit_interval = unit});
      std::cout << name << ": " << v.rows << " rows in " << v.shards << " shard(s) OK, values in ["
                << v.min_value << "," << v.max_value << "]\n";
      splits[name] = {{"rows", v.rows}, {"shards", v.shards}, {"min", v.min_value}, {"max", v.max_value}};
      rows += v.rows;
      shards += v.shards;
      bytes += v.bytes;
    }
  } else {
    const aevb::VerifySummary v = aevb::verify_shard_file(path, {.require_unit_interval = unit});
    std::cout << path << ": " << v.rows << " rows OK, values in [" << v.min_value << ","
              << v.max_value << "]\n";
    rows = v.rows;
    shards = 1;
    bytes = v.bytes;
  }
  const double secs = seconds_since(t0);
  return {{"command", "verify"}, {"path", path}, {"ok", true}, {"checksums_verified", true},
          {"splits", splits}, {"rows", rows}, {"shards", shards}, {"bytes", bytes},
          {"seconds", secs}, {"rows_per_s", secs > 0 ? rows / secs : 0.0},
          {"mb_per_s", secs > 0 ? bytes / 1e6 / secs : 0.0}};
}

json reshard_cmd(const std::vector<std::string>& args) {
  aevb::ReshardOptions o;
  po::options_description opts(
      "usage: aevb-data reshard IN OUT (--shards N | --rows-per-shard R) [--gzip L] [--force]\n\n"
      "Rewrites every split of dataset IN into OUT with a new shard count, streaming (one\n"
      "4 MiB chunk of rows in memory). Rows, their order (so global row indices), labels and\n"
      "attributes are kept; each input shard's checksum is verified on the way. OUT may equal\n"
      "IN with --force.\n\noptions");
  opts.add_options()("help,h", "show this help")
      ("shards", po::value(&o.shards), "shards per split (capped at the split's rows)")
      ("rows-per-shard", po::value(&o.rows_per_shard), "rows per shard instead of --shards")
      ("gzip", po::value(&o.gzip_level)->default_value(0), "gzip level for /data (0 = none)")
      ("force", po::bool_switch(&o.force), "replace an existing dataset in OUT");
  po::options_description all;
  all.add(opts).add_options()("in", po::value(&o.in))("outdir", po::value(&o.out));
  po::positional_options_description pos;
  pos.add("in", 1).add("outdir", 1);
  auto vm = parse(args, all, &pos, "reshard");
  if (vm.count("help")) {
    std::cout << opts;
    return nullptr;
  }
  if (o.in.empty() || o.out.empty())
    throw aevb::usage_error("reshard: need IN and OUT (see 'aevb-data reshard --help')");
  const auto t0 = std::chrono::steady_clock::now();
  const aevb::ConvertStats r = aevb::reshard(o);
  return manifest_summary(r.manifest, o.out, r.input_bytes, seconds_since(t0), "reshard", "");
}

}  // namespace aevb::data_cli
