// aevb-eval on a model trained with --bayes full: the full bound, the plug-in
// log-likelihood at theta = mu_theta and the predictive over S samples of
// theta, their order, their limit as sigma_theta -> 0, rank invariance, and the
// refusal of --theta-samples for a MAP model.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "aevb/io/eval_results.hpp"
#include "aevb/io/h5.hpp"
#include "data_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;

class EvalBayes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_bars_dataset(*dir_ / "data", 300);
    const std::string base = "--data " + (*dir_ / "data") + " --hidden 16 --latent 2 --batch 50 --optimizer adam "
                             "--lr 0.003 --bayes full --out ";
    // A trained posterior, and one that stays at sigma ~ 1e-6 (two steps).
    ASSERT_EQ(run_train(base + (*dir_ / "vb") + " --epochs 4", *dir_).exit_code, 0);
    ASSERT_EQ(run_train(base + (*dir_ / "tiny") + " --bayes-init-std 1e-6 --max-steps 2", *dir_).exit_code, 0);
    ASSERT_EQ(run_train("--data " + (*dir_ / "data") + " --hidden 16 --latent 2 --batch 50 --epochs 1 --out " +
                            (*dir_ / "map"),
                        *dir_)
                  .exit_code,
              0);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string data() { return *dir_ / "data"; }
  static RunResult eval(const std::string& args, const TempDir& d) {
    return run_tool("aevb-eval", "--progress-every 0 --data " + data() + " " + args, d, "eval");
  }
  static TempDir* dir_;
};
TempDir* EvalBayes::dir_ = nullptr;

// bound <= E_q log p_theta(x) <= log E_q p_theta(x): the full bound is below
// the predictive (averages over 300 points), and each estimate is reported
// per point with a standard error.
TEST_F(EvalBayes, ReportsTheFullBoundThePlugInAndThePredictive) {
  TempDir d;
  const RunResult r = eval("--model " + (*dir_ / "vb/model.h5") + " --k 1,100 --theta-samples 8 --out " + (d / "r.h5"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.last_out_line());
  const double bound = s["bayes"]["bound"]["mean"], pred = -s["bayes"]["nll_predictive"]["mean"].get<double>();
  EXPECT_LT(bound, pred);
  EXPECT_GT(s["bayes"]["weight_kl_per_point"].get<double>(), 0);
  EXPECT_GT(s["bayes"]["bound"]["se"].get<double>(), 0);
  EXPECT_EQ(s["bayes"]["nll_predictive"]["theta_samples"], 8);
  EXPECT_TRUE(s["nll"].contains("100"));  // the plug-in model's
  const EvalResults res = read_eval_results(d / "r.h5");
  ASSERT_EQ(res.elbo_full.size(), 300u);
  ASSERT_EQ(res.log_px_predictive.size(), 300u);
  EXPECT_EQ(res.theta_samples, 8);
  // The full bound is the data term minus KL / N, N = the 300 training rows.
  EXPECT_NEAR(res.weight_kl_per_point, s["bayes"]["weight_kl_per_point"].get<double>(), 1e-12);
  EXPECT_NE(r.err.find("aevb-eval: full bound "), std::string::npos) << r.err;
}

// With sigma_theta ~ 1e-6 every theta_s is mu_theta to float precision: the
// predictive equals the plug-in estimate at the same K, point by point.
TEST_F(EvalBayes, PredictiveIsThePlugInAsSigmaVanishes) {
  TempDir d;
  const RunResult r = eval("--model " + (*dir_ / "tiny/model.h5") + " --k 10 --theta-samples 3 --out " + (d / "r.h5"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const EvalResults res = read_eval_results(d / "r.h5");
  for (size_t i = 0; i < 300; ++i) EXPECT_NEAR(res.log_px_predictive[i], res.log_px[i], 1e-3) << i;
}

TEST_F(EvalBayes, RankInvariance) {
  TempDir d;
  std::vector<EvalResults> got;
  for (int np : {1, 2}) {
    const std::string out = d / ("np" + std::to_string(np) + ".h5");
    const std::string cmd = std::string(AEVB_MPIEXEC) + " -np " + std::to_string(np) + " " + AEVB_BINARY_DIR +
                            "/aevb-eval --progress-every 0 --model " + (*dir_ / "vb/model.h5") + " --data " + data() +
                            " --k 1,20 --theta-samples 2 --chunk-rows 100 --out " + out + " >" + (d / "out") + " 2>" +
                            (d / "err");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(d / "err");
    got.push_back(read_eval_results(out));
  }
  EXPECT_EQ(0, std::memcmp(got[0].elbo_full.data(), got[1].elbo_full.data(), 300 * sizeof(double)));
  EXPECT_EQ(0, std::memcmp(got[0].log_px_predictive.data(), got[1].log_px_predictive.data(), 300 * sizeof(double)));
}

TEST_F(EvalBayes, ThetaSamplesOfAMapModelIsAUsageError) {
  TempDir d;
  const RunResult r = eval("--model " + (*dir_ / "map/model.h5") + " --theta-samples 4 --out " + (d / "r.h5"), d);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--theta-samples 4: " + (*dir_ / "map/model.h5") +
                       " has no posterior over its weights (trained without --bayes full)"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace aevb::testing
