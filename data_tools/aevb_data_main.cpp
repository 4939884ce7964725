// aevb-data: convert source datasets into aevb shards, and inspect them.
//
//   aevb-data convert mnist (--mnist-dir D | --images-train F --labels-train F
//                            --images-test F --labels-test F) --out DIR [options]
//   aevb-data convert amat  (--amat-dir D | --train F [--valid F] [--test F]) --out DIR [options]
//   aevb-data convert frey  --input frey_rawface.mat --out DIR [options]
//   aevb-data convert csv   --input F.csv[.gz] --out DIR [--header] [--columns ...] [options]
//   aevb-data convert npy   --input F.npy --out DIR [options]
//   aevb-data inspect PATH
//   aevb-data verify PATH
//   aevb-data reshard IN OUT (--shards N | --rows-per-shard R)
//
// Contract for scripts: exit codes from aevb/base/error.hpp; errors are one line on
// stderr ("aevb-data: error: ..."); the last stdout line is a JSON summary.
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "aevb/convert/convert.hpp"
#include "aevb/convert/convert_mnist.hpp"
#include "aevb/io/dataset.hpp"
#include "aevb/base/error.hpp"
#include "aevb/base/interrupt.hpp"
#include "aevb/io/shard_format.hpp"
#include "aevb/base/version.hpp"
#include "aevb/base/utf8.hpp"
#include "data_cli.hpp"

namespace {

using namespace aevb::data_cli;

constexpr const char* kTopUsage =
    "usage: aevb-data <command> [options]\n"
    "\n"
    "commands:\n"
    "  convert mnist   MNIST IDX files (gzipped or plain) -> sharded HDF5 dataset\n"
    "  convert amat    fixed-binarization MNIST binarized_mnist_*.amat[.gz]\n"
    "  convert frey    Frey Face frey_rawface.mat (MATLAB 5, uint8 'ff' 560 x N)\n"
    "  convert csv     numeric CSV (optionally gzipped) -> float32\n"
    "  convert npy     NumPy .npy (uint8, float32, float64 -> float32)\n"
    "  inspect PATH    print a dataset's or shard's metadata and verify all checksums\n"
    "  verify PATH     verify checksums, shapes and value ranges (exit 0 ok, 3 bad)\n"
    "  reshard IN OUT  rewrite a dataset with another shard count (streaming)\n"
    "\n"
    "Run 'aevb-data <command> --help' for the options of a command; 'aevb-data --version' prints the version.\n"
    "Exit codes: 0 ok, 2 usage, 3 bad input, 4 cannot write output (also: another\n"
    "conversion holds the output directory's lock).\n"
    "SIGINT, SIGTERM or SIGHUP during convert or reshard: the temp files are removed,\n"
    "any dataset already in --out is left as it was, and aevb-data dies of the signal\n"
    "(shell status 128 + signal: 130, 143, 129).\n"
    "The last stdout line is one JSON object (rows, shards, seconds, rows_per_s,\n"
    "mb_per_s, peak_rss_mb, ...).\n";

constexpr const char* kConvertSources = "mnist, amat, frey, csv, npy";

// Options every converter but mnist shares (see docs/data-format.md).
void add_common(po::options_description& opts, aevb::CommonOptions& c, bool with_split) {
  opts.add_options()
      ("out", po::value(&c.out), "output dataset directory (created if missing)")
      ("name", po::value(&c.name), "dataset name recorded in manifest.json")
      ("shards", po::value(&c.shards), "shards per split (capped at the split's rows)")
      ("rows-per-shard", po::value(&c.rows_per_shard),
       "rows per shard instead of --shards (default: 1 shard per split)");
  if (with_split)
    opts.add_options()
        ("split", po::value(&c.split)->default_value("train=rest"),
         "consecutive splits of the (shuffled) rows: name=COUNT|FRACTION|rest,... e.g. "
         "train=0.8,valid=0.1,test=0.1 or train=50000,valid=10000,test=rest");
  opts.add_options()
      ("shuffle-seed", po::value(&c.shuffle_seed),
       "shuffle rows with this seed before splitting/sharding (holds all rows in memory)")
      ("memory-budget", po::value(&c.memory_budget_mb)->default_value(2048),
       "MiB of rows --shuffle-seed may hold in memory; larger inputs are refused")
      ("gzip", po::value(&c.gzip_level)->default_value(0), "gzip level for /data (0 = none)")
      ("force", po::bool_switch(&c.force),
       "replace an existing dataset in --out (the old one stays readable until the new one is committed)");
}

template <class Opt, class F>
json run_convert(const std::string& source, const std::vector<std::string>& args,
                 po::options_description& opts, Opt& o, F convert,
                 const std::function<void(const po::variables_map&)>& check = {}) {
  auto vm = parse(args, opts, nullptr, "convert " + source);
  if (vm.count("help")) {
    std::cout << opts;
    return nullptr;
  }
  if (!vm.count("out")) throw aevb::usage_error("convert " + source + ": missing --out DIR");
  if (check) check(vm);
  const auto t0 = std::chrono::steady_clock::now();
  const aevb::ConvertStats r = convert(o);
  return manifest_summary(r.manifest, o.common.out, r.input_bytes, seconds_since(t0), "convert",
                          source);
}

json convert_amat_cmd(const std::vector<std::string>& args) {
  aevb::AmatOptions o;
  std::string dir;
  po::options_description opts(
      "usage: aevb-data convert amat (--amat-dir D | --train F [--valid F] [--test F]) --out DIR "
      "[options]\n\n"
      "Fixed-binarization MNIST (Larochelle & Murray): one image per line, 784 space-separated\n"
      "0/1 values, plain or gzipped. Each file becomes its split; stored as uint8 0/1, scale 1,\n"
      "binarization static (seed -1: fixed, unknown).\n\noptions");
  opts.add_options()("help,h", "show this help")
      ("amat-dir", po::value(&dir), "directory holding binarized_mnist_{train,valid,test}.amat[.gz]")
      ("train", po::value(&o.train), "binarized_mnist_train.amat[.gz]")
      ("valid", po::value(&o.valid), "binarized_mnist_valid.amat[.gz]")
      ("test", po::value(&o.test), "binarized_mnist_test.amat[.gz]");
  add_common(opts, o.common, false);
  return run_convert("amat", args, opts, o, [&](aevb::AmatOptions& x) {
    if (!dir.empty()) {
      if (!x.train.empty() || !x.valid.empty() || !x.test.empty())
        throw aevb::usage_error("convert amat: give either --amat-dir or --train/--valid/--test, not both");
      x = aevb::find_amat_files(dir, x);
    }
    return aevb::convert_amat(x);
  });
}

json convert_frey_cmd(const std::vector<std::string>& args) {
  aevb::FreyOptions o;
  po::options_description opts(
      "usage: aevb-data convert frey --input frey_rawface.mat --out DIR [options]\n\n"
      "Frey Face: MATLAB 5 file with uint8 variable 'ff' of size 560 x N; image i is column i,\n"
      "read as 28 rows x 20 columns. Stored as uint8 grey levels, scale 1/255, binarization none\n"
      "(modelled with the Gaussian decoder).\n\noptions");
  opts.add_options()("help,h", "show this help")
      ("input", po::value(&o.input), "frey_rawface.mat");
  add_common(opts, o.common, true);
  return run_convert("frey", args, opts, o, [](aevb::FreyOptions& x) { return aevb::convert_frey(x); });
}

json convert_csv_cmd(const std::vector<std::string>& args) {
  aevb::CsvOptions o;
  std::string delim = ",", range;
  po::options_description opts(
      "usage: aevb-data convert csv --input F.csv[.gz] --out DIR [options]\n\n"
      "Numeric CSV -> float32 rows (one row per non-blank line). Columns are numbered from 0.\n"
      "Streams: two passes over the file (count, then convert), bounded memory.\n\noptions");
  opts.add_options()("help,h", "show this help")
      ("input", po::value(&o.input), "CSV file, plain or gzipped")
      ("header", po::bool_switch(&o.header), "the first line holds column names")
      ("columns", po::value(&o.columns),
       "columns to store, in this order: indices (0,2,5) or names with --header (default: all but the label)")
      ("label-column", po::value(&o.label_column), "integer class label column (index or name) -> /labels int64")
      ("delimiter", po::value(&delim)->default_value(","), "field separator (one character; 'tab' for \\t)")
      ("scale", po::value(&o.scale)->default_value(1.0), "model input = stored value x scale")
      ("value-range", po::value(&range), "LO,HI: values outside are errors (default: any finite float32)");
  add_common(opts, o.common, true);
  return run_convert("csv", args, opts, o, [&](aevb::CsvOptions& x) {
    if (delim == "tab") delim = "\t";
    if (delim.size() != 1) throw aevb::usage_error("--delimiter must be one character, got '" + delim + "'");
    x.delimiter = delim[0];
    if (!range.empty()) x.value_range = aevb::parse_value_range(range, "--value-range");
    return aevb::convert_csv(x);
  });
}

json convert_npy_cmd(const std::vector<std::string>& args) {
  aevb::NpyOptions o;
  std::string range;
  po::options_description opts(
      "usage: aevb-data convert npy --input F.npy --out DIR [options]\n\n"
      "NumPy .npy (format 1.0-3.0, C order): dtype uint8 is stored as uint8, float32 and float64\n"
      "as float32. Shape (N, d1, d2, ...) gives N rows of row_shape [d1, d2, ...]; (N,) gives [1].\n\noptions");
  opts.add_options()("help,h", "show this help")
      ("input", po::value(&o.input), ".npy file")
      ("scale", po::value(&o.scale)->default_value(1.0), "model input = stored value x scale")
      ("value-range", po::value(&range),
       "LO,HI: values outside are errors (default: [0,255] for uint8, any finite float32 otherwise)");
  add_common(opts, o.common, true);
  return run_convert("npy", args, opts, o, [&](aevb::NpyOptions& x) {
    if (!range.empty()) x.value_range = aevb::parse_value_range(range, "--value-range");
    return aevb::convert_npy(x);
  });
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
  json j = manifest_summary(r.manifest, o.out, r.input_bytes, secs, "convert", "mnist");
  j["binarization"] = o.binarization;
  return j;
}

json run(const std::vector<std::string>& argv, std::string& command) {
  if (argv.empty()) throw aevb::usage_error("missing command (see 'aevb-data --help')");
  command = argv[0];
  if (command == "--version") {
    std::cout << "aevb-data " << aevb::version() << std::endl;
    return nullptr;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kTopUsage;
    return nullptr;
  }
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  // Only the commands that write poll for the signals (base/interrupt.hpp).
  if (command == "convert" || command == "reshard") aevb::install_interrupt_handlers();
  if (command == "convert") {
    if (rest.empty() || rest[0] == "--help" || rest[0] == "-h") {
      std::cout << "usage: aevb-data convert <source> [options]\n\nsources:\n"
                   "  mnist   MNIST IDX files (see 'aevb-data convert mnist --help')\n"
                   "  amat    fixed-binarization MNIST .amat text\n"
                   "  frey    Frey Face .mat\n"
                   "  csv     numeric CSV\n"
                   "  npy     NumPy .npy\n";
      if (rest.empty()) throw aevb::usage_error("convert: missing source (e.g. 'convert mnist')");
      return nullptr;
    }
    const std::vector<std::string> sub(rest.begin() + 1, rest.end());
    if (rest[0] == "mnist") return convert_mnist_cmd(sub);
    if (rest[0] == "amat") return convert_amat_cmd(sub);
    if (rest[0] == "frey") return convert_frey_cmd(sub);
    if (rest[0] == "csv") return convert_csv_cmd(sub);
    if (rest[0] == "npy") return convert_npy_cmd(sub);
    throw aevb::usage_error("convert: unknown source '" + rest[0] + "' (known: " + kConvertSources + ")");
  }
  if (command == "inspect") return inspect_cmd(rest);
  if (command == "verify") return verify_cmd(rest);
  if (command == "reshard") return reshard_cmd(rest);
  throw aevb::usage_error("unknown command '" + command + "' (known: convert, inspect, verify, reshard)");
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
  } catch (const aevb::Interrupted& e) {
    // The writer's temp files are gone (unwinding); say so, then die of the
    // signal so that whoever sent it sees "killed by signal".
    code = 128 + e.sig;
    message = std::string("interrupted by ") + (e.sig == SIGINT ? "SIGINT" : e.sig == SIGTERM ? "SIGTERM" : "SIGHUP") +
              ": temp files removed, no dataset written (an existing one in the output directory is unchanged)";
    std::cerr << "aevb-data: " << message << std::endl;
    std::cout << aevb::json_text({{"tool", "aevb-data"}, {"command", command}, {"status", "error"}, {"ok", false}, {"exit_code", code},
                                  {"signal", e.sig}, {"error", message}})
              << std::endl;
    aevb::die_of_signal(e.sig);
    return code;
  } catch (const std::exception& e) {
    code = aevb::kExitInternal;
    message = std::string("internal error: ") + e.what();
  }
  // "status" as aevb-train and aevb-eval write it; "ok" stays for older scripts.
  json line = {{"tool", "aevb-data"},
               {"command", command},
               {"status", code == aevb::kExitOk ? "ok" : "error"},
               {"ok", code == aevb::kExitOk}};
  if (code == aevb::kExitOk) {
    line.update(summary);
  } else {
    std::cerr << "aevb-data: error: " << aevb::utf8_safe(message) << std::endl;
    line["exit_code"] = code;
    line["error"] = message;
  }
  line["peak_rss_mb"] = aevb::peak_rss_mb();
  std::cout << aevb::json_text(line) << std::endl;
  return code;
}
