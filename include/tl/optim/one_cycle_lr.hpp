#pragma once
// OneCycleLR (PyTorch's formula): lr goes from max_lr/div_factor up to max_lr over the first
// pct_start of total_steps, then down to initial_lr/final_div_factor (three_phase: back to the
// initial lr first, then down). Stepped once per batch. With cycle_momentum (the default, as in
// PyTorch) it also cycles the momentum inversely between max_momentum and base_momentum: SGD's
// momentum or Adam's beta1 -- note this sets SGD's momentum even when it was 0, exactly as PyTorch.
#include <cmath>
#include <numbers>
#include <string>

#include "tl/optim/lr_scheduler.hpp"

namespace tl::optim {

struct OneCycleLROptions {
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // or "linear"
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(OptimizerBase& opt, double max_lr, int64_t total_steps, const OneCycleLROptions& o = {})
      : OneCycleLR(opt, std::vector<double>(opt.num_param_groups(), max_lr), total_steps, o) {}
  /// One max_lr per parameter group.
  OneCycleLR(OptimizerBase& opt, const std::vector<double>& max_lrs, int64_t total_steps,
             const OneCycleLROptions& o = {})
      : LRScheduler(opt), total_steps_(total_steps), o_(o) {
    TL_CHECK(total_steps > 0, "OneCycleLR: expected a positive total_steps, got ", total_steps);
    TL_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "OneCycleLR: expected pct_start in [0, 1], got ", o.pct_start);
    TL_CHECK(o.anneal_strategy == "cos" || o.anneal_strategy == "linear",
             "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got '", o.anneal_strategy, "'");
    TL_CHECK(max_lrs.size() == opt.num_param_groups(), "OneCycleLR: expected ", opt.num_param_groups(),
             " values for max_lr (one per parameter group), got ", max_lrs.size());
    TL_CHECK(!o.cycle_momentum || opt.has_momentum(), "OneCycleLR: optimizer ", opt.name(),
             " must support momentum with the cycle_momentum option enabled");
    const double T = double(total_steps);
    if (o.three_phase) {
      phases_ = {{o.pct_start * T - 1, Initial, Max, MaxMom, BaseMom},
                 {2 * o.pct_start * T - 2, Max, Initial, BaseMom, MaxMom},
                 {T - 1, Initial, Min, MaxMom, MaxMom}};
    } else {
      phases_ = {{o.pct_start * T - 1, Initial, Max, MaxMom, BaseMom}, {T - 1, Max, Min, BaseMom, MaxMom}};
    }
    for (size_t g = 0; g < max_lrs.size(); ++g) {
      const double initial = max_lrs[g] / o.div_factor;
      opt.set_initial_lr(g, initial);
      base_lrs_[g] = initial;
      levels_.push_back({initial, max_lrs[g], initial / o.final_div_factor});
      if (o.cycle_momentum) opt.set_momentum(g, o.max_momentum);
    }
    initial_step();
  }
  std::string name() const override { return "OneCycleLR"; }

 protected:
  std::vector<double> get_lr() override {
    TL_CHECK(last_epoch_ <= total_steps_, "OneCycleLR: tried to step ", last_epoch_ + 1,
             " times; the specified number of total steps is ", total_steps_);
    std::vector<double> lrs;
    const double moms[2] = {o_.max_momentum, o_.base_momentum};
    const double step = double(last_epoch_);
    for (size_t g = 0; g < levels_.size(); ++g) {
      double start_step = 0, lr = 0, mom = 0;
      for (size_t i = 0; i < phases_.size(); ++i) {
        const Phase& ph = phases_[i];
        if (step <= ph.end_step || i + 1 == phases_.size()) {
          const double pct = (step - start_step) / (ph.end_step - start_step);
          lr = anneal(levels_[g][ph.start_lr], levels_[g][ph.end_lr], pct);
          mom = anneal(moms[ph.start_mom == MaxMom ? 0 : 1], moms[ph.end_mom == MaxMom ? 0 : 1], pct);
          break;
        }
        start_step = ph.end_step;
      }
      lrs.push_back(lr);
      if (o_.cycle_momentum) opt_.set_momentum(g, mom);
    }
    return lrs;
  }

 private:
  enum Level { Initial = 0, Max = 1, Min = 2 };
  enum Mom { MaxMom, BaseMom };
  struct Phase {
    double end_step;
    Level start_lr, end_lr;
    Mom start_mom, end_mom;
  };
  double anneal(double start, double end, double pct) const {
    if (o_.anneal_strategy == "linear") return (end - start) * pct + start;
    return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
  }

  int64_t total_steps_;
  OneCycleLROptions o_;
  std::vector<Phase> phases_;
  std::vector<std::array<double, 3>> levels_;  // initial, max, min lr per group
};

}  // namespace tl::optim
