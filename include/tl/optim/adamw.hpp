#pragma once
// AdamW: Adam with decoupled weight decay (PyTorch's formulas): p = p * (1 - lr * weight_decay)
// first, then the Adam step on the raw gradient. Default weight_decay is 1e-2, as in PyTorch.
#include "tl/optim/adam.hpp"

namespace tl::optim {

struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

template <class F>
void for_each_option(AdamWOptions& o, F&& f) {
  f("lr", o.lr);
  f("betas", o.betas);
  f("eps", o.eps);
  f("weight_decay", o.weight_decay);
  f("amsgrad", o.amsgrad);
}

template <class T>
class AdamW : public OptimizerImpl<T, AdamWOptions> {
  using Base = OptimizerImpl<T, AdamWOptions>;

 public:
  using Options = AdamWOptions;
  AdamW(const typename Base::Params& params, const AdamWOptions& options = {}) {
    this->init({{.params = params}}, options);
  }
  AdamW(const std::vector<typename Base::GroupSpec>& groups, const AdamWOptions& defaults) {
    this->init(groups, defaults);
  }

  std::string name() const override { return "AdamW"; }
  bool has_momentum() const override { return true; }
  double momentum(size_t g) const override { return this->param_groups().at(g).options.betas[0]; }
  void set_momentum(size_t g, double m) override { this->param_groups().at(g).options.betas[0] = m; }

 protected:
  void check(const AdamWOptions& o, bool) const override { detail::check_adam_options("AdamW", o); }
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
  bool uses_step() const override { return true; }
  void check_state(const ParamState<T>& s, const std::string& prefix, const AdamWOptions&) const override {
    detail::check_adam_state("AdamW", s, prefix);
  }
  void update(T* p, const T* g, int64_t n, const Shape& shape, ParamState<T>& s, const AdamWOptions& o) override {
    T* m = this->buffer(s, "exp_avg", shape);
    T* v = this->buffer(s, "exp_avg_sq", shape);
    T* vmax = o.amsgrad ? this->buffer(s, "max_exp_avg_sq", shape) : nullptr;
    ++s.step;
    detail::adam_step(p, g, n, m, v, vmax, s.step, o.lr, o.betas, o.eps, 0.0, o.lr * o.weight_decay);
  }
};

}  // namespace tl::optim
