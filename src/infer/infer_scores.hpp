// Per-point scores of aevb-infer inpaint and denoise (private to the infer
// layer): how well per-pixel predictions p match the true pixels, and a table
// of per-point columns gathered over ranks in global order.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aevb/dist/mpi_comm.hpp"
#include "aevb/io/array_file.hpp"

namespace aevb {

// Plug-in probabilities are clamped to [c, 1 - c]: a baseline that predicts a
// pixel with certainty (the nearest neighbour's binary pixels) would otherwise
// score -inf on one wrong pixel.
constexpr double kPluginClamp = 1e-3;

struct PixelScore {
  double log_lik = 0;        // sum over the scored pixels of log Bernoulli(x_d; clamp(p_d))
  double error_rate = 0;     // the fraction of scored pixels with (p_d > 1/2) != (x_d > 1/2)
  double squared_error = 0;  // the mean over the scored pixels of (x_d - p_d)^2
};

// Scores the pixels d with skip[d] == 0 (skip = null: every pixel).
PixelScore score_pixels(const float* x, const float* p, const uint8_t* skip, int64_t D, bool binary);

// The pictured points: the first `shown` points of the command, wherever they
// were computed. Each rank passes `tile(kind, i, d)` for its local points i
// (global index first + i < shown); rank 0 gets the tiles row by row, row k
// = kind k of points 0..shown-1 (a collective call; empty on other ranks).
std::vector<float> gather_pictured(const MpiComm& comm, int64_t first, int64_t local_points, int64_t shown,
                                   int64_t kinds, int64_t D, const std::function<float(int64_t, int64_t, int64_t)>& tile);

class ScoreTable {
 public:
  // Every rank declares the same columns, so the gathers match even on a rank
  // with no points.
  ScoreTable(std::vector<std::string> reals, std::vector<std::string> indices);
  void add(const std::string& column, double v);           // usage: one value per point, in order
  void add_index(const std::string& column, int64_t v);
  ScoreTable gather(const MpiComm& comm) const;             // rank 0: every rank's rows in rank order
  void put(ArrayFile& f) const;                             // 1-D datasets: f64 and i64 columns
  nlohmann::json means() const;                             // the mean of each real column (finite values)

 private:
  std::map<std::string, std::vector<double>> reals_;
  std::map<std::string, std::vector<int64_t>> indices_;
};

}  // namespace aevb
