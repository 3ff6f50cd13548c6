#pragma once
// tl::train::Progress: a live bar per epoch on a terminal, one plain line per epoch otherwise
// (CI logs, pipes), or nothing (quiet).
//
//   epoch 2/10 [##########..........] 234/469 loss 0.4123 acc 85.21% 1834 img/s ETA 0:12
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tl::train {

enum class ProgressMode {
  kAuto,   // a bar if the stream is a terminal, else plain lines
  kBar,    // always the live bar
  kPlain,  // one line per epoch
  kQuiet,  // nothing
};

/// "1:02:03" or "2:03" for a number of seconds.
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

class Progress {
 public:
  /// Writes to `out` (stdout by default, so epoch lines land in `./train | tee log`).
  explicit Progress(ProgressMode mode = ProgressMode::kAuto, std::FILE* out = stdout) : out_(out) {
    if (mode == ProgressMode::kAuto) mode = ::isatty(::fileno(out)) ? ProgressMode::kBar : ProgressMode::kPlain;
    mode_ = mode;
  }
  ProgressMode mode() const { return mode_; }

  void start_epoch(int64_t epoch, int64_t epochs, int64_t steps) {
    epoch_ = epoch;
    epochs_ = epochs;
    steps_ = steps;
    start_ = last_draw_ = Clock::now();
    drawn_ = false;
  }

  /// After `step` of the epoch's steps (1-based), with running averages and images seen so far.
  void update(int64_t step, double loss, double acc, int64_t images) {
    if (mode_ != ProgressMode::kBar) return;
    auto now = Clock::now();
    // at most ~10 redraws a second: a terminal is slow and a fast epoch has thousands of steps
    if (drawn_ && step < steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    drawn_ = true;
    const double elapsed = seconds_since(start_);
    const double rate = elapsed > 0 ? static_cast<double>(images) / elapsed : 0.0;
    const double eta = step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(steps_ - step) : -1;
    constexpr int kWidth = 24;
    int fill = steps_ > 0 ? static_cast<int>(kWidth * step / steps_) : kWidth;
    std::string bar(static_cast<size_t>(fill), '#');
    bar.resize(kWidth, '.');
    std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %s", (long long)epoch_,
                 (long long)epochs_, bar.c_str(), (long long)step, (long long)steps_, loss, 100.0 * acc, rate,
                 format_duration(eta).c_str());
    std::fflush(out_);
  }

  /// Ends the epoch with one summary line (replacing the bar on a terminal).
  void end_epoch(const std::string& summary) {
    if (mode_ == ProgressMode::kQuiet) return;
    if (mode_ == ProgressMode::kBar) std::fputs("\r\033[K", out_);
    std::fprintf(out_, "%s\n", summary.c_str());
    std::fflush(out_);
  }
  /// A message on its own line (e.g. "resumed from ..."), unless quiet.
  void message(const std::string& text) {
    if (mode_ == ProgressMode::kQuiet) return;
    if (mode_ == ProgressMode::kBar && drawn_) std::fputs("\r\033[K", out_);
    std::fprintf(out_, "%s\n", text.c_str());
    std::fflush(out_);
  }

  double epoch_seconds() const { return seconds_since(start_); }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }
  std::FILE* out_;
  ProgressMode mode_;
  int64_t epoch_ = 0, epochs_ = 0, steps_ = 0;
  Clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace tl::train
