#pragma once
// Adam (PyTorch's formulas; weight decay is L2, added to the gradient):
//   g = g + weight_decay * p;  t += 1
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
//   vmax = max(vmax, v) with amsgrad (then used for v below)
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include <array>
#include <cmath>

#include "tl/optim/optimizer.hpp"
#include "tl/optim/update_kernels.hpp"

namespace tl::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

template <class F>
void for_each_option(AdamOptions& o, F&& f) {
  f("lr", o.lr);
  f("betas", o.betas);
  f("eps", o.eps);
  f("weight_decay", o.weight_decay);
  f("amsgrad", o.amsgrad);
}

namespace detail {

/// Checks the options Adam and AdamW share, naming the optimizer.
template <class Options>
void check_adam_options(const char* who, const Options& o) {
  TL_CHECK(o.lr >= 0, who, ": invalid learning rate (option 'lr'): ", o.lr, ", expected >= 0");
  TL_CHECK(o.eps >= 0, who, ": invalid option 'eps': ", o.eps, ", expected >= 0");
  TL_CHECK(o.betas[0] >= 0 && o.betas[0] < 1, who, ": invalid option 'betas' at index 0: ", o.betas[0],
           ", expected in [0, 1)");
  TL_CHECK(o.betas[1] >= 0 && o.betas[1] < 1, who, ": invalid option 'betas' at index 1: ", o.betas[1],
           ", expected in [0, 1)");
  TL_CHECK(o.weight_decay >= 0, who, ": invalid option 'weight_decay': ", o.weight_decay, ", expected >= 0");
}

/// Checks a loaded Adam/AdamW parameter state has both moments.
template <class T>
void check_adam_state(const char* who, const ParamState<T>& s, const std::string& prefix) {
  for (const char* n : {"exp_avg", "exp_avg_sq"})
    TL_CHECK(s.buffers.count(n), who, ": load_state_dict: missing key '", prefix, n, "'");
}

/// The Adam step on dense data. l2 is added to the gradient (Adam); decay scales p first (AdamW);
/// never both.
template <class T>
void adam_step(T* p, const T* g, int64_t n, T* m, T* v, T* vmax, int64_t step, double lr,
               const std::array<double, 2>& betas, double eps, double l2, double decay) {
  const double bc1 = 1 - std::pow(betas[0], double(step)), bc2 = 1 - std::pow(betas[1], double(step));
  const kernels::AdamScalars<T> c{static_cast<T>(betas[0]), static_cast<T>(betas[1]),
                                  static_cast<T>(1 - betas[0]), static_cast<T>(1 - betas[1]),
                                  static_cast<T>(l2),           static_cast<T>(1 - decay),
                                  static_cast<T>(eps),          static_cast<T>(std::sqrt(bc2)),
                                  static_cast<T>(-(lr / bc1))};
  auto run = [&]<bool kL2, bool kDecay, bool kAms>() { kernels::adam<kL2, kDecay, kAms>(n, p, g, m, v, vmax, c); };
  auto ams = [&]<bool kL2, bool kDecay>() {
    if (vmax) run.template operator()<kL2, kDecay, true>();
    else run.template operator()<kL2, kDecay, false>();
  };
  if (l2 != 0) ams.template operator()<true, false>();
  else if (decay != 0) ams.template operator()<false, true>();
  else ams.template operator()<false, false>();
}

}  // namespace detail

template <class T>
class Adam : public OptimizerImpl<T, AdamOptions> {
  using Base = OptimizerImpl<T, AdamOptions>;

 public:
  using Options = AdamOptions;
  Adam(const typename Base::Params& params, const AdamOptions& options = {}) {
    this->init({{.params = params}}, options);
  }
  Adam(const std::vector<typename Base::GroupSpec>& groups, const AdamOptions& defaults) {
    this->init(groups, defaults);
  }

  std::string name() const override { return "Adam"; }
  bool has_momentum() const override { return true; }
  /// beta1, which OneCycleLR cycles.
  double momentum(size_t g) const override { return this->param_groups().at(g).options.betas[0]; }
  void set_momentum(size_t g, double m) override { this->param_groups().at(g).options.betas[0] = m; }

 protected:
  void check(const AdamOptions& o, bool) const override { detail::check_adam_options("Adam", o); }
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
  bool uses_step() const override { return true; }
  void check_state(const ParamState<T>& s, const std::string& prefix, const AdamOptions&) const override {
    detail::check_adam_state("Adam", s, prefix);
  }
  void update(T* p, const T* g, int64_t n, const Shape& shape, ParamState<T>& s, const AdamOptions& o) override {
    T* m = this->buffer(s, "exp_avg", shape);
    T* v = this->buffer(s, "exp_avg_sq", shape);
    T* vmax = o.amsgrad ? this->buffer(s, "max_exp_avg_sq", shape) : nullptr;
    ++s.step;
    detail::adam_step(p, g, n, m, v, vmax, s.step, o.lr, o.betas, o.eps, o.weight_decay, 0.0);
  }
};

}  // namespace tl::optim
