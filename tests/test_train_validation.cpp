// aevb-train with a validation split (--valid-split): its bound in the metrics
// and the summary, and --keep-best's model_best.h5, across a resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "aevb/io/checkpoint.hpp"
#include "aevb/io/h5.hpp"
#include "aevb/io/model_file.hpp"
#include "data_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// The best validation bound over the metrics lines after epoch 0, and its epoch.
std::pair<double, int64_t> best_of(const std::vector<json>& lines) {
  double best = -INFINITY;
  int64_t epoch = 0;
  for (const json& l : lines)
    if (l["epoch"].get<int64_t>() > 0 && l.contains("valid_elbo") && l["valid_elbo"].get<double>() > best)
      best = l["valid_elbo"].get<double>(), epoch = l["epoch"].get<int64_t>();
  return {best, epoch};
}

TEST(TrainValidation, KeepsTheModelWithTheBestValidationBoundAcrossAResume) {
  TempDir d;
  write_bars_dataset(d / "data", 400, 1, {"train", "valid", "test"});
  // A high learning rate makes the bound move both ways between epochs.
  const std::string base = "--data " + (d / "data") +
                           " --hidden 32 --latent 4 --batch 20 --optimizer adam --lr 0.02 --valid-split valid "
                           "--keep-best on --objective iwae --iwae-k 3 --out " + (d / "run");
  RunResult r = run_train(base + " --epochs 3", d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_train(base + " --epochs 7 --resume auto", d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json sum = json::parse(r.last_out_line());
  EXPECT_EQ(sum["resumed_from_step"], 60);
  EXPECT_EQ(sum["objective"], "iwae-3");

  const auto lines = read_metrics(d / "run/metrics.jsonl");
  ASSERT_EQ(lines.size(), 8u);
  for (const json& l : lines) EXPECT_TRUE(l.contains("valid_elbo") && l.contains("test_elbo")) << l.dump();
  const auto [best, epoch] = best_of(lines);
  // The summary and the file agree with the metrics, including an epoch of
  // the first run (the best so far travels in the checkpoint).
  EXPECT_EQ(sum["best_valid_elbo"].get<double>(), best);
  EXPECT_EQ(sum["best_valid_epoch"].get<int64_t>(), epoch);
  EXPECT_EQ(sum["best_model"], d / "run/model_best.h5");
  const LoadedModel m = load_model(d / "run/model_best.h5");
  EXPECT_EQ(m.meta.epoch, epoch);
  h5::Id f = h5::open_file_read(d / "run/model_best.h5");
  EXPECT_EQ(h5::read_attr_string(f, "selected_on"), "valid");
  EXPECT_EQ(h5::read_attr_double(f, "selected_bound"), best);
  // model.h5 is the last epoch's model; model_best.h5 differs unless the last was best.
  if (epoch != 7) {
    EXPECT_NE(m.model->params, load_model(d / "run/model.h5").model->params);
  }
  const Checkpoint c = read_checkpoint(list_checkpoints(d / "run").front());
  EXPECT_EQ(c.progress.best_valid_epoch, epoch);
}

// Without --keep-best the validation bound is reported, and no best model is written.
TEST(TrainValidation, ReportsTheBoundWithoutKeepingAModel) {
  TempDir d;
  write_bars_dataset(d / "data", 200, 1, {"train", "valid"});
  const RunResult r = run_train("--data " + (d / "data") +
                                    " --hidden 16 --latent 2 --batch 20 --epochs 2 --test-split '' --valid-split valid "
                                    "--out " + (d / "run"),
                                d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json sum = json::parse(r.last_out_line());
  EXPECT_TRUE(sum.contains("valid_elbo"));
  EXPECT_FALSE(sum.contains("test_elbo"));
  EXPECT_FALSE(sum.contains("best_model"));
  EXPECT_FALSE(fs::exists(d / "run/model_best.h5"));
  EXPECT_EQ(read_metrics(d / "run/metrics.jsonl").size(), 3u);
}

}  // namespace
}  // namespace aevb::testing
