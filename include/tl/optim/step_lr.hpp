#pragma once
// StepLR: multiplies each group's lr by gamma every step_size epochs.
#include <cmath>

#include "tl/optim/lr_scheduler.hpp"

namespace tl::optim {

class StepLR : public LRScheduler {
 public:
  StepLR(OptimizerBase& opt, int64_t step_size, double gamma = 0.1)
      : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
    TL_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
    initial_step();
  }
  std::string name() const override { return "StepLR"; }

 protected:
  std::vector<double> get_lr() override {
    auto lrs = group_lrs();
    if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
    for (auto& lr : lrs) lr *= gamma_;
    return lrs;
  }

  std::vector<double> closed_form_lr() override {
    std::vector<double> lrs;
    for (double b : base_lrs_) lrs.push_back(b * std::pow(gamma_, double(floor_div(last_epoch_, step_size_))));
    return lrs;
  }

 private:
  static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
  int64_t step_size_;
  double gamma_;
};

}  // namespace tl::optim
