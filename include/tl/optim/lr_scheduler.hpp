#pragma once
// LRScheduler: the base of the learning-rate schedulers (PyTorch's _LRScheduler), working on any
// optimizer through OptimizerBase. Construction records each group's base lr (initial_lr) and
// performs the initial step (last_epoch becomes 0), as PyTorch does. Call step() once per epoch
// (or per batch for OneCycleLR), after optimizer.step().
//
// state_dict() keys: last_epoch, step_count (0-d, integer), base_lrs, last_lr (1-d per group).
// The chainable (recursive) formulas are used, like PyTorch's step(), so a schedule continues
// from the optimizer's current lr after a user changes it.
#include <cstdint>
#include <string>
#include <vector>

#include "tl/core/state_dict.hpp"
#include "tl/optim/optimizer.hpp"
#include "tl/optim/state_entries.hpp"

namespace tl::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  virtual std::string name() const = 0;

  /// Advances one epoch and sets every group's lr.
  void step() {
    ++step_count_;
    ++last_epoch_;
    auto lrs = get_lr();
    for (size_t g = 0; g < lrs.size(); ++g) opt_.set_lr(g, lrs[g]);
    last_lr_ = group_lrs();
  }
  /// The lrs set by the last step(), one per group.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  int64_t last_epoch() const { return last_epoch_; }
  OptimizerBase& optimizer() { return opt_; }

  template <class T = double>
  StateDict<T> state_dict() const {
    StateDict<T> sd;
    detail::put_scalar(sd, "last_epoch", double(last_epoch_), true);
    detail::put_scalar(sd, "step_count", double(step_count_), true);
    detail::put_values(sd, "base_lrs", base_lrs_, false);
    detail::put_values(sd, "last_lr", last_lr_, false);
    return sd;
  }
  /// Restores the counters and base lrs; the groups' current lrs come from the optimizer's state.
  template <class T>
  void load_state_dict(const StateDict<T>& sd) {
    const std::string who = name();
    const size_t n = opt_.num_param_groups();
    for (const auto& key : sd.keys())
      TL_CHECK(key == "last_epoch" || key == "step_count" || key == "base_lrs" || key == "last_lr", who,
               ": load_state_dict: unexpected key '", key, "'");
    int64_t last_epoch = detail::get_count(sd, "last_epoch", who);
    int64_t step_count = detail::get_count(sd, "step_count", who);
    auto base = detail::get_values(sd, "base_lrs", n, who);
    auto last = detail::get_values(sd, "last_lr", n, who);
    last_epoch_ = last_epoch;
    step_count_ = step_count;
    base_lrs_ = base;
    last_lr_ = last;
  }

 protected:
  /// Records base lrs: each group's initial_lr, set to its current lr if no scheduler did before.
  explicit LRScheduler(OptimizerBase& opt) : opt_(opt) {
    for (size_t g = 0; g < opt_.num_param_groups(); ++g) {
      if (!opt_.initial_lr(g)) opt_.set_initial_lr(g, opt_.lr(g));
      base_lrs_.push_back(*opt_.initial_lr(g));
    }
  }
  /// The first step (last_epoch 0); derived constructors call it last, once their fields are set.
  void initial_step() {
    step_count_ = 0;
    step();
  }
  /// The lrs for last_epoch (already advanced), in PyTorch's chainable form.
  virtual std::vector<double> get_lr() = 0;
  std::vector<double> group_lrs() const {
    std::vector<double> r;
    for (size_t g = 0; g < opt_.num_param_groups(); ++g) r.push_back(opt_.lr(g));
    return r;
  }

  OptimizerBase& opt_;
  std::vector<double> base_lrs_, last_lr_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
};

}  // namespace tl::optim
