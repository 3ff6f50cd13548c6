#pragma once
// MultiStepLR: multiplies each group's lr by gamma at each milestone epoch (a milestone listed
// k times multiplies by gamma^k, as PyTorch's Counter does).
#include <algorithm>
#include <cmath>

#include "tl/optim/lr_scheduler.hpp"

namespace tl::optim {

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(OptimizerBase& opt, std::vector<int64_t> milestones, double gamma = 0.1)
      : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
    initial_step();
  }
  std::string name() const override { return "MultiStepLR"; }

 protected:
  std::vector<double> get_lr() override {
    auto lrs = group_lrs();
    auto k = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
    if (k == 0) return lrs;
    for (auto& lr : lrs) lr *= std::pow(gamma_, double(k));
    return lrs;
  }

  std::vector<double> closed_form_lr() override {
    auto sorted = milestones_;
    std::sort(sorted.begin(), sorted.end());
    auto k = std::upper_bound(sorted.begin(), sorted.end(), last_epoch_) - sorted.begin();
    std::vector<double> lrs;
    for (double b : base_lrs_) lrs.push_back(b * std::pow(gamma_, double(k)));
    return lrs;
  }

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

}  // namespace tl::optim
