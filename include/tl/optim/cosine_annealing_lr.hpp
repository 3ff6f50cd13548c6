#pragma once
// CosineAnnealingLR: lr follows half a cosine from the base lr down to eta_min over T_max epochs
// (and back up after, periodically), in PyTorch's recursive form.
#include <cmath>
#include <numbers>

#include "tl/optim/lr_scheduler.hpp"

namespace tl::optim {

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(OptimizerBase& opt, int64_t T_max, double eta_min = 0)
      : LRScheduler(opt), T_max_(T_max), eta_min_(eta_min) {
    TL_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got ", T_max);
    initial_step();
  }
  std::string name() const override { return "CosineAnnealingLR"; }

 protected:
  std::vector<double> get_lr() override {
    auto lrs = group_lrs();
    if (last_epoch_ == 0) return lrs;
    const double pi = std::numbers::pi, T = double(T_max_), e = double(last_epoch_);
    const int64_t period = 2 * T_max_;
    if ((((last_epoch_ - 1 - T_max_) % period) + period) % period == 0) {  // Python's non-negative modulo
      for (size_t g = 0; g < lrs.size(); ++g) lrs[g] += (base_lrs_[g] - eta_min_) * (1 - std::cos(pi / T)) / 2;
      return lrs;
    }
    for (auto& lr : lrs)
      lr = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
    return lrs;
  }

  std::vector<double> closed_form_lr() override {
    std::vector<double> lrs;
    for (double b : base_lrs_)
      lrs.push_back(eta_min_ + (b - eta_min_) * (1 + std::cos(std::numbers::pi * double(last_epoch_) / double(T_max_))) / 2);
    return lrs;
  }

 private:
  int64_t T_max_;
  double eta_min_;
};

}  // namespace tl::optim
