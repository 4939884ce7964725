// aevb-data: convert source datasets into aevb shards, and inspect them.
//
//   aevb-data convert mnist (--mnist-dir D | --images-train F --labels-train F
//                            --images-test F --labels-test F) --out DIR [options]
//   aevb-data inspect PATH
//
// Contract for scripts: exit codes from aevb/error.hpp; errors are one line on
// stderr ("aevb-data: error: ..."); the last stdout line is a JSON summary.
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "aevb/convert_mnist.hpp"
#include "aevb/error.hpp"
#include "aevb/inspect.hpp"
#include "aevb/shard_format.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace {

constexpr const char* kTopUsage =
    "usage: aevb-data <command> [options]\n"
    "\n"
    "commands:\n"
    "  convert mnist   MNIST IDX files (gzipped or plain) -> sharded HDF5 dataset\n"
    "  inspect PATH    print a dataset's or shard's metadata and verify all checksums\n"
    "\n"
    "Run 'aevb-data <command> --help' for the options of a command.\n"
    "Exit codes: 0 ok, 2 usage, 3 bad input, 4 cannot write output.\n";

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

json convert_mnist_cmd(const std::vector<std::string>& args) {
  aevb::MnistConvertOptions o;
  std::string mnist_dir;
  po::options_description opts(
      "usage: aevb-data convert mnist (--mnist-dir D | --images-train F --labels-train F "
      "--images-test F --labels-test F) --out DIR [options]\n\noptions");
  opts.add_options()
      ("help,h", "show this help")
      ("mnist-dir", po::value(&mnist_dir), "directory holding the 4 standard MNIST files (.gz or not)")
      ("images-train", po::value(&o.images_train), "train-images-idx3-ubyte[.gz]")
      ("labels-train", po::value(&o.labels_train), "train-labels-idx1-ubyte[.gz]")
      ("images-test", po::value(&o.images_test), "t10k-images-idx3-ubyte[.gz]")
      ("labels-test", po::value(&o.labels_test), "t10k-labels-idx1-ubyte[.gz]")
      ("out", po::value(&o.out), "output dataset directory (created if missing)")
      ("shards", po::value(&o.shards)->default_value(1), "shards per split")
      ("valid-rows", po::value(&o.valid_rows)->default_value(0),
       "rows carved from train into a 'valid' split (e.g. 400)")
      ("split-seed", po::value(&o.split_seed)->default_value(0),
       "seed of the permutation that picks the valid rows")
      ("binarization", po::value(&o.binarization)->default_value("dynamic"),
       "dynamic: grey levels, binarized at training time; static: 0/1 sampled now; "
       "none: grey levels modelled as real values")
      ("binarize-seed", po::value(&o.binarize_seed)->default_value(-1),
       "seed for --binarization static")
      ("gzip", po::value(&o.gzip_level)->default_value(0), "gzip level for /data (0 = none)")
      ("force", po::bool_switch(&o.force), "replace an existing dataset in --out");
  auto vm = parse(args, opts, nullptr, "convert mnist");
  if (vm.count("help")) {
    std::cout << opts;
    return nullptr;
  }
  if (!vm.count("out")) throw aevb::usage_error("convert mnist: missing --out DIR");
  if (!mnist_dir.empty()) {
    if (vm.count("images-train") || vm.count("labels-train") || vm.count("images-test") ||
        vm.count("labels-test"))
      throw aevb::usage_error("convert mnist: give either --mnist-dir or the four file options, not both");
    o = aevb::find_mnist_files(mnist_dir, o);
  } else {
    for (const char* k : {"images-train", "labels-train", "images-test", "labels-test"})
      if (!vm.count(k))
        throw aevb::usage_error(std::string("convert mnist: missing --") + k +
                                " (or give --mnist-dir D)");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const aevb::ConvertResult r = aevb::convert_mnist(o);
  const double secs = seconds_since(t0);
  json splits = json::object();
  int64_t rows = 0;
  for (const auto& [name, s] : r.manifest.splits) {
    std::cout << name << ": " << s.rows << " rows in " << s.shards.size() << " shard(s)\n";
    splits[name] = {{"rows", s.rows}, {"shards", s.shards.size()}};
    rows += s.rows;
  }
  std::cout << "wrote " << o.out << "/" << aevb::kManifestFile << "\n";
  return {{"command", "convert"},
          {"dataset", "mnist"},
          {"out", o.out},
          {"binarization", o.binarization},
          {"splits", splits},
          {"seconds", secs},
          {"rows_per_s", secs > 0 ? rows / secs : 0.0},
          {"mb_per_s", secs > 0 ? r.input_bytes / 1e6 / secs : 0.0}};
}

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
  j["seconds"] = seconds_since(t0);
  return j;
}

json run(const std::vector<std::string>& argv, std::string& command) {
  if (argv.empty()) throw aevb::usage_error("missing command (see 'aevb-data --help')");
  command = argv[0];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kTopUsage;
    return nullptr;
  }
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (command == "convert") {
    if (rest.empty() || rest[0] == "--help" || rest[0] == "-h") {
      std::cout << "usage: aevb-data convert <source> [options]\n\nsources:\n"
                   "  mnist   MNIST IDX files (see 'aevb-data convert mnist --help')\n";
      if (rest.empty()) throw aevb::usage_error("convert: missing source (e.g. 'convert mnist')");
      return nullptr;
    }
    if (rest[0] != "mnist")
      throw aevb::usage_error("convert: unknown source '" + rest[0] + "' (known: mnist)");
    return convert_mnist_cmd(std::vector<std::string>(rest.begin() + 1, rest.end()));
  }
  if (command == "inspect") return inspect_cmd(rest);
  throw aevb::usage_error("unknown command '" + command + "' (known: convert, inspect)");
}

}  // namespace

int main(int argc, char** argv) {
  std::string command;
  int code = aevb::kExitOk;
  std::string message;
  json summary;
  try {
    summary = run(std::vector<std::string>(argv + 1, argv + argc), command);
    if (summary.is_null()) return aevb::kExitOk;  // --help
  } catch (const aevb::Error& e) {
    code = e.code();
    message = e.what();
  } catch (const std::exception& e) {
    code = aevb::kExitInternal;
    message = std::string("internal error: ") + e.what();
  }
  json line = {{"tool", "aevb-data"}, {"command", command}, {"ok", code == aevb::kExitOk}};
  if (code == aevb::kExitOk) {
    line.update(summary);
  } else {
    std::cerr << "aevb-data: error: " << message << std::endl;
    line["exit_code"] = code;
    line["error"] = message;
  }
  std::cout << line.dump() << std::endl;
  return code;
}
