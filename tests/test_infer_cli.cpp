// aevb-infer end to end on a small trained model: the pictures decoded back
// from the PNG files hold the HDF5 outputs' values in the documented layout,
// encode gives the same bits on 1, 2 and 3 ranks, inpainting and denoising
// write their tables and beat their trivial baselines, and bad input gets one
// clear message and its exit code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "aevb/io/array_file.hpp"
#include "aevb/io/png_image.hpp"
#include "aevb/io/shard_writer.hpp"
#include "data_test_util.hpp"
#include "mpi_test_util.hpp"
#include "train_test_util.hpp"

namespace aevb::testing {
namespace {

using json = nlohmann::json;
constexpr int64_t kRows = 300, kSide = 8, kD = kSide * kSide;

// 8x8 "bars" pictures with labels (the number of lit bars), row_shape {8, 8}.
void write_picture_dataset(const std::string& dir) {
  DatasetWriter w(dir, "bars8x8", "test", false);
  for (const std::string split : {"train", "test"}) {
    SplitSpec s;
    s.name = split;
    s.dtype = h5::DType::float32;
    s.row_shape = {kSide, kSide};
    s.rows = kRows;
    s.value_range = {0, 1};
    s.value_meaning = "synthetic";
    s.labels = h5::DType::int64;
    s.shards = 2;
    w.begin_split(s);
    std::vector<float> x(kRows * kD);
    std::vector<int64_t> labels(kRows, 0);
    for (int64_t i = 0; i < kRows; ++i)
      for (int64_t j = 0; j < kD; ++j) {
        const bool on = ((uint64_t(i + (split == "test" ? 1000 : 0)) * 2654435761u) >> (j / 16)) & 1u;
        x[i * kD + j] = on ? 1.f : 0.f;
        if (j % 16 == 0) labels[i] += on;
      }
    w.add_rows(x.data(), labels.data(), kRows);
    w.end_split();
  }
  w.commit();
}

class InferCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_picture_dataset(*dir_ / "data");
    write_float_dataset(*dir_ / "real", 200, 6, [](int64_t i, int64_t j) { return float(std::sin(0.7 * i + j)); });
    const std::string base = "--hidden 16 --batch 50 --optimizer adam --lr 0.01 --latent 2 ";
    ASSERT_EQ(run_train(base + "--data " + (*dir_ / "data") + " --epochs 15 --samples-every 6 --out " + (*dir_ / "run"), *dir_).exit_code, 0);
    ASSERT_EQ(run_train(base + "--data " + (*dir_ / "real") + " --decoder gaussian --gaussian-mean identity "
                               "--epochs 5 --out " + (*dir_ / "grun"), *dir_).exit_code, 0);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string model() { return *dir_ / "run/model.h5"; }
  static std::string data() { return *dir_ / "data"; }
  static RunResult infer(const std::string& args, const TempDir& d) { return run_tool("aevb-infer", args, d, "infer"); }
  static TempDir* dir_;
};
TempDir* InferCli::dir_ = nullptr;

json last_json(const RunResult& r) { return json::parse(r.last_out_line()); }

// The grey level the grid gives value v in [0, 1].
int grey(float v) { return int(std::lround(std::clamp(double(v), 0.0, 1.0) * 255.0)); }

// Checks that tile t of a grid with `cols` tiles per row holds the values v.
void expect_tile(const GreyImage& img, int64_t cols, int64_t t, const float* v) {
  const int64_t x0 = 2 + (t % cols) * (kSide + 2), y0 = 2 + (t / cols) * (kSide + 2);
  for (int64_t y = 0; y < kSide; ++y)
    for (int64_t x = 0; x < kSide; ++x) ASSERT_EQ(img.at(x0 + x, y0 + y), grey(v[y * kSide + x])) << "tile " << t;
}

TEST_F(InferCli, SampleWritesTheDecoderMeansAsAGridAndBinaryDraws) {
  TempDir d;
  const RunResult r = infer("sample --model " + model() + " --points 6 --cols 4 --binary --out " + (d / "s"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(last_json(r)["status"], "ok");
  const ArrayFile f = read_array_file(d / "s.h5", "aevb-samples");
  const GreyImage img = read_png(d / "s.png");
  EXPECT_EQ(img.width, 4 * (kSide + 2) + 2);
  EXPECT_EQ(img.height, 2 * (kSide + 2) + 2);
  EXPECT_EQ(img.at(0, 0), 128);  // the border
  ASSERT_EQ(f.f32.at("mean").dims, (std::vector<int64_t>{6, kD}));
  for (int64_t t = 0; t < 6; ++t) expect_tile(img, 4, t, &f.f32.at("mean").data[t * kD]);
  const GreyImage bin = read_png(d / "s-binary.png");
  for (uint8_t v : bin.pixels) EXPECT_TRUE(v == 0 || v == 255 || v == 128);
  for (uint8_t v : f.u8.at("binary").data) EXPECT_LE(v, 1);
}

TEST_F(InferCli, ReconstructPutsEachOriginalBesideItsReconstruction) {
  TempDir d;
  const RunResult r = infer("reconstruct --model " + model() + " --data " + data() + " --points 5 --cols 3 --out " + (d / "r"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const ArrayFile f = read_array_file(d / "r.h5", "aevb-reconstructions");
  const GreyImage img = read_png(d / "r.png");
  EXPECT_EQ(img.width, 6 * (kSide + 2) + 2);
  for (int64_t i = 0; i < 5; ++i) {
    expect_tile(img, 6, 2 * i, &f.f32.at("x").data[i * kD]);
    expect_tile(img, 6, 2 * i + 1, &f.f32.at("mean").data[i * kD]);
    EXPECT_LT(f.f64.at("log_lik_at_mean").data[i], 0);
    EXPECT_EQ(f.i64.at("index").data[i], i);
  }
  EXPECT_EQ(f.i64.count("labels"), 1u);
  EXPECT_NEAR(last_json(r)["log_lik_at_mean"].get<double>(),
              (f.f64.at("log_lik_at_mean").data[0] + f.f64.at("log_lik_at_mean").data[1] + f.f64.at("log_lik_at_mean").data[2] +
               f.f64.at("log_lik_at_mean").data[3] + f.f64.at("log_lik_at_mean").data[4]) / 5, 1e-9);
}

TEST_F(InferCli, ManifoldAndInterpolationDecodeTheirLatentPaths) {
  TempDir d;
  ASSERT_EQ(infer("manifold --model " + model() + " --grid 5 --out " + (d / "m"), d).exit_code, 0);
  const ArrayFile m = read_array_file(d / "m.h5", "aevb-manifold");
  const GreyImage mi = read_png(d / "m.png");
  EXPECT_EQ(mi.width, 5 * (kSide + 2) + 2);
  EXPECT_EQ(mi.height, 5 * (kSide + 2) + 2);
  expect_tile(mi, 5, 7, &m.f32.at("mean").data[7 * kD]);
  EXPECT_FLOAT_EQ(m.f32.at("z").data[0], 1.2815516f);  // row 0 = Phi^-1(0.9) on dimension 0
  ASSERT_EQ(infer("interpolate --model " + model() + " --data " + data() + " --points 4 --steps 6 --out " + (d / "i"), d).exit_code, 0);
  const ArrayFile in = read_array_file(d / "i.h5", "aevb-interpolations");
  const GreyImage ii = read_png(d / "i.png");
  EXPECT_EQ(ii.width, 8 * (kSide + 2) + 2);  // point, 6 steps, point
  EXPECT_EQ(ii.height, 2 * (kSide + 2) + 2);  // two pairs
  expect_tile(ii, 8, 9, &in.f32.at("mean").data[6 * kD]);  // pair 1's first step
  EXPECT_EQ(in.i64.at("index_b").data[1], 3);
  // --dims auto: the two most active units of a J = 2 model are both of them.
  const RunResult a = infer("manifold --model " + model() + " --grid 3 --dims auto --data " + data() + " --out " + (d / "a"), d);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const json dims = last_json(a)["dims"];
  EXPECT_EQ(dims[0].get<int>() + dims[1].get<int>(), 1);
}

TEST_F(InferCli, EncodeIsIdenticalOnOneTwoAndThreeRanks) {
  TempDir d;
  std::vector<std::vector<float>> mus;
  for (int ranks : {1, 2, 3}) {
    const std::string out = d / ("e" + std::to_string(ranks));
    const std::string cmd = std::string(AEVB_MPIEXEC) + " -np " + std::to_string(ranks) + " " + AEVB_BINARY_DIR +
                            "/aevb-infer encode --model " + model() + " --data " + data() +
                            " --chunk-rows 64 --shard-rows 100 --z-samples 2 --out " + out + " > " + (d / "o.txt") + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(d / "o.txt");
    const ArrayFile idx = read_array_file(out + "/latents.h5", "aevb-latents");
    EXPECT_EQ(idx.ints.at("rows"), kRows);
    EXPECT_EQ(idx.ints.at("shards"), 3);
    EXPECT_EQ(json::parse(idx.text.at("shard_files")).size(), 3u);
    EXPECT_GE(idx.ints.at("active_units"), 1);
    std::vector<float> all;
    for (int s = 0; s < 3; ++s) {
      const ArrayFile sh = read_array_file(out + "/latents-0000" + std::to_string(s) + ".h5", "aevb-latents-shard");
      EXPECT_EQ(sh.ints.at("row_offset"), 100 * s);
      for (int64_t r = 0; r < 100; ++r) EXPECT_EQ(sh.i64.at("index").data[r], 100 * s + r);
      EXPECT_EQ(sh.f32.at("z").dims, (std::vector<int64_t>{100, 2, 2}));
      EXPECT_EQ(sh.i64.count("labels"), 1u);
      for (const char* k : {"mu", "logvar", "z"}) all.insert(all.end(), sh.f32.at(k).data.begin(), sh.f32.at(k).data.end());
    }
    mus.push_back(all);
  }
  EXPECT_EQ(mus[0], mus[1]);  // bitwise
  EXPECT_EQ(mus[0], mus[2]);
}

TEST_F(InferCli, InpaintingWritesItsTableAndKeepsTheObservedPixels) {
  TempDir d;
  const RunResult r = infer("inpaint --model " + model() + " --data " + data() + " --points 12 --iterations 60 --burn-in 10 "
                            "--is-samples 100 --group 5 --cols 4 --out " + (d / "p"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = last_json(r);
  const ArrayFile f = read_array_file(d / "p.h5", "aevb-inpainting");
  for (const char* k : {"log_p_miss", "plugin_ll_mwg", "plugin_ll_pseudo_gibbs", "plugin_ll_mean_image",
                        "plugin_ll_nearest_neighbour", "pixel_error_mwg", "mwg_accept"}) {
    ASSERT_EQ(f.f64.count(k), 1u) << k;
    EXPECT_EQ(f.f64.at(k).data.size(), 12u) << k;
    EXPECT_TRUE(j["means"].contains(k)) << k;
  }
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(f.i64.at("missing_pixels").data[i], kD / 2);  // the bottom half
    EXPECT_LT(f.f64.at("log_p_miss").data[i], 0);
  }
  // Row 0 of the picture: the truth; row 1: the observed half, the rest grey.
  const std::vector<float>& pic = f.f32.at("pictured").data;
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t p = 0; p < kD; ++p) EXPECT_EQ(pic[(4 + t) * kD + p], p < kD / 2 ? pic[t * kD + p] : 0.5f);
  const GreyImage img = read_png(d / "p.png");
  EXPECT_EQ(img.height, 6 * (kSide + 2) + 2);  // truth, observed, mwg, pseudo-Gibbs, mean image, neighbour
}

TEST_F(InferCli, DenoisingBeatsTheNoisyInput) {
  TempDir d;
  const RunResult r = infer("denoise --model " + model() + " --data " + data() + " --points 40 --noise 0.1 --samples 200 --out " +
                            (d / "n"), d);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json m = last_json(r)["means"];
  EXPECT_NEAR(m["pixel_error_noisy"].get<double>(), 0.1, 0.03);
  EXPECT_LT(m["pixel_error_posterior"].get<double>(), m["pixel_error_noisy"].get<double>());
  EXPECT_GT(m["plugin_ll_posterior"].get<double>(), m["plugin_ll_noisy"].get<double>());
  // Real data: Gaussian noise, squared errors.
  const RunResult g = infer("denoise --model " + (*dir_ / "grun/model.h5") + " --data " + (*dir_ / "real") +
                            " --points 20 --noise 0.5 --samples 100 --out " + (d / "g"), d);
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_TRUE(last_json(g)["means"].contains("squared_error_posterior"));
}

// aevb-train --samples-every 6 over 15 epochs: grids after epochs 6, 12 and
// the last; the last one is what aevb-infer sample draws from the final model.
TEST_F(InferCli, TrainingWritesSampleGridsOfTheSameLatentPoints) {
  TempDir d;
  const std::string s = *dir_ / "run/samples/";
  std::vector<std::string> files = all_files(*dir_ / "run/samples");
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"epoch-000006.png", "epoch-000012.png", "epoch-000015.png"}));
  ASSERT_EQ(infer("sample --model " + model() + " --points 64 --cols 8 --seed 1 --out " + (d / "s"), d).exit_code, 0);
  const GreyImage last = read_png(s + "epoch-000015.png"), sample = read_png(d / "s.png");
  EXPECT_EQ(last.width, 8 * (kSide + 2) + 2);
  EXPECT_EQ(last.pixels, sample.pixels);
  EXPECT_NE(read_png(s + "epoch-000006.png").pixels, last.pixels);  // the model changed in between
}

// One point on two ranks: rank 0 has none, the picture still shows it.
TEST_F(InferCli, PicturesComeFromWhicheverRankHasThePoints) {
  TempDir d;
  const std::string cmd = std::string(AEVB_MPIEXEC) + " -np 2 " + AEVB_BINARY_DIR + "/aevb-infer denoise --model " +
                          model() + " --data " + data() + " --points 1 --samples 20 --out " + (d / "n") + " > " +
                          (d / "o.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(d / "o.txt");
  const ArrayFile f = read_array_file(d / "n.h5", "aevb-denoising");
  EXPECT_EQ(f.f32.at("pictured").dims, (std::vector<int64_t>{4, kD}));  // clean, noisy, naive, posterior
  EXPECT_EQ(f.f64.at("log_p_clean").data.size(), 1u);
  const GreyImage img = read_png(d / "n.png");
  EXPECT_EQ(img.height, 4 * (kSide + 2) + 2);
  EXPECT_NE(img.at(2, 2 + 0), 128);  // a tile, not the border colour everywhere
}

TEST_F(InferCli, HelpAndVersionForEveryCommand) {
  TempDir d;
  EXPECT_EQ(infer("--help", d).exit_code, 0);
  EXPECT_EQ(infer("--version", d).exit_code, 0);
  for (const char* c : {"encode", "sample", "reconstruct", "manifold", "interpolate", "inpaint", "denoise"}) {
    const RunResult r = infer(std::string(c) + " --help", d);
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << c;
  }
}

struct BadCase {
  const char* name;
  std::string args;  // MODEL, DATA, GMODEL, OUT are replaced
  int exit_code;
  const char* message;
};

class InferBadInput : public InferCli, public ::testing::WithParamInterface<BadCase> {};

TEST_P(InferBadInput, FailsWithOneClearMessage) {
  TempDir d;
  write_file(d / "exists.png", "x", false);
  write_png(d / "mask.png", GreyImage{3, 3, std::vector<uint8_t>(9, 0)});
  write_float_dataset(d / "grey", 5, kD, [](int64_t i, int64_t j) { return float((i + j) % 3) / 2; });
  std::string a = GetParam().args;
  for (auto [k, v] : {std::pair<std::string, std::string>{"GMODEL", *dir_ / "grun/model.h5"}, {"MODEL", model()},
                      {"DATA", data()}, {"OUT", d / "out"}, {"DIR", d.path}})
    for (size_t p; (p = a.find(k)) != std::string::npos;) a.replace(p, k.size(), v);
  const RunResult r = infer(a, d);
  EXPECT_EQ(r.exit_code, GetParam().exit_code) << r.err;
  const json j = last_json(r);
  EXPECT_EQ(j["status"], "error");
  EXPECT_NE(j["error"].get<std::string>().find(GetParam().message), std::string::npos) << j["error"];
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InferBadInput,
    ::testing::Values(
        BadCase{"NoCommand", "", 2, "a command is required"},
        BadCase{"UnknownCommand", "decode --model MODEL", 2, "unknown command 'decode'"},
        BadCase{"NoModel", "sample --out OUT", 2, "--model: required"},
        BadCase{"NoData", "reconstruct --model MODEL --out OUT", 2, "--data: required"},
        BadCase{"DimsOutOfRange", "manifold --model MODEL --dims 0,5 --out OUT", 2, "latent dimensions 0..1"},
        BadCase{"DimsAutoWithoutData", "manifold --model MODEL --dims auto --out OUT", 2, "--dims auto: needs --data"},
        BadCase{"DimsMalformed", "manifold --model MODEL --dims 0 --out OUT", 2, "--dims"},
        BadCase{"BurnInTooLong", "inpaint --model MODEL --data DATA --iterations 10 --burn-in 10 --out OUT", 2, "--burn-in"},
        BadCase{"FlipAtOneHalf", "denoise --model MODEL --data DATA --noise 0.5 --out OUT", 2, "below 0.5"},
        BadCase{"FlipOnGreyData", "denoise --model MODEL --data DATA --binarize none --out OUT --points 3 --data DIR/grey", 2,
                "needs binary points"},
        BadCase{"BinaryForGaussian", "sample --model GMODEL --binary --out OUT", 2, "only for a Bernoulli decoder"},
        BadCase{"PointsOutOfRange", "sample --model MODEL --points 0 --out OUT", 2, "--points"},
        BadCase{"UnknownMask", "inpaint --model MODEL --data DATA --mask middle --out OUT", 2, "--mask"},
        BadCase{"MaskFileWrongSize", "inpaint --model MODEL --data DATA --mask file:DIR/mask.png --out OUT", 3, "expected a 8x8"},
        BadCase{"ModelMissing", "sample --model DIR/none.h5 --out OUT", 3, "none.h5"},
        BadCase{"DataOfAnotherDimension", "reconstruct --model GMODEL --data DATA --out OUT", 3, "values per data point"},
        BadCase{"OutputExists", "sample --model MODEL --out DIR/exists", 4, "exists; use --force"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace aevb::testing
