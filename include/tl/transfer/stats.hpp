#pragma once
// Metrics of the transfer itself: parameter counts (count_parameters in freeze.hpp) printed
// readably, and wall-clock time per epoch.
//
//   tl::transfer::EpochTimer timer;
//   for (...) { timer.start(); train_one_epoch(); timer.stop(); }
//   timer.mean_seconds();   // time per epoch
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tl/transfer/freeze.hpp"

namespace tl::transfer {

/// "1.23M / 11.2M trainable (11.0%)".
inline std::string format_parameter_count(const ParameterCount& c) {
  auto human = [](int64_t n) {
    char buf[32];
    if (n >= 1'000'000) std::snprintf(buf, sizeof buf, "%.3gM", static_cast<double>(n) / 1e6);
    else if (n >= 1'000) std::snprintf(buf, sizeof buf, "%.3gk", static_cast<double>(n) / 1e3);
    else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    return std::string(buf);
  };
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * c.fraction());
  return human(c.trainable) + " / " + human(c.total) + " trainable (" + pct + ")";
}

/// Steady-clock laps (one per epoch, or per anything).
class EpochTimer {
 public:
  using Clock = std::chrono::steady_clock;
  void start() { t0_ = Clock::now(), running_ = true; }
  /// Ends the lap and returns its seconds.
  double stop() {
    TL_CHECK(running_, "EpochTimer::stop() without start()");
    running_ = false;
    laps_.push_back(std::chrono::duration<double>(Clock::now() - t0_).count());
    return laps_.back();
  }
  const std::vector<double>& laps() const { return laps_; }
  double total_seconds() const {
    double s = 0;
    for (double l : laps_) s += l;
    return s;
  }
  double mean_seconds() const { return laps_.empty() ? 0.0 : total_seconds() / static_cast<double>(laps_.size()); }

 private:
  Clock::time_point t0_{};
  bool running_ = false;
  std::vector<double> laps_;
};

}  // namespace tl::transfer
