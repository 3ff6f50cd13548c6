#pragma once
// LinearLR: scales the lr by a factor going linearly from start_factor to end_factor over
// total_iters epochs (a linear warm-up with the defaults), then keeps it.
#include <algorithm>

#include "tl/optim/lr_scheduler.hpp"

namespace tl::optim {

class LinearLR : public LRScheduler {
 public:
  LinearLR(OptimizerBase& opt, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5)
      : LRScheduler(opt), start_(start_factor), end_(end_factor), total_(total_iters) {
    TL_CHECK(start_factor >= 0 && start_factor <= 1, "LinearLR: start_factor must be in [0, 1], got ", start_factor);
    TL_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ", end_factor);
    TL_CHECK(total_iters >= 0, "LinearLR: total_iters must be >= 0, got ", total_iters);
    initial_step();
  }
  std::string name() const override { return "LinearLR"; }

 protected:
  std::vector<double> get_lr() override {
    auto lrs = group_lrs();
    if (last_epoch_ == 0) {
      for (auto& lr : lrs) lr *= start_;
      return lrs;
    }
    if (last_epoch_ > total_) return lrs;
    const double f =
        1.0 + (end_ - start_) / (double(total_) * start_ + double(last_epoch_ - 1) * (end_ - start_));
    for (auto& lr : lrs) lr *= f;
    return lrs;
  }

  std::vector<double> closed_form_lr() override {
    std::vector<double> lrs;
    const double f = start_ + (end_ - start_) * double(std::min(total_, last_epoch_)) / double(total_);
    for (double b : base_lrs_) lrs.push_back(b * f);
    return lrs;
  }

 private:
  double start_, end_;
  int64_t total_;
};

}  // namespace tl::optim
