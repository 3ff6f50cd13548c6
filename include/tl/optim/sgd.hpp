#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's SGD):
//   d = g + weight_decay * p
//   buf = d (first step), else buf = momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf          (when momentum != 0)
//   p = p - lr * d
#include <cmath>
#include <limits>

#include "tl/optim/optimizer.hpp"
#include "tl/optim/update_kernels.hpp"

namespace tl::optim {

struct SGDOptions {
  /// Required, as in PyTorch 1.13 (NaN means "not given"; a group may supply it instead).
  double lr = std::numeric_limits<double>::quiet_NaN();
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

template <class F>
void for_each_option(SGDOptions& o, F&& f) {
  f("lr", o.lr);
  f("momentum", o.momentum);
  f("dampening", o.dampening);
  f("weight_decay", o.weight_decay);
  f("nesterov", o.nesterov);
}

template <class T>
class SGD : public OptimizerImpl<T, SGDOptions> {
  using Base = OptimizerImpl<T, SGDOptions>;

 public:
  using Options = SGDOptions;
  SGD(const typename Base::Params& params, const SGDOptions& options) { this->init({{.params = params}}, options); }
  SGD(const std::vector<typename Base::GroupSpec>& groups, const SGDOptions& defaults) { this->init(groups, defaults); }

  std::string name() const override { return "SGD"; }
  bool has_momentum() const override { return true; }
  double momentum(size_t g) const override { return this->param_groups().at(g).options.momentum; }
  void set_momentum(size_t g, double m) override { this->param_groups().at(g).options.momentum = m; }

 protected:
  void check(const SGDOptions& o, bool in_group) const override {
    if (in_group)
      TL_CHECK(!std::isnan(o.lr), "SGD: option 'lr' is required (no default); set it in the defaults or the group");
    TL_CHECK(std::isnan(o.lr) || o.lr >= 0, "SGD: invalid learning rate (option 'lr'): ", o.lr, ", expected >= 0");
    TL_CHECK(o.momentum >= 0, "SGD: invalid option 'momentum': ", o.momentum, ", expected >= 0");
    TL_CHECK(o.weight_decay >= 0, "SGD: invalid option 'weight_decay': ", o.weight_decay, ", expected >= 0");
    TL_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
             "SGD: option 'nesterov' requires a momentum > 0 and zero dampening (got momentum ", o.momentum,
             ", dampening ", o.dampening, ")");
  }
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }

  void update(T* p, const T* g, int64_t n, const Shape& shape, ParamState<T>& s, const SGDOptions& o) override {
    const T wd = static_cast<T>(o.weight_decay), mom = static_cast<T>(o.momentum);
    const T keep = static_cast<T>(1 - o.dampening), neg_lr = static_cast<T>(-o.lr);
    const bool has_wd = o.weight_decay != 0;  // PyTorch skips the add then (matters for inf/NaN params)
    if (o.momentum == 0) {
      if (has_wd) kernels::sgd_plain<true>(n, p, g, wd, neg_lr);
      else kernels::sgd_plain<false>(n, p, g, wd, neg_lr);
      return;
    }
    const bool first = !s.buffers.count("momentum_buffer");  // the buffer starts as the first d
    T* buf = this->buffer(s, "momentum_buffer", shape);
    auto run = [&]<bool kWD, bool kFirst, bool kNesterov>() {
      kernels::sgd_momentum<kWD, kFirst, kNesterov>(n, p, g, buf, wd, mom, keep, neg_lr);
    };
    auto nest = [&]<bool kWD, bool kFirst>() {
      if (o.nesterov) run.template operator()<kWD, kFirst, true>();
      else run.template operator()<kWD, kFirst, false>();
    };
    auto with_first = [&]<bool kWD>() {
      if (first) nest.template operator()<kWD, true>();
      else nest.template operator()<kWD, false>();
    };
    if (has_wd) with_first.template operator()<true>();
    else with_first.template operator()<false>();
  }
};

}  // namespace tl::optim
