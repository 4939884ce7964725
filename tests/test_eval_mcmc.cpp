// aevb-eval --estimator ais|bdmc|hmc|quadrature end to end: the estimators
// agree with the quadrature on a trained 2-D model, BDMC's bounds sandwich it
// on simulated data, the per-point results are identical for 1, 2 and 3 ranks,
// and the estimators refuse what they cannot do with a clear message.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "aevb/io/eval_results.hpp"
#include "data_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;

// Small MCMC settings: seconds, not minutes.
const std::string kSmall =
    " --progress-every 0 --k 1,1000 --ais-steps 300 --ais-chains 16 --leapfrog 5 --hmc-samples 400 --hmc-burn-in 100 "
    "--hmc-chains 8 --quadrature-points 48";

class EvalMcmc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_bars_dataset(*dir_ / "data", 300);
    const std::string base = "--data " + (*dir_ / "data") + " --hidden 16 --batch 50 --optimizer adam --lr 0.01 ";
    ASSERT_EQ(run_train(base + "--latent 2 --epochs 10 --out " + (*dir_ / "j2"), *dir_).exit_code, 0);
    ASSERT_EQ(run_train(base + "--latent 6 --epochs 1 --out " + (*dir_ / "j6"), *dir_).exit_code, 0);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string model(const char* name) { return *dir_ / (std::string(name) + "/model.h5"); }
  static RunResult eval(const std::string& args, const TempDir& d) {
    return run_tool("aevb-eval", "--progress-every 0 " + args, d, "eval");
  }
  static std::string data() { return " --data " + (*dir_ / "data"); }
  static TempDir* dir_;
};
TempDir* EvalMcmc::dir_ = nullptr;

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double a : v) s += a;
  return s / static_cast<double>(v.size());
}

TEST_F(EvalMcmc, AllEstimatorsAgreeWithTheQuadratureOnATrainedModel) {
  TempDir d;
  const RunResult r = eval("--model " + model("j2") + data() + " --max-points 24 --estimator is,ais,hmc,quadrature" +
                               kSmall + " --out " + (d / "r.h5"),
                           d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.last_out_line());
  for (const char* k : {"nll_ais", "nll_hmc", "nll_quadrature", "mcmc_decoder_rows_per_s"})
    EXPECT_TRUE(s.contains(k)) << k;
  const EvalResults res = read_eval_results(d / "r.h5");
  for (const char* c : {"log_px_ais", "log_px_ais_se", "ais_accept", "log_px_hmc", "log_px_hmc_se", "hmc_accept",
                        "hmc_ess", "hmc_components", "log_px_quadrature", "quadrature_edge_fraction",
                        "quadrature_resolution"}) {
    ASSERT_TRUE(res.columns.count(c)) << c;
    EXPECT_EQ(res.columns.at(c).size(), 24u) << c;
  }
  EXPECT_EQ(res.estimators, "is,ais,hmc,quadrature");
  ASSERT_EQ(res.columns.at("log_px_se").size(), 24u);  // importance sampling's, at K = 1000
  EXPECT_GT(s["nll"]["1000"]["mean_point_se"].get<double>(), 0.0);
  const std::vector<double>& quad = res.columns.at("log_px_quadrature");
  std::vector<double> is(24);
  for (size_t i = 0; i < 24; ++i) is[i] = res.log_px[i * 2 + 1];
  EXPECT_NEAR(mean(res.columns.at("log_px_ais")), mean(quad), 0.1);
  EXPECT_NEAR(mean(res.columns.at("log_px_hmc")), mean(quad), 0.1);
  EXPECT_NEAR(mean(is), mean(quad), 0.05);
  for (double e : res.columns.at("quadrature_edge_fraction")) EXPECT_LT(e, 1e-4);
  for (double a : res.columns.at("ais_accept")) EXPECT_GT(a, 0.3);
}

// Forward AIS from the prior (a poor start) is below the exact value and
// reverse AIS from the exact posterior sample above it, on average.
TEST_F(EvalMcmc, BdmcSandwichesTheQuadratureOnSimulatedData) {
  TempDir d;
  const RunResult r = eval("--model " + model("j2") + " --simulate 24 --estimator bdmc,quadrature --ais-start prior" +
                               kSmall + " --ais-steps 100 --out " + (d / "r.h5"),
                           d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_GT(s["bdmc_gap"].get<double>(), 0.0);
  EXPECT_EQ(s["simulated"], 24);
  const EvalResults res = read_eval_results(d / "r.h5");
  EXPECT_EQ(res.simulated, 24);
  EXPECT_TRUE(res.log_px.empty());  // is was not asked for
  const double q = mean(res.columns.at("log_px_quadrature"));
  EXPECT_LT(mean(res.columns.at("log_px_ais")), q + 0.02);
  EXPECT_GT(mean(res.columns.at("log_px_ais_reverse")), q - 0.02);
}

TEST_F(EvalMcmc, RankInvariance) {
  TempDir d;
  std::vector<EvalResults> got;
  for (int np : {1, 2, 3}) {
    const std::string out = d / ("np" + std::to_string(np) + ".h5");
    const std::string cmd = std::string(AEVB_MPIEXEC) + " -np " + std::to_string(np) + " " + AEVB_BINARY_DIR +
                            "/aevb-eval --model " + model("j2") + data() + kSmall +
                            " --max-points 20 --mcmc-group 4 --ais-steps 50 --hmc-samples 100 --hmc-burn-in 20"
                            " --estimator is,ais,hmc --out " + out + " >" + (d / "out") + " 2>" + (d / "err");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(d / "err");
    got.push_back(read_eval_results(out));
  }
  for (int k = 1; k < 3; ++k) {
    ASSERT_EQ(got[0].columns.size(), got[static_cast<size_t>(k)].columns.size());
    for (const auto& [name, v] : got[0].columns) {
      const std::vector<double>& w = got[static_cast<size_t>(k)].columns.at(name);
      ASSERT_EQ(v.size(), 20u);
      EXPECT_EQ(0, std::memcmp(v.data(), w.data(), v.size() * sizeof(double))) << name << ", P = " << k + 1;
    }
  }
}

TEST_F(EvalMcmc, RefusesWhatItCannotDo) {
  TempDir d;
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--model " + model("j2") + data() + " --estimator bdmc",
       "--estimator bdmc: needs data simulated from the model (--simulate N)"},
      {"--model " + model("j6") + data() + " --estimator quadrature",
       "--estimator quadrature: the grid has quadrature-points^J cells; it is for a latent dimension <= 3"},
      {"--model " + model("j6") + data() + " --estimator hmc", "use ais, or --hmc-any-latent to run it anyway"},
      {"--model " + model("j2") + data() + " --simulate 10", "it replaces --data"},
      {"--model " + model("j2") + data() + " --estimator is,mcmc", "unknown estimator 'mcmc'"},
      {"--model " + model("j2") + data() + " --estimator ais,ais", "'ais' is listed twice"},
      {"--model " + model("j2") + data() + " --estimator ais --ais-schedule cosine", "--ais-schedule"},
  };
  for (const Case& c : cases) {
    const RunResult r = eval(c.args + " --out " + (d / "r.h5"), d);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(json::parse(r.last_out_line())["exit_code"], 2);
  }
  // Allowed with the explicit option, and a warning.
  const RunResult r = eval("--model " + model("j6") + data() + " --estimator hmc --hmc-any-latent --max-points 2" +
                               kSmall + " --hmc-samples 40 --hmc-burn-in 10 --out " + (d / "ok.h5"),
                           d);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: --estimator hmc with J = 6"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace aevb::testing
