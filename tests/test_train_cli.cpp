// aevb-train end to end, as a user runs it: the real binary on small datasets.
// Checks the smoke-training result, the config/INI precedence, the model file,
// options, checkpoints and a full disk (the bad-input paths: test_train_bad_input.cpp).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "aevb/io/checkpoint.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"
#include "data_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;


// One epoch on 2,000 rows raises the test ELBO by a clear margin. Real MNIST
// when it is available (converted by aevb-data), else the bars dataset.
TEST(TrainSmoke, OneEpochOn2000RowsRaisesTheElbo) {
  TempDir d;
  const std::string mnist = real_mnist_dir();
  std::string data = d / "data";
  if (!mnist.empty()) {
    ASSERT_EQ(run_data_tool("convert mnist --mnist-dir " + mnist + " --out " + data, d).exit_code, 0);
  } else {
    write_bars_dataset(data, 2000);
  }
  const RunResult r = run_train("--data " + data + " --max-train-rows 2000 --max-test-rows 1000 --epochs 1 --out " +
                                    (d / "run"),
                                d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = read_metrics(d / "run/metrics.jsonl");
  ASSERT_EQ(m.size(), 2u);
  const double before = m[0]["test_elbo"], after = m[1]["test_elbo"];
  // Before training the decoder outputs ~0.5 everywhere: about -D log 2.
  EXPECT_NEAR(before, mnist.empty() ? -64 * std::log(2.0) : -784 * std::log(2.0), 5.0);
  EXPECT_GT(after, before + (mnist.empty() ? 10.0 : 150.0)) << "before " << before << " after " << after;
  // The summary line is JSON with the documented fields.
  const json s = json::parse(r.last_out_line());
  EXPECT_EQ(s["status"], "done");
  EXPECT_EQ(s["steps"], 20);
  EXPECT_DOUBLE_EQ(s["test_elbo"].get<double>(), after);
  EXPECT_GT(s["samples_per_s"].get<double>(), 0);
  // The model file loads and carries the architecture and the config.
  const LoadedModel lm = load_model(d / "run/model.h5");
  EXPECT_EQ(lm.model->spec().hidden, std::vector<int64_t>{500});
  EXPECT_EQ(lm.model->spec().latent, 20);
  EXPECT_EQ(lm.meta.step, 20);
  EXPECT_NE(lm.meta.config_ini.find("batch = 100"), std::string::npos);
  // Model file and checkpoint both record how the data was binarized (aevb-eval's --binarize auto).
  const std::string bin = mnist.empty() ? "none" : "dynamic";
  EXPECT_EQ(lm.meta.binarization, bin);
  EXPECT_EQ(read_checkpoint(checkpoint_path(d / "run", 20)).id.binarization, bin);
}

TEST(TrainConfigFile, IniValuesApplyAndTheCommandLineWins) {
  TempDir d;
  write_bars_dataset(d / "data", 300);
  std::ofstream(d / "cfg.ini") << "latent = 7\nhidden = 16,8\nbatch = 50\nepochs = 1\n";
  // An option given twice on the command line: the last one wins.
  const RunResult r = run_train(
      "--config " + (d / "cfg.ini") + " --latent 9 --data " + (d / "data") + " --latent 3 --out " + (d / "run"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ini = slurp(d / "run/config.ini");
  EXPECT_NE(ini.find("latent = 3\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("hidden = 16,8\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("batch = 50\n"), std::string::npos) << ini;
  const LoadedModel lm = load_model(d / "run/model.h5");
  EXPECT_EQ(lm.model->spec().latent, 3);
  EXPECT_EQ(lm.model->spec().hidden, (std::vector<int64_t>{16, 8}));
  EXPECT_EQ(json::parse(r.last_out_line())["steps"], 6);
}

TEST(TrainCli, HelpListsTheOptionsAndExitsZero) {
  TempDir d;
  const RunResult r = run_train("--help", d);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--data", "--hidden", "--estimator", "--samples", "--optimizer", "--lr-schedule",
                          "--weight-prior-precision", "--binarize", "--watchdog-seconds", "Exit codes"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  // Defaults as written (bug 9: --init-std showed 0.0199999996 for 0.02f-like floats).
  for (const char* shown : {"--init-std arg (=0.01)", "--lr arg (=0.02)", "--adam-eps arg (=1e-08)"})
    EXPECT_NE(r.out.find(shown), std::string::npos) << shown << "\n" << r.out;
  EXPECT_EQ(r.out.find("0.0199999996"), std::string::npos);
  EXPECT_EQ(r.out.find("0.00999999978"), std::string::npos);
}

// The Frey Face path (Gaussian decoder, real-valued grey levels, 200 hidden
// units, Adagrad, M = 100) end to end on synthetic "faces" of Frey's shape
// (28 x 20): training raises the test ELBO, and aevb-eval's importance-sampled
// log-likelihood is at least the ELBO.
TEST(TrainGaussian, FreyConfigurationTrainsAndEvaluates) {
  TempDir d;
  // Smooth images: a per-row random brightness times a fixed gradient, plus texture.
  write_float_dataset(d / "data", 1000, 560, [](int64_t i, int64_t j) {
    const float a = static_cast<float>((i * 2654435761u >> 7) % 1000) / 1000.f;
    return 0.1f + 0.6f * a * static_cast<float>(j % 20) / 19.f + 0.2f * static_cast<float>((j / 20) % 2);
  });
  const RunResult r = run_train("--data " + (d / "data") + " --decoder gaussian --hidden 200 --latent 5 --batch 100 " +
                                    "--epochs 20 --lr 0.02 --out " + (d / "run"),
                                d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = read_metrics(d / "run/metrics.jsonl");
  ASSERT_EQ(m.size(), 21u);
  const double before = m.front()["test_elbo"], after = m.back()["test_elbo"];
  EXPECT_GT(after, before + 100.0) << before << " -> " << after;
  const RunResult e = run_tool("aevb-eval", "--model " + (d / "run/model.h5") + " --data " + (d / "data") +
                                                " --k 1,100 --progress-every 0 --out " + (d / "eval.h5"),
                               d, "eval");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const json s = json::parse(e.last_out_line());
  const double nll100 = s["nll"]["100"]["mean"], elbo = s["elbo"]["mean"];
  ASSERT_TRUE(std::isfinite(nll100) && std::isfinite(elbo));
  EXPECT_GE(-nll100 + 3 * s["nll"]["100"]["se"].get<double>(), elbo);
  EXPECT_NEAR(elbo, after, 1e-6 * std::abs(after));  // the evaluator's ELBO is the trainer's
}


// Every training option runs end to end and trains: 5 epochs (125 steps) on
// the bars dataset raise the test ELBO, for each optimizer, schedule,
// estimator, activation, initialization and thread count. (The bars' pixel
// means are 0.5, so nothing is gained before the latent code breaks the
// initial symmetry; the slower configurations start from Glorot weights.)
struct OptionCase {
  const char* name;  // the case's test name: what it exercises
  const char* args;
};
void PrintTo(const OptionCase& c, std::ostream* os) { *os << c.name << ": " << c.args; }

class TrainOptions : public ::testing::TestWithParam<OptionCase> {};

TEST_P(TrainOptions, RunAndImproveTheElbo) {
  TempDir d;
  write_bars_dataset(d / "data", 500);
  const std::string args = GetParam().args;
  const RunResult r = run_train("--data " + (d / "data") + " --hidden 32 --latent 4 --batch 20 --epochs 5 " + args +
                                    " --out " + (d / "run"),
                                d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = read_metrics(d / "run/metrics.jsonl");
  ASSERT_EQ(m.size(), 6u);
  EXPECT_GT(m.back()["test_elbo"].get<double>(), m.front()["test_elbo"].get<double>() + 1.0) << args;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, TrainOptions,
    ::testing::Values(
        OptionCase{"adam_lr0_003_custom_betas_and_eps",
                   "--optimizer adam --lr 0.003 --adam-beta1 0.8 --adam-beta2 0.99 --adam-eps 1e-7"},
        OptionCase{"sgd_momentum_step_schedule_glorot",
                   "--optimizer sgd --lr 2e-4 --momentum 0.5 --init glorot --lr-schedule step --lr-step-gamma 0.7 "
                   "--lr-step-epochs 2"},
        OptionCase{"adam_lr0_01_iwae_schedule", "--optimizer adam --lr 0.01 --lr-schedule iwae"},
        OptionCase{"estimator_A_3_samples", "--estimator A --samples 3"},
        OptionCase{"iwae_k4_adam", "--objective iwae --iwae-k 4 --optimizer adam --lr 0.003"},
        OptionCase{"bayes_full_analytic_kl", "--bayes full --optimizer adam --lr 0.003"},
        OptionCase{"bayes_full_sampled_kl_init_std", "--bayes full --bayes-kl sampled --bayes-init-std 0.01 "
                                                     "--optimizer adam --lr 0.003 --weight-prior-precision 2"},
        OptionCase{"relu_glorot", "--activation relu --init glorot"},
        OptionCase{"softplus_no_weight_prior_glorot",
                   "--activation softplus --weight-prior-precision 0 --init glorot"},
        OptionCase{"output_bias_mean_adagrad_eps_2_threads",
                   "--output-bias-init mean --adagrad-eps 1e-8 --threads 2"},
        OptionCase{"two_hidden_layers_dynamic_binarization_eval_every_2",
                   "--hidden 16,16 --binarize dynamic --eval-every 2 --eval-seed 7 --init glorot"}),
    [](const ::testing::TestParamInfo<OptionCase>& i) { return std::string(i.param.name); });

// The decoder's output bias starts at logit(mean input) with
// --output-bias-init mean; weights are Glorot-uniform within their bound.
TEST(TrainInit, OutputBiasMeanAndGlorotBounds) {
  TempDir d;
  write_bars_dataset(d / "data", 400);
  const RunResult r = run_train("--data " + (d / "data") + " --hidden 32 --latent 4 --epochs 0 --init glorot " +
                                    "--output-bias-init mean --out " + (d / "run"),
                                d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const LoadedModel lm = load_model(d / "run/model.h5");
  const Vae& m = *lm.model;
  const float* b = m.params.data() + m.decoder.bias_offset(m.decoder.num_layers() - 1);
  for (int64_t j = 0; j < 64; ++j) {
    double mean = 0;  // the bars dataset's mean, recomputed from its definition
    for (int64_t i = 0; i < 400; ++i) mean += ((i * 2654435761u >> (j / 16)) & 1u) ? 1.0 : 0.0;
    mean = std::min(std::max(mean / 400, 1e-3), 1 - 1e-3);
    EXPECT_NEAR(b[j], std::log(mean / (1 - mean)), 1e-5) << j;
  }
  const float* w = m.params.data() + m.encoder.weight_offset(0);
  const float bound = std::sqrt(6.f / (64 + 32));
  float max_abs = 0;
  for (int64_t i = 0; i < 64 * 32; ++i) max_abs = std::max(max_abs, std::abs(w[i]));
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.9f * bound);  // uniform over the whole range, not N(0, 0.01^2)
}

// Checkpoint policies: every T seconds, keep the newest K, explicit --resume PATH.
TEST(TrainCheckpoints, TimerKeepAndExplicitResume) {
  TempDir d;
  write_bars_dataset(d / "data", 500);
  const std::string base = "--data " + (d / "data") + " --hidden 32 --latent 4 --batch 50 --epochs 40 --out " + (d / "run");
  const RunResult r = run_train(base + " --checkpoint-every-seconds 0.02 --keep-checkpoints 2", d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ckpts = list_checkpoints(d / "run");
  EXPECT_EQ(ckpts.size(), 2u);  // several were written (timer + end), the newest two kept
  EXPECT_EQ(read_checkpoint(ckpts[0]).progress.step, 400);
  EXPECT_LT(read_checkpoint(ckpts[1]).progress.step, 400);
  // Continue explicitly from the older one, to a new run directory.
  const int64_t from = read_checkpoint(ckpts[1]).progress.step;
  const RunResult r2 = run_train("--data " + (d / "data") + " --hidden 32 --latent 4 --batch 50 --epochs 40 --out " +
                                     (d / "run2") + " --resume " + ckpts[1],
                                 d);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(json::parse(r2.last_out_line())["resumed_from_step"], from);
  EXPECT_EQ(load_model(d / "run/model.h5").model->params, load_model(d / "run2/model.h5").model->params);
}


// Output disk full: the run directory on a 160 KiB tmpfs holds the first
// checkpoints, then a checkpoint no longer fits. The run stops with exit 4 and
// a message naming the file, and the checkpoints already written stay intact.
TEST(TrainDiskFull, StopsWithAClearErrorAndKeepsEarlierCheckpoints) {
  TempDir d;
  write_bars_dataset(d / "data", 500);
  const std::string small = d / "small";
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=160k") != 0) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount(p.c_str()); }
  } unmount{small};
  const RunResult r = run_train("--data " + (d / "data") + " --hidden 32 --latent 4 --batch 50 --epochs 100 " +
                                    "--checkpoint-every-steps 10 --keep-checkpoints 100 --test-split '' --out " + small,
                                d);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.err.rfind("aevb-train: error: " + small + "/checkpoints/ckpt-", 0), 0u) << r.err;
  const auto ckpts = list_checkpoints(small);
  ASSERT_GE(ckpts.size(), 1u);
  for (const auto& c : ckpts) EXPECT_NO_THROW(read_checkpoint(c)) << c;
  for (const auto& e : fs::directory_iterator(small + "/checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "temp file left: " << e.path();
}


// Going back to an older checkpoint in the same run directory starts a new
// line of work: the newer checkpoints move to checkpoints/abandoned-*, the
// metrics keep only lines up to the resumed step (no epoch twice), and a
// later --resume auto continues the new line.
TEST(TrainCheckpoints, RollbackSetsNewerCheckpointsAsideAndTrimsMetrics) {
  TempDir d;
  write_bars_dataset(d / "data", 500);
  const std::string run = d / "run";
  const std::string base = "--data " + (d / "data") + " --hidden 32 --latent 4 --batch 50 --epochs 100 " +
                           "--checkpoint-every-steps 10 --out " + run;
  ASSERT_EQ(run_train(base + " --max-steps 40", d).exit_code, 0);  // epochs of 10 steps: ckpts 20, 30, 40 kept
  ASSERT_EQ(list_checkpoints(run).size(), 3u);
  const RunResult r = run_train(base + " --max-steps 30 --lr 0.01 --resume " + checkpoint_path(run, 20), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 newer checkpoint(s) moved to " + checkpoint_dir(run) + "/abandoned-"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("changed options: lr (0.02 -> 0.01)"), std::string::npos) << r.err;
  const auto ckpts = list_checkpoints(run);
  ASSERT_EQ(ckpts.size(), 2u);
  EXPECT_EQ(read_step_from_name(ckpts[0]), 30);
  EXPECT_EQ(read_step_from_name(ckpts[1]), 20);
  const auto m = read_metrics(run + "/metrics.jsonl");
  std::vector<int64_t> epochs;
  for (const auto& l : m) epochs.push_back(l["epoch"]);
  EXPECT_EQ(epochs, (std::vector<int64_t>{0, 1, 2, 3}));
  // --resume auto now continues the new line (step 30), not the abandoned 40.
  const RunResult r2 = run_train(base + " --max-steps 50 --lr 0.01", d);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(json::parse(r2.last_out_line())["resumed_from_step"], 30);
}


// Two restarts with --resume none in quick succession set two sets of
// checkpoints aside into two folders, also when both fall within one second
// (the old abandoned-<time> names then collided and the second set overwrote
// the first; whether they do here depends on the machine's speed).
TEST(TrainCheckpoints, SetAsideFoldersNeverCollide) {
  TempDir d;
  write_bars_dataset(d / "data", 200);
  const std::string run = d / "run";
  const std::string base = "--data " + (d / "data") + " --hidden 8 --latent 2 --batch 50 --epochs 100 " +
                           "--checkpoint-every-steps 2 --max-steps 4 --out " + run;
  for (const char* resume : {"", " --resume none", " --resume none"})
    ASSERT_EQ(run_train(base + resume, d).exit_code, 0);
  int folders = 0, files = 0;
  for (const auto& e : fs::directory_iterator(checkpoint_dir(run))) {
    if (!e.is_directory() || e.path().filename().string().rfind("abandoned-", 0) != 0) continue;
    ++folders;
    for (const auto& f : fs::directory_iterator(e.path())) files += f.path().extension() == ".h5";
  }
  EXPECT_EQ(folders, 2);
  EXPECT_EQ(files, 4);  // ckpt 2 and 4 of each set-aside run
}

}  // namespace
}  // namespace aevb::testing
