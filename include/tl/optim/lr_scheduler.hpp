#pragma once
// LRScheduler: the base of the learning-rate schedulers (PyTorch's _LRScheduler), working on any
// optimizer through OptimizerBase. Construction records each group's base lr (initial_lr) and
// performs the initial step (last_epoch becomes 0), as PyTorch does. Call step() once per epoch
// (or per batch for OneCycleLR), after optimizer.step().
//
// state_dict() keys: last_epoch, step_count (0-d, integer), base_lrs, last_lr (1-d per group);
// SequentialLR adds schedulers.<i>.<key> for each of its schedulers.
// The chainable (recursive) formulas are used, like PyTorch's step(), so a schedule continues
// from the optimizer's current lr after a user changes it.
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tl/core/state_dict.hpp"
#include "tl/optim/optimizer.hpp"
#include "tl/optim/state_entries.hpp"

namespace tl::optim {

class LRScheduler {
  friend class SequentialLR;

 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  virtual std::string name() const = 0;

  /// Advances one epoch and sets every group's lr.
  virtual void step() {
    ++step_count_;
    ++last_epoch_;
    apply(get_lr());
  }
  /// Jumps to `epoch` using the closed form (PyTorch's deprecated step(epoch); SequentialLR uses it).
  void step(int64_t epoch) {
    ++step_count_;
    last_epoch_ = epoch;
    apply(closed_form_lr());
  }
  /// The lrs set by the last step(), one per group.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  int64_t last_epoch() const { return last_epoch_; }
  OptimizerBase& optimizer() { return opt_; }

  template <class T = double>
  StateDict<T> state_dict() const {
    StateDict<T> sd;
    save([&](const std::string& key, const std::vector<double>& v, bool scalar, bool integer) {
      detail::put_values(sd, key, v, scalar, integer);
    }, "");
    return sd;
  }
  /// Restores the counters and base lrs (the groups' current lrs come from the optimizer's
  /// state). Everything is checked before any change.
  template <class T>
  void load_state_dict(const StateDict<T>& sd) {
    std::set<std::string> used;
    auto commit = prepare_load([&](const std::string& key, size_t n) {
      used.insert(key);
      return detail::get_values(sd, key, n, name());
    }, "");
    for (const auto& key : sd.keys())
      TL_CHECK(used.count(key), name(), ": load_state_dict: unexpected key '", key, "'");
    commit();
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
  /// The lrs for last_epoch from the base lrs alone (PyTorch's _get_closed_form_lr, else get_lr).
  virtual std::vector<double> closed_form_lr() { return get_lr(); }

  using Writer = std::function<void(const std::string& key, const std::vector<double>& v, bool scalar, bool integer)>;
  using Reader = std::function<std::vector<double>(const std::string& key, size_t n)>;
  /// Writes the state under prefix (SequentialLR nests its schedulers' states).
  virtual void save(const Writer& w, const std::string& prefix) const {
    w(prefix + "last_epoch", {double(last_epoch_)}, true, true);
    w(prefix + "step_count", {double(step_count_)}, true, true);
    w(prefix + "base_lrs", base_lrs_, false, false);
    w(prefix + "last_lr", last_lr_, false, false);
  }
  /// Reads and checks the state under prefix; the returned action applies it.
  virtual std::function<void()> prepare_load(const Reader& r, const std::string& prefix) {
    const size_t n = opt_.num_param_groups();
    int64_t last_epoch = read_count(r, prefix + "last_epoch"), step_count = read_count(r, prefix + "step_count");
    auto base = r(prefix + "base_lrs", n), last = r(prefix + "last_lr", n);
    return [=, this] {
      last_epoch_ = last_epoch;
      step_count_ = step_count;
      base_lrs_ = base;
      last_lr_ = last;
    };
  }
  int64_t read_count(const Reader& r, const std::string& key) const {
    double v = r(key, 1)[0];
    TL_CHECK(std::isfinite(v) && v == std::floor(v), name(), ": load_state_dict: key '", key,
             "' must hold a whole number, got ", v);
    return static_cast<int64_t>(v);
  }
  void apply(const std::vector<double>& lrs) {
    for (size_t g = 0; g < lrs.size(); ++g) opt_.set_lr(g, lrs[g]);
    last_lr_ = group_lrs();
  }
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
