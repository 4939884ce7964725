// aevb-eval end to end, as a user runs it: a tiny model trained by aevb-train,
// evaluated by the real binary. Checks the summary and the results file, that
// checkpoints are accepted, every bad-input path (exact message, exit code, no
// results file), and (with mpirun, see tests/CMakeLists.txt) that 1 and 2 ranks
// give bit-identical per-point results.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "aevb/io/eval_results.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"
#include "data_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;

// One tiny trained model (bars data, 64-16-2) shared by the whole file.
class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_bars_dataset(*dir_ / "data", 300);
    const RunResult r = run_train("--data " + (*dir_ / "data") + " --hidden 16 --latent 2 --batch 50 --epochs 2 --out " +
                                      (*dir_ / "run"),
                                  *dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string model() { return *dir_ / "run/model.h5"; }
  static std::string data() { return *dir_ / "data"; }
  static RunResult eval(const std::string& args, const TempDir& d) {
    return run_tool("aevb-eval", "--progress-every 0 " + args, d, "eval");
  }
  static TempDir* dir_;
};
TempDir* EvalCli::dir_ = nullptr;

TEST_F(EvalCli, HelpListsTheOptionsAndExitCodes) {
  TempDir d;
  const RunResult r = eval("--help", d);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--model", "--data", "--split", "--k", "--seed", "--binarize", "--binarize-seed",
                          "--elbo-samples", "--prior-samples", "--max-points", "--chunk-rows", "--threads", "--out",
                          "Exit codes"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST_F(EvalCli, WritesTheResultsFileAndAJsonSummary) {
  TempDir d;
  const RunResult r = eval("--model " + model() + " --data " + data() + " --k 1,10,100 --prior-samples 64 --out " +
                               (d / "res.h5"),
                           d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_EQ(s["tool"], "aevb-eval");
  EXPECT_EQ(s["points"], 300);
  EXPECT_EQ(s["out"], d / "res.h5");
  const double n1 = s["nll"]["1"]["mean"], n100 = s["nll"]["100"]["mean"], elbo = s["elbo"]["mean"];
  EXPECT_LT(n100, n1);          // more samples, tighter bound
  EXPECT_LE(elbo, -n100);       // the ELBO is the loosest
  EXPECT_GT(s["nll"]["10"]["se"].get<double>(), 0);
  EXPECT_GT(s["sample_evals_per_s"].get<double>(), 0);
  EXPECT_TRUE(s["nll_prior"].contains("64"));
  EXPECT_NE(r.err.find("aevb-eval: K = 100: NLL "), std::string::npos) << r.err;

  h5::Id f = h5::open_file_read(d / "res.h5");
  EXPECT_EQ(h5::read_attr_string(f, "format"), "aevb-eval-results");
  EXPECT_EQ(h5::read_attr_int(f, "format_version"), 1);
  EXPECT_EQ(h5::read_attr_string(f, "model"), model());
  EXPECT_EQ(h5::read_attr_string(f, "model_params_sha256"), load_model(model()).meta.params_sha256);
  EXPECT_EQ(h5::read_attr_string(f, "split"), "test");
  EXPECT_EQ(h5::read_attr_string(f, "binarization"), "none");  // the bars data is binary already
  EXPECT_EQ(h5::read_attr_ints(f, "k_values"), (std::vector<int64_t>{1, 10, 100}));
  const auto lp = h5::read_dataset<double>(f, "log_px");
  EXPECT_EQ(lp.dims, (std::vector<hsize_t>{300, 3}));
  const auto idx = h5::read_dataset<int64_t>(f, "index");
  for (size_t i = 0; i < idx.data.size(); ++i) EXPECT_EQ(idx.data[i], static_cast<int64_t>(i));
  const auto elbo_pp = h5::read_dataset<double>(f, "elbo");
  const auto rec = h5::read_dataset<double>(f, "rec"), kl = h5::read_dataset<double>(f, "kl");
  for (size_t i = 0; i < 300; ++i) EXPECT_NEAR(elbo_pp.data[i], rec.data[i] - kl.data[i], 1e-9);
  EXPECT_EQ(h5::read_dataset<double>(f, "log_px_prior").dims, (std::vector<hsize_t>{300}));
  // The posterior means: one row per point, J = the model's latent dimension;
  // the summary's active units are the ones whose means vary over the points.
  const auto mu = h5::read_dataset<double>(f, "posterior_mean");
  const int64_t J = load_model(model()).model->spec().latent;
  ASSERT_EQ(mu.dims, (std::vector<hsize_t>{300, static_cast<hsize_t>(J)}));
  const ActiveUnits au = active_units(mu.data, J);
  EXPECT_EQ(s["active_units"].get<int64_t>(), au.active);
  EXPECT_EQ(s["latent_mean_variance"].size(), static_cast<size_t>(J));
  EXPECT_GT(au.active, 0);  // a trained model uses some of its units
  EXPECT_EQ(read_eval_results(d / "res.h5").mu, mu.data);
  EXPECT_EQ(all_files(d.path).size(), 3u);  // res.h5 + captured stdout/stderr: no temp file left
}

// A training checkpoint (aevb-train writes one at the end of the run): format
// "aevb-checkpoint", the same architecture attributes and /params, no
// binarization record. Its parameters are the final model's, so are the results.
TEST_F(EvalCli, AcceptsACheckpointAndGivesTheSameResults) {
  TempDir d;
  std::string ck;
  for (const auto& e : fs::directory_iterator(*dir_ / "run/checkpoints")) ck = e.path().string();
  ASSERT_FALSE(ck.empty());
  const std::string common = " --data " + data() + " --k 1,20 --max-points 50";
  ASSERT_EQ(eval("--model " + model() + common + " --out " + (d / "a.h5"), d).exit_code, 0);
  const RunResult r = eval("--model " + ck + common + " --out " + (d / "b.h5"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  h5::Id a = h5::open_file_read(d / "a.h5"), b = h5::open_file_read(d / "b.h5");
  EXPECT_EQ(h5::read_dataset<double>(a, "log_px").data, h5::read_dataset<double>(b, "log_px").data);
  EXPECT_EQ(h5::read_attr_string(b, "model_format"), "aevb-checkpoint");
  EXPECT_EQ(h5::read_attr_string(b, "model_params_sha256"), h5::read_attr_string(a, "model_params_sha256"));
}

struct BadCase {
  const char* name;
  const char* args;  // {model} {data} {dir} substituted
  int exit_code;
  const char* message;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name << ": " << c.args; }

std::string subst(std::string s, const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars)
    for (size_t p; (p = s.find(k)) != std::string::npos;) s.replace(p, k.size(), v);
  return s;
}

class EvalBadInput : public EvalCli, public ::testing::WithParamInterface<BadCase> {};

TEST_P(EvalBadInput, FailsWithOneClearMessageAndWritesNothing) {
  const BadCase& c = GetParam();
  TempDir d;
  const std::string name = c.name;
  std::string model_path = model();
  if (name == "DimensionMismatch") {
    write_float_dataset(d / "data32", 20, 32, [](int64_t, int64_t) { return 0.5f; });
  } else if (name == "UnknownDecoder" || name == "CorruptedParams") {
    model_path = d / "model.h5";
    fs::copy_file(model(), model_path);
    h5::Id f = h5::open_file_rw(model_path);
    if (name == "UnknownDecoder") {
      h5::write_attr_string(f, "decoder", "poisson");
    } else {
      h5::Id p = h5::open_dataset(f, "params");
      float v = 0;
      h5::read_rows(p, 10, 1, &v);
      v = -v + 0.125f;  // one changed value, the checksum attribute left as it was
      h5::write_rows(p, 10, 1, &v);
    }
  }
  const std::map<std::string, std::string> vars{{"{model}", model_path}, {"{data}", data()}, {"{dir}", d.path}};
  const RunResult r = eval(subst(c.args, vars) + " --out " + (d / "res.h5"), d);
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  EXPECT_EQ(r.err, subst(c.message, vars) + "\n");
  // The last stdout line is the JSON summary, on failure too.
  const json last = json::parse(r.last_out_line());
  EXPECT_EQ(last["tool"], "aevb-eval");
  EXPECT_EQ(last["status"], "error");
  EXPECT_EQ(last["exit_code"], c.exit_code);
  EXPECT_EQ("aevb-eval: error: " + last["error"].get<std::string>() + "\n", r.err);
  EXPECT_FALSE(fs::exists(d / "res.h5"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EvalBadInput,
    ::testing::Values(
        BadCase{"DimensionMismatch", "--model {model} --data {dir}/data32", 3,
                "aevb-eval: error: model {model} has 64 values per data point but split 'test' of {dir}/data32 has 32"},
        BadCase{"UnknownDecoder", "--model {model} --data {data}", 3,
                "aevb-eval: error: {model}: unknown decoder 'poisson' in the model architecture (expected bernoulli or "
                "gaussian)"},
        BadCase{"CorruptedParams", "--model {model} --data {data}", 3,
                "aevb-eval: error: {model}: /params does not match its params_sha256 checksum (corrupted file)"},
        BadCase{"KZero", "--model {model} --data {data} --k 0,10", 2, "aevb-eval: error: --k: every K must be >= 1, got 0"},
        BadCase{"KNotIncreasing", "--model {model} --data {data} --k 10,5", 2,
                "aevb-eval: error: --k: the K values must be strictly increasing (each estimate uses the first K "
                "samples of one stream), got '10,5'"},
        BadCase{"KUnparsable", "--model {model} --data {data} --k 1,x", 2,
                "aevb-eval: error: --k: cannot parse '1,x': expected a comma-separated list of sample counts, e.g. "
                "1,10,100,1000,5000"},
        BadCase{"MissingModel", "--model {dir}/nope.h5 --data {data}", 3, "aevb-eval: error: {dir}/nope.h5: no such file"},
        BadCase{"MissingData", "--model {model} --data {dir}/nope", 3,
                "aevb-eval: error: {dir}/nope/manifest.json: cannot open (is {dir}/nope an aevb dataset directory?)"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

// 1 and 2 ranks under mpirun: bit-identical per-point arrays.
// The same bits for 1 and 2 ranks, and with rows read block by block from the
// shards (a 4 KiB --memory-budget holds none of a rank's points).
TEST_F(EvalCli, RankInvarianceOneAndTwoRanksGiveIdenticalResults) {
  TempDir d;
  std::vector<std::vector<h5::Array<double>>> got;
  for (const auto& [np, extra] : std::vector<std::pair<int, std::string>>{{1, ""}, {2, ""}, {2, " --memory-budget 4KiB"}}) {
    const std::string out = d / ("np" + std::to_string(np) + std::to_string(got.size()) + ".h5");
    const std::string cmd = std::string(AEVB_MPIEXEC) + " -np " + std::to_string(np) + " " + AEVB_BINARY_DIR +
                            "/aevb-eval --progress-every 0 --model " + model() + " --data " + data() +
                            " --k 1,7,50 --prior-samples 9 --chunk-rows 120 --out " + out + extra + " >" +
                            (d / "out") + " 2>" + (d / "err");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(d / "err");
    h5::Id f = h5::open_file_read(out);
    got.push_back({h5::read_dataset<double>(f, "log_px"), h5::read_dataset<double>(f, "log_px_prior"),
                   h5::read_dataset<double>(f, "elbo"), h5::read_dataset<double>(f, "posterior_mean")});
  }
  ASSERT_EQ(got[0][0].data.size(), 300u * 3);
  for (size_t c = 1; c < got.size(); ++c)
    for (size_t a = 0; a < 4; ++a) {
      ASSERT_EQ(got[0][a].dims, got[c][a].dims) << c << " " << a;
      // Bit for bit (memcmp, not ==: also NaN-proof).
      EXPECT_EQ(0, std::memcmp(got[0][a].data.data(), got[c][a].data.data(), got[0][a].data.size() * sizeof(double)))
          << "configuration " << c << ", array " << a;
    }
}

}  // namespace
}  // namespace aevb::testing
