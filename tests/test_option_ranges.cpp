// The declarative option-range tables (aevb/cli/option_rules.hpp): the rule
// logic against exact cases, docs/options.md identical to the tables, and each
// executable refusing values outside them with exit 2 and one message.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "aevb/base/error.hpp"
#include "aevb/cli/option_rules.hpp"
#include "aevb/cli/options.hpp"
#include "aevb/convert/data_options.hpp"
#include "aevb/infer/infer_config.hpp"
#include "aevb/eval/eval_config.hpp"
#include "aevb/train/train_config.hpp"
#include "data_test_util.hpp"


namespace {

using aevb::OptionRule;
using namespace aevb::testing;

TEST(OptionRule, RealBoundsAreFiniteAndOpenOrClosed) {
  const OptionRule r = OptionRule::real("x").ge(0).lt(1);
  EXPECT_EQ(r.describe(), "a finite number in [0, 1)");
  EXPECT_EQ(r.check("0"), "");
  EXPECT_EQ(r.check("0.999"), "");
  EXPECT_EQ(r.check("1"), "expected a finite number in [0, 1)");
  EXPECT_EQ(r.check("-0.001"), "expected a finite number in [0, 1)");
  for (const char* bad : {"nan", "inf", "-inf", "1e999", "", " 0.5", "0.5x", "abc"})
    EXPECT_NE(OptionRule::real("y").check(bad), "") << bad;
  EXPECT_EQ(OptionRule::real("y").check("-1e30"), "");
  EXPECT_EQ(OptionRule::real("z").gt(0).describe(), "a finite number > 0");
  EXPECT_NE(OptionRule::real("z").gt(0).check("0"), "");
  EXPECT_EQ(OptionRule::real("z").gt(0).check("1e-300"), "");
}

TEST(OptionRule, IntegersWithSpecialValues) {
  const OptionRule r = OptionRule::integer("rows").ge(1).or_value(-1, "all");
  EXPECT_EQ(r.describe(), "an integer >= 1, or -1 (all)");
  EXPECT_EQ(r.check("-1"), "");
  EXPECT_EQ(r.check("1"), "");
  EXPECT_EQ(r.check("9223372036854775807"), "");
  for (const char* bad : {"0", "-2", "1.5", "1e3", "9223372036854775808", "", "+", "0x10"})
    EXPECT_NE(r.check(bad), "") << bad;
  EXPECT_EQ(OptionRule::integer("g").ge(0).le(9).describe(), "an integer in [0, 9]");
}

TEST(OptionRule, Words) {
  const OptionRule r = OptionRule::words("mode", {"on", "off"});
  EXPECT_EQ(r.describe(), "one of: on, off");
  EXPECT_EQ(r.check("on"), "");
  EXPECT_NE(r.check("On"), "");
  EXPECT_NE(r.check(""), "");
}

// docs/options.md holds each table between marker lines. After changing a
// rule: AEVB_UPDATE_DOCS=1 build/tests/aevb_tests --gtest_filter='*DocsList*'
// rewrites them (golden-file style), then review the diff.
TEST(OptionRule, DocsListEveryRangeExactlyAsTheCode) {
  std::ifstream f(std::string(AEVB_SOURCE_DIR) + "/docs/options.md");
  ASSERT_TRUE(f) << "docs/options.md missing";
  std::stringstream ss;
  ss << f.rdbuf();
  std::string doc = ss.str();
  const bool update = std::getenv("AEVB_UPDATE_DOCS") != nullptr;
  const std::pair<const char*, const aevb::OptionRules*> tables[] = {
      {"aevb-train", &aevb::train_option_rules()},
      {"aevb-eval", &aevb::eval_option_rules()},
      {"aevb-data", &aevb::data_option_rules()},
      {"aevb-infer", &aevb::infer_option_rules()}};
  for (const auto& [tool, rules] : tables) {
    const std::string begin = std::string("<!-- ranges:") + tool + " -->\n", end = "<!-- /ranges -->";
    const size_t b = doc.find(begin);
    ASSERT_NE(b, std::string::npos) << "no " << begin << " in docs/options.md";
    const size_t e = doc.find(end, b);
    ASSERT_NE(e, std::string::npos);
    if (update) doc.replace(b + begin.size(), e - b - begin.size(), aevb::option_rules_markdown(*rules));
    else EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), aevb::option_rules_markdown(*rules))
        << "docs/options.md is out of date for " << tool;
  }
  if (update) std::ofstream(std::string(AEVB_SOURCE_DIR) + "/docs/options.md") << doc;
}

// Every default value is inside its own rule (the defaults are not parsed
// from text, so nothing else checks them).
// (The configuration file lists the IWAE and full-VB options only when they
// apply: the defaults are read from a second configuration that uses them.)
TEST(OptionRule, DefaultsAreInsideTheirRules) {
  std::set<std::string> checked;
  for (std::vector<std::string> args : {std::vector<std::string>{"aevb-train", "--data", "d"},
                                        {"aevb-train", "--data", "d", "--objective", "iwae", "--bayes", "full"}}) {
    aevb::TrainConfig t;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    EXPECT_TRUE(aevb::parse_train_config(static_cast<int>(argv.size()), argv.data(), t, false));
    std::istringstream ini(t.to_ini());
    std::string line;
    while (std::getline(ini, line)) {
      const size_t eq = line.find(" = ");
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      for (const OptionRule& r : aevb::train_option_rules())
        if (r.name() == line.substr(0, eq)) {
          EXPECT_EQ(r.check(line.substr(eq + 3)), "") << line;
          checked.insert(r.name());
        }
    }
  }
  EXPECT_EQ(checked.size(), aevb::train_option_rules().size());
}

TEST(ConfigFile, ErrorsNameTheFileAndLine) {
  TempDir d;
  namespace po = boost::program_options;
  po::options_description desc;
  double lr = 0;
  int n = 0;  // no rule: Boost's own conversion error, with the file and line
  desc.add_options()("lr", po::value(&lr))("n", po::value(&n));
  const aevb::OptionRules rules = {OptionRule::real("lr").gt(0)};
  auto error_of = [&](const std::string& text) {
    std::ofstream(d / "c.ini") << text;
    po::variables_map vm;
    try {
      aevb::store_config_file(d / "c.ini", desc, rules, vm);
    } catch (const aevb::Error& e) {
      EXPECT_EQ(e.code(), 2);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string f = d / "c.ini";
  EXPECT_EQ(error_of("# c\n\nlr = 0.5\n"), "no error");
  EXPECT_EQ(error_of("lr = 0.5 # a comment\n  # another\n"), "no error");
  EXPECT_EQ(error_of("lr = 0.5#x\n"), "--lr (in " + f + ":1): expected a finite number > 0, got '0.5#x'");
  EXPECT_EQ(error_of("lr = 0\n"), "--lr (in " + f + ":1): expected a finite number > 0, got '0'");
  EXPECT_EQ(error_of("\n[s]\n"), "--config " + f + ":2: expected 'name = value', got '[s]'");
  EXPECT_EQ(error_of("lr = " + std::string(5000, '1') + "\n"),
            "--config " + f + ":1: line of 5005 bytes; at most 4096 are allowed");
  EXPECT_EQ(error_of("lr = abc\n"), "--lr (in " + f + ":1): expected a finite number > 0, got 'abc'");
  EXPECT_EQ(error_of("lr = 1\nn = abc\n").rfind("--config " + f + ":2: ", 0), 0u);
}

struct DataCase {
  const char* name;
  const char* args;
  const char* message;
};

class DataOptionRanges : public ::testing::TestWithParam<DataCase> {};

TEST_P(DataOptionRanges, ExitTwoNamingOptionValueAndRange) {
  TempDir d;
  std::ofstream(d / "in.csv") << "1,2\n3,4\n5,6\n";
  std::string args = GetParam().args, message = GetParam().message;
  for (std::string* s : {&args, &message})
    for (size_t p; (p = s->find("{dir}")) != std::string::npos;) s->replace(p, 5, d.path);
  const RunResult r = run_data_tool(args, d);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "aevb-data: error: " + message + "\n");
  const nlohmann::json last = nlohmann::json::parse(r.last_out_line());
  EXPECT_EQ(last["status"], "error");
  EXPECT_EQ(last["exit_code"], 2);
  EXPECT_FALSE(std::filesystem::exists(d / "out/manifest.json"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DataOptionRanges,
    ::testing::Values(
        DataCase{"ScaleNan", "convert csv --input {dir}/in.csv --out {dir}/out --scale nan",
                 "--scale: expected a finite number > 0, got 'nan'"},
        DataCase{"ScaleNegative", "convert csv --input {dir}/in.csv --out {dir}/out --scale -1",
                 "--scale: expected a finite number > 0, got '-1'"},
        DataCase{"RowsPerShardZero", "convert csv --input {dir}/in.csv --out {dir}/out --rows-per-shard 0",
                 "--rows-per-shard: expected an integer >= 1, got '0'"},
        DataCase{"GzipTen", "convert csv --input {dir}/in.csv --out {dir}/out --gzip 10",
                 "--gzip: expected an integer in [0, 9], got '10'"},
        DataCase{"ShardsZeroForMnist", "convert mnist --mnist-dir {dir} --out {dir}/out --shards 0",
                 "--shards: expected an integer in [1, 1048576], got '0'"},
        DataCase{"BinarizationWord", "convert mnist --mnist-dir {dir} --out {dir}/out --binarization yes",
                 "--binarization: expected one of: dynamic, static, none, got 'yes'"},
        DataCase{"NoPrefixGuessing", "convert csv --input {dir}/in.csv --out {dir}/out --shard 2",
                 "unrecognised option '--shard' (see 'aevb-data convert csv --help')"},
        DataCase{"StrayArgument", "convert csv --input {dir}/in.csv --out {dir}/out extra",
                 "unexpected argument 'extra' (see 'aevb-data convert csv --help')"},
        DataCase{"EmptySplit", "convert csv --input {dir}/in.csv --out {dir}/out --split train=3,test=0",
                 "--split: split 'test' would have no rows ({dir}/in.csv has 3 rows); leave it out of --split"}),
    [](const ::testing::TestParamInfo<DataCase>& i) { return i.param.name; });

class EvalOptionRanges : public ::testing::TestWithParam<DataCase> {};

TEST_P(EvalOptionRanges, ExitTwoBeforeReadingAnything) {
  TempDir d;
  const RunResult r = run_tool("aevb-eval", std::string("--model m.h5 --data d ") + GetParam().args, d, "eval");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, std::string("aevb-eval: error: ") + GetParam().message + "\n");
  EXPECT_EQ(nlohmann::json::parse(r.last_out_line())["exit_code"], 2);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EvalOptionRanges,
    ::testing::Values(
        DataCase{"ProgressNan", "--progress-every nan", "--progress-every: expected a finite number >= 0, got 'nan'"},
        DataCase{"MaxPointsZero", "--max-points 0", "--max-points: expected an integer >= 1, or -1 (all), got '0'"},
        DataCase{"SeedNegative", "--seed -3", "--seed: expected an integer >= 0, got '-3'"},
        DataCase{"PriorSamplesTooMany", "--prior-samples 16777216",
                 "--prior-samples: expected an integer in [0, 16777216), got '16777216'"},
        DataCase{"StrayArgument", "results.h5",
                 "unexpected argument 'results.h5' (every value belongs to an option: --name value)"}),
    [](const ::testing::TestParamInfo<DataCase>& i) { return i.param.name; });

}  // namespace
