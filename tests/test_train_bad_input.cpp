// aevb-train's every bad-input path, as a user meets it: the real binary, one
// clear message (exact text), the documented exit code, a JSON summary line
// with status "error", and no output left behind.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;

struct BadCase {
  const char* name;
  const char* args;         // {data} {out} {dir} substituted
  int exit_code;
  const char* message;      // expected stderr, {data} {out} {dir} substituted
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name << ": " << c.args; }

std::string subst(std::string s, const TempDir& d) {
  for (auto [k, v] : {std::pair<std::string, std::string>{"{data}", d / "data"}, {"{out}", d / "run"}, {"{dir}", d.path}}) {
    for (size_t p; (p = s.find(k)) != std::string::npos;) s.replace(p, k.size(), v);
  }
  return s;
}

class TrainBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(TrainBadInput, FailsWithOneClearMessageAndLeavesNoOutput) {
  const BadCase& c = GetParam();
  TempDir d;
  const std::string name = c.name;
  if (name == "ValueOutsideUnitInterval")
    write_float_dataset(d / "data", 10, 4, [](int64_t i, int64_t j) { return i == 7 && j == 2 ? 1.5f : 0.25f; });
  else if (name == "NanInFloatData")
    write_float_dataset(d / "data", 10, 4, [](int64_t i, int64_t j) { return i == 3 && j == 1 ? NAN : 0.25f; });
  else
    write_bars_dataset(d / "data", 100);
  std::ofstream(d / "file") << "a regular file";
  std::ofstream(d / "unknown.ini") << "# a comment\nlr = 0.01\nbogus = 3\n";
  std::ofstream(d / "range.ini") << "lr = inf   # not a learning rate\n";
  std::ofstream(d / "twice.ini") << "lr = 0.1\n\nlr = 0.2\n";
  std::ofstream(d / "noeq.ini") << "lr 0.1\n";
  fs::create_directories(d / "modeldir");
  const RunResult r = run_train(subst(c.args, d), d);
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  EXPECT_EQ(r.err, subst(c.message, d) + "\n");
  EXPECT_FALSE(fs::exists(d / "run/model.h5"));
  EXPECT_FALSE(fs::exists(d / "file/run"));
  // The last stdout line is the JSON summary, on failure too.
  const json last = json::parse(r.last_out_line());
  EXPECT_EQ(last["tool"], "aevb-train");
  EXPECT_EQ(last["status"], "error");
  EXPECT_EQ(last["exit_code"], c.exit_code);
  EXPECT_EQ("aevb-train: error: " + last["error"].get<std::string>() + "\n", r.err);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TrainBadInput,
    ::testing::Values(
        BadCase{"UnknownOption", "--data {data} --out {out} --bogus 3", 2,
                "aevb-train: error: unrecognised option '--bogus'"},
        BadCase{"BadOptionValue", "--data {data} --out {out} --estimator C", 2,
                "aevb-train: error: --estimator: expected one of: A, B, got 'C'"},
        BadCase{"BadHiddenList", "--data {data} --out {out} --hidden 500,x", 2,
                "aevb-train: error: --hidden: expected a comma-separated list of positive layer sizes (e.g. 500 or "
                "200,200) or none, got '500,x'"},
        BadCase{"MissingDataset", "--data {dir}/nope --out {out}", 3,
                "aevb-train: error: {dir}/nope/manifest.json: cannot open (is {dir}/nope an aevb dataset directory?)"},
        BadCase{"UnwritableOutputDir", "--data {data} --out {dir}/file/run", 4,
                "aevb-train: error: cannot create output directory {dir}/file/run: Not a directory"},
        BadCase{"ValueOutsideUnitInterval", "--data {data} --out {out}", 3,
                "aevb-train: error: {data}/train-00000-of-00001.h5: value 1.5 (stored 1.5 * scale 1) at row 7 of the "
                "shard (global row 7), column 2 is outside [0,1], which the Bernoulli decoder requires"},
        BadCase{"NanInFloatData", "--data {data} --out {out} --decoder gaussian", 3,
                "aevb-train: error: {data}/train-00000-of-00001.h5: non-finite value nan in /data at row 3 of the shard "
                "(global row 3), column 1"},
        BadCase{"DynamicBinarizationWithGaussian", "--data {data} --out {out} --decoder gaussian --binarize dynamic",
                2, "aevb-train: error: --binarize dynamic: only meaningful with --decoder bernoulli"},
        // Issue 9, bug 3: values outside an option's range (the table in train_option_rules()).
        BadCase{"LrInfinite", "--data {data} --out {out} --lr inf", 2,
                "aevb-train: error: --lr: expected a finite number > 0, got 'inf'"},
        BadCase{"InitStdInfinite", "--data {data} --out {out} --init-std inf", 2,
                "aevb-train: error: --init-std: expected a finite number > 0, got 'inf'"},
        BadCase{"PriorPrecisionInfinite", "--data {data} --out {out} --weight-prior-precision inf", 2,
                "aevb-train: error: --weight-prior-precision: expected a finite number >= 0, got 'inf'"},
        BadCase{"StepGammaNegative", "--data {data} --out {out} --lr-step-gamma -1", 2,
                "aevb-train: error: --lr-step-gamma: expected a finite number in (0, 1], got '-1'"},
        BadCase{"StepGammaZero", "--data {data} --out {out} --lr-step-gamma 0", 2,
                "aevb-train: error: --lr-step-gamma: expected a finite number in (0, 1], got '0'"},
        BadCase{"StepEpochsZero", "--data {data} --out {out} --lr-step-epochs 0", 2,
                "aevb-train: error: --lr-step-epochs: expected an integer >= 1, got '0'"},
        BadCase{"MomentumTwo", "--data {data} --out {out} --momentum 2", 2,
                "aevb-train: error: --momentum: expected a finite number in [0, 1), got '2'"},
        BadCase{"AdamBeta1AboveOne", "--data {data} --out {out} --adam-beta1 1.5", 2,
                "aevb-train: error: --adam-beta1: expected a finite number in [0, 1), got '1.5'"},
        BadCase{"AdagradEpsNegative", "--data {data} --out {out} --adagrad-eps -1", 2,
                "aevb-train: error: --adagrad-eps: expected a finite number > 0, got '-1'"},
        BadCase{"CheckpointSecondsNan", "--data {data} --out {out} --checkpoint-every-seconds nan", 2,
                "aevb-train: error: --checkpoint-every-seconds: expected a finite number >= 0, got 'nan'"},
        BadCase{"CheckpointSecondsNegative", "--data {data} --out {out} --checkpoint-every-seconds -5", 2,
                "aevb-train: error: --checkpoint-every-seconds: expected a finite number >= 0, got '-5'"},
        BadCase{"ProgressEveryNegative", "--data {data} --out {out} --progress-every -1", 2,
                "aevb-train: error: --progress-every: expected a finite number >= 0, got '-1'"},
        BadCase{"MaxTrainRowsMinusTwo", "--data {data} --out {out} --max-train-rows -2", 2,
                "aevb-train: error: --max-train-rows: expected an integer >= 1, or -1 (all), got '-2'"},
        BadCase{"SeedNegative", "--data {data} --out {out} --seed -1", 2,
                "aevb-train: error: --seed: expected an integer >= 0, got '-1'"},
        BadCase{"WordOutsideList", "--data {data} --out {out} --overlap maybe", 2,
                "aevb-train: error: --overlap: expected one of: on, off, auto, got 'maybe'"},
        // Bug 4: silent nonsense.
        BadCase{"ConfigIsADirectory", "--data {data} --out {out} --config {dir}", 2,
                "aevb-train: error: --config {dir}: is a directory; expected an INI file of 'name = value' lines"},
        BadCase{"EmptyTestSplitAsked", "--data {data} --out {out} --max-test-rows 0", 2,
                "aevb-train: error: --max-test-rows: expected an integer >= 1, or -1 (all), got '0'"},
        BadCase{"StrayPositionalArgument", "--data {data} --out {out} 50", 2,
                "aevb-train: error: unexpected argument '50' (every value belongs to an option: --name value)"},
        BadCase{"NoPrefixGuessing", "--data {data} --out {out} --epoch 2", 2,
                "aevb-train: error: unrecognised option '--epoch'"},
        BadCase{"BatchLargerThanSplit", "--data {data} --out {out} --batch 101", 2,
                "aevb-train: error: --batch 101: larger than the 100 training rows of split 'train' of {data}; "
                "use --batch 100 or less"},
        // Bug 9: config-file errors name the file and the line.
        BadCase{"ConfigUnknownOption", "--data {data} --out {out} --config {dir}/unknown.ini", 2,
                "aevb-train: error: --config {dir}/unknown.ini:3: unrecognised option 'bogus'"},
        BadCase{"ConfigValueOutOfRange", "--data {data} --out {out} --config {dir}/range.ini", 2,
                "aevb-train: error: --lr (in {dir}/range.ini:1): expected a finite number > 0, got 'inf'"},
        BadCase{"ConfigOptionTwice", "--data {data} --out {out} --config {dir}/twice.ini", 2,
                "aevb-train: error: --config {dir}/twice.ini:3: 'lr' is already set on line 1"},
        BadCase{"ConfigLineWithoutEquals", "--data {data} --out {out} --config {dir}/noeq.ini", 2,
                "aevb-train: error: --config {dir}/noeq.ini:1: expected 'name = value', got 'lr 0.1'"},
        // Options that contradict each other (issue 11).
        BadCase{"IwaeWithAnalyticKl", "--data {data} --out {out} --objective iwae --estimator B", 2,
                "aevb-train: error: --objective iwae: weights estimator A's sampled terms; --estimator B (analytic KL) "
                "does not apply, drop it or give --estimator A"},
        BadCase{"IwaeWithSamples", "--data {data} --out {out} --objective iwae --samples 3", 2,
                "aevb-train: error: --objective iwae: the samples per point are --iwae-k (got --samples 3); drop "
                "--samples"},
        BadCase{"IwaeKWithoutIwae", "--data {data} --out {out} --iwae-k 5", 2,
                "aevb-train: error: --iwae-k: only used with --objective iwae (got --objective elbo)"},
        BadCase{"IwaeKZero", "--data {data} --out {out} --objective iwae --iwae-k 0", 2,
                "aevb-train: error: --iwae-k: expected an integer in [1, 16777216), got '0'"},
        BadCase{"BayesKlWithoutBayes", "--data {data} --out {out} --bayes-kl sampled", 2,
                "aevb-train: error: --bayes-kl: only used with --bayes full"},
        BadCase{"BayesWithoutPrior", "--data {data} --out {out} --bayes full --weight-prior-precision 0", 2,
                "aevb-train: error: --bayes full: needs a proper prior over the weights, --weight-prior-precision > 0 "
                "(got 0)"},
        BadCase{"KeepBestWithoutValidation", "--data {data} --out {out} --keep-best on", 2,
                "aevb-train: error: --keep-best on: needs a validation split (--valid-split NAME)"},
        BadCase{"GatherWithFullVb", "--data {data} --out {out} --bayes full --reduction gather", 2,
                "aevb-train: error: --reduction gather: not with --bayes full (the decoder's weights are sampled per "
                "row); use allreduce or auto"},
        BadCase{"ReductionOutsideList", "--data {data} --out {out} --reduction ring", 2,
                "aevb-train: error: --reduction: expected one of: auto, allreduce, gather, got 'ring'"},
        BadCase{"ValidationSplitMissing", "--data {data} --out {out} --valid-split valid", 3,
                "aevb-train: error: {data}/manifest.json: no split 'valid' (available: test, train)"},
        // Bug 10: outputs checked before training, naming the option.
        BadCase{"ModelOutIsADirectory", "--data {data} --out {out} --model-out {dir}/modeldir", 4,
                "aevb-train: error: --model-out {dir}/modeldir: is a directory; expected a file path (e.g. "
                "{dir}/modeldir/model.h5)"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

}  // namespace
}  // namespace aevb::testing
