#include "aevb/train/train_report.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "aevb/base/error.hpp"
#include "aevb/io/durable_file.hpp"
#include "aevb/base/utf8.hpp"

namespace aevb {

using json = nlohmann::json;

namespace {
std::string human_seconds(double s) {
  char buf[32];
  const long t = static_cast<long>(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

void trim_metrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || step == 0) continue;
    try {
      if (json::parse(line).value("step", int64_t{0}) <= step) kept += line + "\n";
    } catch (const json::exception&) {
      // a torn last line from a killed run: dropped
    }
  }
  write_text_atomically(path, kept);
}
}  // namespace

MetricsLog::MetricsLog(const std::string& path, int64_t resumed_step) : path_(path) {
  trim_metrics(path, resumed_step);
  out_.open(path, std::ios::app);  // a resumed run continues the file
  if (!out_) throw output_error("cannot open the metrics file " + path + " for appending");
}

void MetricsLog::append(const json& line) {
  out_ << json_text(line) << "\n" << std::flush;
  if (!out_) throw output_error("cannot append to the metrics file " + path_ + ": " + std::strerror(errno));
}

void put_means(json& j, const std::string& prefix, const ElboSums& s) {
  const double n = static_cast<double>(std::max<int64_t>(1, s.points));
  j[prefix + "_elbo"] = s.elbo / n;
  j[prefix + "_rec"] = s.rec / n;
  j[prefix + "_kl"] = s.kl / n;
}

std::string progress_line(int64_t epoch, int64_t epochs, int64_t step, int64_t total_steps, double samples_per_s,
                          double elbo_per_point, float lr, double eta_seconds) {
  char line[256];
  std::snprintf(line, sizeof line,
                "epoch %lld/%lld step %lld/%lld | %.1fk samples/s | ELBO %.2f (rank 0 slice) | lr %.3g | ETA %s",
                static_cast<long long>(epoch), static_cast<long long>(epochs), static_cast<long long>(step),
                static_cast<long long>(total_steps), samples_per_s / 1000.0, elbo_per_point, lr,
                human_seconds(eta_seconds).c_str());
  return line;
}

}  // namespace aevb
