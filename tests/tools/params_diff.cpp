// aevb_params_diff A B [TOL]: compares the parameters of two model files or
// checkpoints. Prints {"rel_diff": ||a-b||/||a||, "identical": bool} and exits
// 0 if rel_diff <= TOL (default 0: bitwise identical), 1 otherwise, 3 on bad
// input. Used by the shell-driven SLURM and multi-host tests.
#include <cmath>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "aevb/base/error.hpp"
#include "aevb/io/model_file.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: aevb_params_diff MODEL_A MODEL_B [TOL]\n";
    return 2;
  }
  try {
    const auto a = aevb::load_model_or_checkpoint(argv[1]), b = aevb::load_model_or_checkpoint(argv[2]);
    const auto &pa = a.model->params, &pb = b.model->params;
    if (pa.size() != pb.size()) throw aevb::input_error("different parameter counts");
    double num = 0, den = 0;
    for (size_t i = 0; i < pa.size(); ++i) {
      num += (double(pa[i]) - pb[i]) * (double(pa[i]) - pb[i]);
      den += double(pa[i]) * pa[i];
    }
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    const bool identical = std::memcmp(pa.data(), pb.data(), pa.size() * sizeof(float)) == 0;
    const double tol = argc > 3 ? std::atof(argv[3]) : 0.0;
    std::cout << nlohmann::json{{"rel_diff", rel}, {"identical", identical}, {"tol", tol}}.dump() << std::endl;
    return (tol == 0.0 ? identical : rel <= tol) ? 0 : 1;
  } catch (const aevb::Error& e) {
    std::cerr << "aevb_params_diff: error: " << e.what() << std::endl;
    return 3;
  }
}
