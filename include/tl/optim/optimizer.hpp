#pragma once
// The optimizer bases: OptimizerBase (any optimizer, untyped: what schedulers use),
// Optimizer<T> (any optimizer of Tensor<T>: what training loops and checkpoints use) and
// OptimizerImpl<T, Options> (parameter groups, per-parameter state, zero_grad, state_dict).
//
// An optimizer takes parameter lists (what module->parameters() returns), not modules:
//
//   tl::optim::SGD<float> opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
//   // or groups, each overriding the defaults (like PyTorch's list of dicts):
//   tl::optim::SGD<float> opt({{.params = backbone, .lr = 1e-4}, {.params = head}}, {.lr = 1e-2, .momentum = 0.9});
//   loss.backward(); opt.step(); opt.zero_grad();
//
// step() updates every parameter that has a gradient in place under NoGradGuard; parameters
// whose grad() is undefined are skipped (as in PyTorch).
//
// state_dict() keys (global parameter index i counts over the groups in order, as in PyTorch):
//   state.<i>.step                       0-d, integer (Adam/AdamW)
//   state.<i>.<buffer>                   momentum_buffer | exp_avg | exp_avg_sq | max_exp_avg_sq
//   param_groups.<g>.params              1-d, integer: the global indices of the group's params
//   param_groups.<g>.<option>            0-d (bools as 0/1), betas 1-d of 2
//   param_groups.<g>.initial_lr          0-d, when a scheduler recorded it
// Exact option values are also kept in metadata (see state_entries.hpp).
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tl/autograd/grad_mode.hpp"
#include "tl/core/state_dict.hpp"
#include "tl/core/tensor.hpp"
#include "tl/optim/state_entries.hpp"

namespace tl::optim {

/// What schedulers and training loops see of any optimizer, whatever its element type.
class OptimizerBase {
 public:
  OptimizerBase() = default;
  // Not copyable or movable: schedulers hold references, and a copy would share state tensors.
  OptimizerBase(const OptimizerBase&) = delete;
  OptimizerBase& operator=(const OptimizerBase&) = delete;
  virtual ~OptimizerBase() = default;
  virtual std::string name() const = 0;
  virtual void step() = 0;
  virtual void zero_grad() = 0;
  virtual size_t num_param_groups() const = 0;
  virtual double lr(size_t group) const = 0;
  virtual void set_lr(size_t group, double lr) = 0;
  /// Whether the optimizer has a momentum OneCycleLR can cycle (SGD's momentum, Adam's beta1).
  virtual bool has_momentum() const { return false; }
  virtual double momentum(size_t group) const {
    (void)group;
    tl::detail::fail(name(), ": has no momentum");
  }
  virtual void set_momentum(size_t group, double m) {
    (void)group, (void)m;
    tl::detail::fail(name(), ": has no momentum");
  }

  /// The lr a group started from, recorded by the first scheduler attached (PyTorch's
  /// group['initial_lr']), so later schedulers on the same optimizer share the same base.
  std::optional<double> initial_lr(size_t group) const {
    auto it = initial_lr_.find(group);
    return it == initial_lr_.end() ? std::nullopt : std::optional<double>(it->second);
  }
  void set_initial_lr(size_t group, double lr) { initial_lr_[group] = lr; }

 protected:
  std::map<size_t, double> initial_lr_;
};

/// Parameters optimized with one set of options.
template <class T, class Options>
struct ParamGroup {
  std::vector<Tensor<T>> params{};  // the {} initialisers keep -Wmissing-field-initializers quiet
  Options options{};
};

/// A group to add: its params, plus overrides of the optimizer's defaults. `options` replaces all
/// defaults when given; `lr` and `weight_decay` (the usual per-group differences) override
/// single fields on top. Unset fields come from the defaults, as with PyTorch's dicts.
template <class T, class Options>
struct ParamGroupSpec {
  std::vector<Tensor<T>> params{};
  std::optional<double> lr{};
  std::optional<double> weight_decay{};
  std::optional<Options> options{};
};

/// The state of one parameter: named buffers shaped like it, and a step count when used.
template <class T>
struct ParamState {
  std::map<std::string, Tensor<T>> buffers;
  int64_t step = 0;
};

/// Any optimizer of tensors of T: what a training loop or checkpoint needs, whatever the options.
template <class T>
class Optimizer : public OptimizerBase {
 public:
  using OptimizerBase::zero_grad;
  /// With set_to_none false, fills existing gradients with zeros instead of dropping them.
  virtual void zero_grad(bool set_to_none) = 0;
  /// Every parameter, over the groups in order (global index i of state_dict's "state.<i>").
  virtual std::vector<Tensor<T>> parameters() const = 0;
  /// The state of parameter p (null when it has none yet).
  virtual const ParamState<T>* state(const Tensor<T>& p) const = 0;
  virtual StateDict<T> state_dict() const = 0;
  virtual void load_state_dict(const StateDict<T>& sd) = 0;
};

/// Shared machinery; a concrete optimizer supplies check(), update() and state_names().
/// Options must provide lr and weight_decay, and a for_each_option(Options&, F) found by ADL.
template <class T, class Options>
class OptimizerImpl : public Optimizer<T> {
 public:
  using Group = ParamGroup<T, Options>;
  using GroupSpec = ParamGroupSpec<T, Options>;
  using Params = std::vector<Tensor<T>>;

  std::vector<Group>& param_groups() { return groups_; }
  const std::vector<Group>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }

  /// Adds a group whose unset options come from the defaults.
  void add_param_group(const GroupSpec& spec) {
    Options o = spec.options.value_or(defaults_);
    if (spec.lr) o.lr = *spec.lr;
    if (spec.weight_decay) o.weight_decay = *spec.weight_decay;
    add_group(Group{spec.params, o});
  }

  /// Sets every gradient to undefined (PyTorch 2's default set_to_none=True).
  void zero_grad() override { zero_grad(true); }
  void zero_grad(bool set_to_none) override {
    NoGradGuard no_grad;
    for (auto& g : groups_)
      for (auto& p : g.params) {
        if (set_to_none) p.zero_grad();
        else if (p.grad().defined()) p.grad().zero_();
      }
  }

  void step() override {
    NoGradGuard no_grad;
    for (auto& g : groups_)
      for (auto& p : g.params) {
        Tensor<T> grad = p.grad();
        if (!grad.defined()) continue;
        TL_CHECK(grad.shape() == p.shape(), this->name(), ": gradient of shape ", shape_str(grad.shape()),
                 " for a parameter of shape ", shape_str(p.shape()));
        update_param(p, grad, state_[p.impl()], g.options);
      }
  }

  size_t num_param_groups() const override { return groups_.size(); }
  double lr(size_t group) const override { return group_at(group).options.lr; }
  void set_lr(size_t group, double lr) override { group_at(group).options.lr = lr; }

  /// Total number of parameters over all groups.
  size_t num_params() const {
    size_t n = 0;
    for (const auto& g : groups_) n += g.params.size();
    return n;
  }
  std::vector<Tensor<T>> parameters() const override {
    std::vector<Tensor<T>> out;
    for (const auto& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
    return out;
  }
  const ParamState<T>* state(const Tensor<T>& p) const override {
    auto it = state_.find(p.impl());
    return it == state_.end() ? nullptr : &it->second;
  }

  /// Options and per-parameter state; state tensors share storage with the optimizer (as in PyTorch).
  StateDict<T> state_dict() const override {
    StateDict<T> sd;
    size_t i = 0;
    for (const auto& g : groups_)
      for (const auto& p : g.params) {
        auto it = state_.find(p.impl());
        if (it != state_.end()) {
          const std::string pre = "state." + std::to_string(i) + ".";
          if (uses_step()) detail::put_scalar(sd, pre + "step", double(it->second.step), true);
          for (const auto& [n, b] : it->second.buffers) sd.insert(pre + n, b.detach());
        }
        ++i;
      }
    i = 0;
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      const std::string pre = "param_groups." + std::to_string(gi) + ".";
      std::vector<double> idx;
      for (size_t k = 0; k < groups_[gi].params.size(); ++k) idx.push_back(double(i++));
      detail::put_values(sd, pre + "params", idx, false, true);
      Options o = groups_[gi].options;
      for_each_option(o, [&](const char* n, auto& v) { put_option(sd, pre + n, v); });
      if (auto init = this->initial_lr(gi)) detail::put_scalar(sd, pre + "initial_lr", *init);
    }
    return sd;
  }

  /// Restores options and state saved by state_dict() of an optimizer over the same parameter
  /// layout (same number of groups and of params per group). Everything is checked before any
  /// change; the tensors are copied.
  void load_state_dict(const StateDict<T>& sd) override {
    const std::string who = this->name();
    std::vector<Options> opts;
    std::map<size_t, double> initial;
    std::set<std::string> used;
    std::vector<const Tensor<T>*> params;
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      const std::string pre = "param_groups." + std::to_string(gi) + ".";
      detail::get_values(sd, pre + "params", groups_[gi].params.size(), who);  // checks the group's size
      used.insert(pre + "params");
      Options o = groups_[gi].options;
      for_each_option(o, [&](const char* n2, auto& v) {
        get_option(sd, pre + n2, v, who);
        used.insert(pre + n2);
      });
      check(o, true);
      opts.push_back(o);
      if (sd.contains(pre + "initial_lr")) {
        initial.emplace(gi, detail::get_scalar(sd, pre + "initial_lr", who));
        used.insert(pre + "initial_lr");
      }
      for (const auto& p : groups_[gi].params) params.push_back(&p);
    }
    for (const auto& key : sd.keys())
      TL_CHECK(used.count(key) || key.rfind("state.", 0) == 0, who, ": load_state_dict: unexpected key '", key,
               "' (this optimizer has ", groups_.size(), " parameter group(s))");
    std::map<std::shared_ptr<TensorImpl<T>>, ParamState<T>> state;
    const auto names = state_names();
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string pre = "state." + std::to_string(i) + ".";
      ParamState<T> s;
      bool any = false;
      if (uses_step() && sd.contains(pre + "step")) {
        s.step = detail::get_count(sd, pre + "step", who);
        used.insert(pre + "step");
        any = true;
      }
      for (const auto& n : names) {
        if (!sd.contains(pre + n)) continue;
        const auto& t = sd.at(pre + n);
        TL_CHECK(t.defined() && t.shape() == params[i]->shape(), who, ": load_state_dict: key '", pre + n,
                 "' has shape ", t.defined() ? shape_str(t.shape()) : "undefined", ", parameter ", i, " has shape ",
                 shape_str(params[i]->shape()));
        auto c = Tensor<T>::uninitialized(t.shape());
        c.copy_(t);
        s.buffers.emplace(n, c);
        used.insert(pre + n);
        any = true;
      }
      if (!any) continue;
      check_state(s, pre, opts[group_of(i)]);
      state.emplace(params[i]->impl(), std::move(s));
    }
    for (const auto& key : sd.keys())
      TL_CHECK(used.count(key), who, ": load_state_dict: unexpected key '", key, "' (", params.size(),
               " parameters; state names: ", join(names), uses_step() ? ", step" : "", ")");
    for (size_t gi = 0; gi < groups_.size(); ++gi) groups_[gi].options = opts[gi];
    state_ = std::move(state);
    this->initial_lr_ = std::move(initial);
  }

 protected:
  /// Validates options like PyTorch (throws tl::Error naming the option). in_group: lr must be set.
  virtual void check(const Options& o, bool in_group) const = 0;
  /// One parameter's update on dense data: p and grad hold n values; shape is p's.
  virtual void update(T* p, const T* grad, int64_t n, const Shape& shape, ParamState<T>& s, const Options& o) = 0;
  /// The buffer names this optimizer keeps per parameter.
  virtual std::vector<std::string> state_names() const = 0;
  virtual bool uses_step() const { return false; }
  /// Checks a loaded parameter state is usable (prefix names its keys in errors).
  virtual void check_state(const ParamState<T>& s, const std::string& prefix, const Options& o) const {
    (void)s, (void)prefix, (void)o;
  }

  /// Call from the derived constructor (virtual check() is not usable from the base one).
  void init(const std::vector<GroupSpec>& groups, const Options& defaults) {
    defaults_ = defaults;
    check(defaults_, false);
    for (const auto& g : groups) add_param_group(g);
    TL_CHECK(num_params() > 0, this->name(), ": got an empty parameter list");
  }

  /// The data of buffer n in s, created as zeros of this shape at first use.
  static T* buffer(ParamState<T>& s, const std::string& n, const Shape& shape) {
    auto it = s.buffers.find(n);
    if (it == s.buffers.end()) it = s.buffers.emplace(n, zeros<T>(shape)).first;
    return it->second.data();
  }

 private:
  /// Adds a group with complete options, checking them and its params.
  void add_group(const Group& g) {
    check(g.options, true);
    std::set<const void*> seen;
    for (const auto& h : groups_)
      for (const auto& p : h.params) seen.insert(p.impl().get());
    for (size_t i = 0; i < g.params.size(); ++i) {
      const auto& p = g.params[i];
      TL_CHECK(p.defined(), this->name(), ": parameter ", i, " of group ", groups_.size(), " is an undefined tensor");
      TL_CHECK(p.is_leaf(), this->name(), ": can't optimize a non-leaf tensor (parameter ", i, " of group ",
               groups_.size(), ")");
      TL_CHECK(seen.insert(p.impl().get()).second, this->name(), ": parameter ", i, " of group ", groups_.size(),
               " appears more than once (in this or another parameter group)");
    }
    groups_.push_back(g);
  }

  Group& group_at(size_t g) {
    TL_CHECK(g < groups_.size(), this->name(), ": parameter group ", g, " does not exist (", groups_.size(), " groups)");
    return groups_[g];
  }
  const Group& group_at(size_t g) const { return const_cast<OptimizerImpl*>(this)->group_at(g); }
  size_t group_of(size_t i) const {
    for (size_t g = 0; g < groups_.size(); ++g) {
      if (i < groups_[g].params.size()) return g;
      i -= groups_[g].params.size();
    }
    return groups_.size() - 1;
  }

  /// Runs update() on dense data: non-contiguous params/grads go through a dense copy.
  void update_param(Tensor<T>& p, const Tensor<T>& grad, ParamState<T>& s, const Options& o) {
    Tensor<T> g = grad.is_contiguous() ? grad : Tensor<T>(grad.to_vector(), grad.shape());
    if (p.is_contiguous()) {
      update(p.data(), g.data(), p.numel(), p.shape(), s, o);
      return;
    }
    Tensor<T> dense(p.to_vector(), p.shape());
    update(dense.data(), g.data(), p.numel(), p.shape(), s, o);
    p.copy_(dense);
  }

  static void put_option(StateDict<T>& sd, const std::string& key, double v) { detail::put_scalar(sd, key, v); }
  static void put_option(StateDict<T>& sd, const std::string& key, bool v) { detail::put_scalar(sd, key, v ? 1.0 : 0.0); }
  static void put_option(StateDict<T>& sd, const std::string& key, const std::array<double, 2>& v) {
    detail::put_values(sd, key, {v[0], v[1]}, false);
  }
  static void get_option(const StateDict<T>& sd, const std::string& key, double& v, const std::string& who) {
    v = detail::get_scalar(sd, key, who);
  }
  static void get_option(const StateDict<T>& sd, const std::string& key, bool& v, const std::string& who) {
    double d = detail::get_scalar(sd, key, who);
    TL_CHECK(d == 0 || d == 1, who, ": load_state_dict: key '", key, "' must be 0 or 1, got ", d);
    v = d == 1;
  }
  static void get_option(const StateDict<T>& sd, const std::string& key, std::array<double, 2>& v,
                         const std::string& who) {
    auto d = detail::get_values(sd, key, 2, who);
    v = {d[0], d[1]};
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string r;
    for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + v[i];
    return r;
  }

  Options defaults_{};
  std::vector<Group> groups_;
  std::map<std::shared_ptr<TensorImpl<T>>, ParamState<T>> state_;
};

}  // namespace tl::optim
