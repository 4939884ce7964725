// Data-parallel training and checkpoints under a real `mpirun -np P`:
// rank invariance, bitwise resume, resume with another rank count, SIGUSR1
// checkpoint-and-requeue, kill -9 of one rank, corrupted and mismatched
// checkpoints, divergence.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "aevb/io/checkpoint.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"
#include "data_test_util.hpp"
#include "mpi_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;

// ||a - b|| / ||a|| over two flat parameter vectors.
double rel_diff(const FloatBuffer& a, const FloatBuffer& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(a[i]) * a[i];
  }
  return std::sqrt(num / den);
}
FloatBuffer params_of(const std::string& model) { return load_model(model).model->params; }

class MpiTrain : public ::testing::Test {
 protected:
  void SetUp() override { write_bars_dataset(d / "data", 1000); }
  // Training arguments; resume = "none" starts over, "auto" continues the run directory.
  // --max-steps ends every run (epochs never do: a run "until signalled" must
  // outlast the signal, and 20 steps per epoch go by fast now that no epoch
  // reloads its rows).
  std::string base(int64_t steps, const std::string& resume = "none", int latent = 4, int batch = 50) const {
    return "--data " + (d / "data") + " --hidden 32 --latent " + std::to_string(latent) + " --batch " +
           std::to_string(batch) + " --epochs 1000000000 --max-steps " + std::to_string(steps) + " --resume " + resume;
  }
  TempDir d;
};

// Noise keyed by global sample index + a global data order: P = 1..4 ranks
// give the same parameters up to floating-point summation order.
TEST_F(MpiTrain, RankCountDoesNotChangeTheResult) {
  for (int p : {1, 2, 3, 4}) {
    const RunResult r = run_train_mpi(p, base(50) + " --out " + (d / ("p" + std::to_string(p))), d);
    ASSERT_EQ(r.exit_code, 0) << "P=" << p << "\n" << r.err;
    EXPECT_EQ(json::parse(r.last_out_line())["ranks"], p);
  }
  const FloatBuffer ref = params_of(d / "p1/model.h5");
  for (int p : {2, 3, 4}) EXPECT_LE(rel_diff(ref, params_of(d / ("p" + std::to_string(p)) + "/model.h5")), 1e-5) << p;
}

// The two reductions: --reduction allreduce sums the gradient over ranks;
// gather sends every row's layer inputs and deltas to every rank, which forms
// the whole gradient itself. Both give one rank's result up to summation order
// on P = 2 and 3; auto picks gather at this batch (50 <= kGatherMaxBatch) on
// several ranks, allreduce on one rank, above the limit (IWAE's K decoder rows
// a point included) and with full VB; each
// resumes bitwise, and a run may change its reduction when it resumes.
TEST_F(MpiTrain, ReductionsAgreeAndResumeBitwise) {
  auto run = [&](int p, const std::string& args, const std::string& out) {
    const RunResult r = run_train_mpi(p, args + " --out " + (d / out), d);
    EXPECT_EQ(r.exit_code, 0) << out << "\n" << r.err;
    return r.exit_code == 0 ? json::parse(r.last_out_line()) : json();
  };
  EXPECT_EQ(run(1, base(40), "ref")["reduction"], "allreduce");
  const FloatBuffer ref = params_of(d / "ref/model.h5");
  for (const std::string red : {"allreduce", "gather"})
    for (int p : {2, 3}) {
      const std::string out = red + std::to_string(p);
      EXPECT_EQ(run(p, base(40) + " --reduction " + red, out)["reduction"], red);
      EXPECT_LE(rel_diff(ref, params_of(d / out + "/model.h5")), 1e-5) << out;
    }
  // --overlap on (auto is off): the decoder block's allreduce, started before
  // the encoder's backward, gives the same sums (on two ranks a + b either way).
  run(2, base(40) + " --reduction allreduce --overlap on", "overlap2");
  EXPECT_EQ(params_of(d / "allreduce2/model.h5"), params_of(d / "overlap2/model.h5"));
  EXPECT_EQ(run(2, base(2), "auto_small")["reduction"], "gather");
  EXPECT_EQ(run(2, base(2, "none", 4, 100), "auto_large")["reduction"], "allreduce");
  EXPECT_EQ(run(2, base(2) + " --bayes full --optimizer adam", "auto_bayes")["reduction"], "allreduce");
  // IWAE's K decoder rows a point count: M (1 + K) / 2 = 50 at M = 20, K = 4; 125 at M = 50.
  EXPECT_EQ(run(2, base(2, "none", 4, 20) + " --objective iwae --iwae-k 4", "auto_iwae20")["reduction"], "gather");
  EXPECT_EQ(run(2, base(2) + " --objective iwae --iwae-k 4", "auto_iwae50")["reduction"], "allreduce");
  // The exchange's other paths against one rank: L = 2 samples a point with
  // softplus on 3 ranks at M = 2 (one rank without rows each step), and IWAE
  // K = 4 at M = 20; --reduction gather on one rank runs the allreduce.
  const std::string l2 = base(30, "none", 4, 2) + " --samples 2 --activation softplus";
  EXPECT_EQ(run(1, l2 + " --reduction gather", "l2_p1")["reduction"], "allreduce");
  EXPECT_EQ(run(3, l2 + " --reduction gather", "l2_p3")["reduction"], "gather");
  EXPECT_LE(rel_diff(params_of(d / "l2_p1/model.h5"), params_of(d / "l2_p3/model.h5")), 1e-5);
  run(1, base(2, "none", 4, 20) + " --objective iwae --iwae-k 4", "iwae20_p1");
  EXPECT_LE(rel_diff(params_of(d / "iwae20_p1/model.h5"), params_of(d / "auto_iwae20/model.h5")), 1e-5);
  // Bitwise resume with the allreduce (the gather's: ResumeIsBitwiseIdenticalWithTheSameRankCount).
  run(2, base(20) + " --reduction allreduce", "split");
  run(2, base(40, "auto") + " --reduction allreduce", "split");
  EXPECT_EQ(params_of(d / "allreduce2/model.h5"), params_of(d / "split/model.h5"));
  // Another reduction on resume.
  run(2, base(20) + " --reduction gather", "switch");
  run(2, base(40, "auto") + " --reduction allreduce", "switch");
  EXPECT_LE(rel_diff(ref, params_of(d / "switch/model.h5")), 1e-5);
}

// The importance-weighted objective: its noise is keyed by (seed, step, global
// index, k) and its weights are per point, so P = 1..3 agree and a resume
// gives the same bytes.
TEST_F(MpiTrain, IwaeIsRankInvariantAndResumesBitwise) {
  const std::string iwae = " --objective iwae --iwae-k 4";
  for (int p : {1, 2, 3}) {
    const RunResult r = run_train_mpi(p, base(40) + iwae + " --out " + (d / ("iw" + std::to_string(p))), d);
    ASSERT_EQ(r.exit_code, 0) << "P=" << p << "\n" << r.err;
  }
  const FloatBuffer ref = params_of(d / "iw1/model.h5");
  for (int p : {2, 3}) EXPECT_LE(rel_diff(ref, params_of(d / ("iw" + std::to_string(p)) + "/model.h5")), 1e-5) << p;
  ASSERT_EQ(run_train_mpi(2, base(20) + iwae + " --out " + (d / "iwsplit"), d).exit_code, 0);
  const RunResult r = run_train_mpi(2, base(40, "auto") + iwae + " --out " + (d / "iwsplit"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(params_of(d / "iw2/model.h5"), params_of(d / "iwsplit/model.h5"));
}

// Full VB over the decoder's weights: the weight noise is keyed per point and
// the KL term's by the step, so P = 1..3 agree and a resume gives the same
// bytes; the model file says it is Bayesian.
TEST_F(MpiTrain, BayesIsRankInvariantAndResumesBitwise) {
  const std::string bayes = " --bayes full --bayes-kl sampled --optimizer adam --lr 0.003";
  for (int p : {1, 2, 3}) {
    const RunResult r = run_train_mpi(p, base(40) + bayes + " --out " + (d / ("vb" + std::to_string(p))), d);
    ASSERT_EQ(r.exit_code, 0) << "P=" << p << "\n" << r.err;
    EXPECT_EQ(json::parse(r.last_out_line())["bayes"], "full");
  }
  const FloatBuffer ref = params_of(d / "vb1/model.h5");
  for (int p : {2, 3}) EXPECT_LE(rel_diff(ref, params_of(d / ("vb" + std::to_string(p)) + "/model.h5")), 1e-5) << p;
  ASSERT_EQ(run_train_mpi(2, base(20) + bayes + " --out " + (d / "vbsplit"), d).exit_code, 0);
  const RunResult r = run_train_mpi(2, base(40, "auto") + bayes + " --out " + (d / "vbsplit"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(params_of(d / "vb2/model.h5"), params_of(d / "vbsplit/model.h5"));
  const LoadedModel m = load_model(d / "vb1/model.h5");
  EXPECT_TRUE(m.model->spec().bayes);
  EXPECT_EQ(m.model->rho_begin() - m.model->decoder_begin(), m.model->num_params() - m.model->rho_begin());
  h5::Id f = h5::open_file_read(d / "vb1/model.h5");
  EXPECT_EQ(h5::read_attr_string(f, "bayes"), "full");
}

// Train 2N steps; train N, stop, resume for N: the same bytes (same P).
TEST_F(MpiTrain, ResumeIsBitwiseIdenticalWithTheSameRankCount) {
  ASSERT_EQ(run_train_mpi(2, base(60) + " --out " + (d / "straight"), d).exit_code, 0);
  ASSERT_EQ(run_train_mpi(2, base(30) + " --out " + (d / "split"), d).exit_code, 0);
  const RunResult r = run_train_mpi(2, base(60, "auto") + " --out " + (d / "split"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.last_out_line())["resumed_from_step"], 30);
  EXPECT_EQ(params_of(d / "straight/model.h5"), params_of(d / "split/model.h5"));
  // The metrics continue too: the same epochs with the same training ELBO.
  const auto a = read_metrics(d / "straight/metrics.jsonl"), b = read_metrics(d / "split/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  // (The resumed epoch's partial sums were reduced at the checkpoint: same
  // terms, another summation order, so equal to double rounding.)
  for (size_t i = 1; i < a.size(); ++i)
    EXPECT_NEAR(a[i]["train_elbo"].get<double>(), b[i]["train_elbo"].get<double>(), 1e-9) << i;
}

// A checkpoint written by 2 ranks continues correctly on 3.
TEST_F(MpiTrain, ResumeWithAnotherRankCountContinues) {
  ASSERT_EQ(run_train_mpi(2, base(60) + " --out " + (d / "straight"), d).exit_code, 0);
  ASSERT_EQ(run_train_mpi(2, base(30) + " --out " + (d / "split"), d).exit_code, 0);
  const RunResult r = run_train_mpi(3, base(60, "auto") + " --out " + (d / "split"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(rel_diff(params_of(d / "straight/model.h5"), params_of(d / "split/model.h5")), 1e-5);
}

// SIGUSR1 to mpirun (which forwards it to the ranks) or SIGTERM to one rank:
// checkpoint at the next step, exit 75; the requeued run resumes and ends
// bitwise identical to a run that never stopped.
class MpiTrainSignal : public MpiTrain, public ::testing::WithParamInterface<int> {};

TEST_P(MpiTrainSignal, CheckpointsExitsForRequeueAndResumesBitwise) {
  const std::string run = d / "sig";
  Background job = start_train_mpi(2, base(1000000) + " --out " + run, d);  // runs until signalled
  // Wait until training is under way (the config is written before step 1).
  for (int i = 0; i < 200 && !fs::exists(run + "/config.ini"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (GetParam() == SIGUSR1 || GetParam() == SIGINT) {
    // USR1: forwarded to every rank. INT (Ctrl-C): Open MPI's mpirun sends the
    // ranks SIGTERM, then reports 1 itself; MPICH's forwards SIGINT.
    ASSERT_EQ(::kill(job.pid, GetParam()), 0);
  } else {
    // To ONE rank only (SLURM's preemption SIGTERM reaches every process; a
    // single rank is the harder case): the flag travels with the gradient
    // allreduce, so every rank stops at the same step. (Open MPI's mpirun
    // does not reliably forward a SIGTERM sent to itself, and exits 1 after
    // one; the job scripts therefore use SIGUSR1.)
    const std::vector<int> ranks = descendant_pids_named(job.pid, "aevb-train");
    ASSERT_EQ(ranks.size(), 2u);
    ASSERT_EQ(::kill(ranks[1], SIGTERM), 0);
  }
  const RunResult r = job.wait(60);
  if (GetParam() == SIGINT)
    EXPECT_TRUE(r.exit_code == 75 || r.exit_code == 1) << r.exit_code << r.err;  // README "Signals"
  else
    EXPECT_EQ(r.exit_code, 75) << r.err;
  const json s = json::parse(r.last_out_line());
  EXPECT_EQ(s["status"], "checkpointed");
  EXPECT_EQ(s["exit_code"], 75);
  const int64_t at = s["steps"];
  EXPECT_GT(at, 0);
  EXPECT_EQ(read_checkpoint(s["checkpoint"]).progress.step, at);
  EXPECT_FALSE(fs::exists(run + "/model.h5"));
  // Requeued: continue to at + 100 steps; compare with a run that never stopped.
  const RunResult r2 = run_train_mpi(2, base(at + 100, "auto") + " --out " + run, d);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(json::parse(r2.last_out_line())["resumed_from_step"], at);
  ASSERT_EQ(run_train_mpi(2, base(at + 100) + " --out " + (d / "straight"), d, "straight").exit_code, 0);
  EXPECT_EQ(params_of(d / "straight/model.h5"), params_of(run + "/model.h5"));
}

INSTANTIATE_TEST_SUITE_P(UsrTermInt, MpiTrainSignal, ::testing::Values(SIGUSR1, SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return i.param == SIGUSR1   ? "SIGUSR1_to_mpirun"
                                  : i.param == SIGTERM ? "SIGTERM_to_one_rank"
                                                       : "SIGINT_to_mpirun";
                         });

// kill -9 of one rank: the job ends within 30 s, only complete checkpoints
// remain, and a restart resumes from the newest.
TEST_F(MpiTrain, KillOfOneRankEndsTheJobAndLeavesOnlyCompleteCheckpoints) {
  const std::string run = d / "kill";
  const std::string args = base(1000000) + " --checkpoint-every-steps 10 --out " + run;
  Background job = start_train_mpi(2, args, d);
  for (int i = 0; i < 400 && list_checkpoints(run).size() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(list_checkpoints(run).size(), 2u) << "no checkpoints appeared";
  const std::vector<int> ranks = descendant_pids_named(job.pid, "aevb-train");
  ASSERT_EQ(ranks.size(), 2u);
  ASSERT_EQ(::kill(ranks[1], SIGKILL), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = job.wait(30);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 30.0);
  EXPECT_NE(r.exit_code, 0);
  const auto ckpts = list_checkpoints(run);
  ASSERT_FALSE(ckpts.empty());
  for (const auto& c : ckpts) EXPECT_NO_THROW(read_checkpoint(c)) << c;
  const int64_t newest = read_checkpoint(ckpts.front()).progress.step;
  const RunResult r2 = run_train_mpi(2, base(newest + 20, "auto") + " --out " + run, d);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(json::parse(r2.last_out_line())["resumed_from_step"], newest);
}

// A truncated newest checkpoint is reported and the previous one is used.
TEST_F(MpiTrain, CorruptedNewestCheckpointFallsBackToThePrevious) {
  const std::string run = d / "corrupt";
  ASSERT_EQ(run_train_mpi(1, base(40) + " --checkpoint-every-steps 20 --out " + run, d).exit_code, 0);
  auto ckpts = list_checkpoints(run);  // 40 (final), 20
  ASSERT_EQ(ckpts.size(), 2u);
  fs::resize_file(ckpts[0], fs::file_size(ckpts[0]) / 2);
  const RunResult r = run_train_mpi(2, base(60, "auto") + " --out " + run, d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("aevb-train: warning: " + ckpts[0]), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("trying the previous checkpoint"), std::string::npos) << r.err;
  EXPECT_EQ(json::parse(r.last_out_line())["resumed_from_step"], 20);
}

TEST_F(MpiTrain, MismatchedCheckpointIsRefusedWithWhatDiffers) {
  const std::string run = d / "mismatch";
  ASSERT_EQ(run_train_mpi(1, base(20) + " --out " + run, d).exit_code, 0);
  const RunResult r = run_train_mpi(2, base(40, "auto", 6, 25) + " --out " + run, d);
  EXPECT_EQ(r.exit_code, 3);
  // The first line is ours (mpirun adds its own banner after it).
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')),
            "aevb-train: error: " + checkpoint_path(run, 20) +
                ": cannot resume, the checkpoint does not match this configuration; latent: checkpoint has 4, this "
                "run has 6; batch: checkpoint has 50, this run has 25");
  EXPECT_EQ(r.err.find("aevb-train: error:", 1), std::string::npos) << "exactly one rank reports";
}

// NaN/Inf in the loss stops every rank with a message naming the step, and the
// last good checkpoint stays intact (continue a healthy run at an absurd rate).
TEST_F(MpiTrain, DivergenceStopsAllRanksAndKeepsTheLastCheckpoint) {
  const std::string run = d / "diverge";
  ASSERT_EQ(run_train_mpi(2, base(20) + " --out " + run, d).exit_code, 0);
  const std::string before = slurp(checkpoint_path(run, 20));
  const RunResult r = run_train_mpi(2, base(1000, "auto") + " --out " + run + " --lr 1e30", d);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("aevb-train: error: training diverged at step 2"), std::string::npos) << r.err;
  EXPECT_EQ(list_checkpoints(run).size(), 1u);
  EXPECT_EQ(slurp(checkpoint_path(run, 20)), before);
}

}  // namespace
}  // namespace aevb::testing
