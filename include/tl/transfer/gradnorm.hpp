#pragma once
// GradNorm (Chen, Badrinarayanan, Lee & Rabinovich 2018): task weights w_i that balance how fast
// the tasks train, by matching each task's gradient norm on the last shared layer W to a target.
//
//   G_i   = || grad_W (w_i L_i) ||                    (this task's pull on the shared layer)
//   r_i   = (L_i / L_i(0)) / mean_j (L_j / L_j(0))    (relative inverse training rate: > 1 = slower)
//   L_grad = sum_i | G_i - mean_j(G_j) * r_i^alpha |  (the target is held constant)
//   w_i  <- w_i - lr * dL_grad/dw_i, then renormalised so that sum_i w_i = number of tasks.
//
// A task that trains slower (its loss fell less, relative to its first loss) gets a larger target
// and so a larger weight; alpha sets how strongly (0: equal gradient norms only).
//
//   tl::transfer::GradNorm<float> gn(3, {.alpha = 1.5, .lr = 0.025});
//   opt.zero_grad();
//   gn.backward({l_cls, l_bin, l_reg}, shared_params);   // grads of sum_i w_i L_i on every parameter
//   opt.step();
//   gn.weights();                                          // w(t+1), sums to 3
//
// backward() runs one backward pass per task (each scaled by w_i, retaining the graph until the
// last), so the gradients accumulated on every parameter are exactly those of sum_i w_i(t) L_i,
// and the difference on W's gradient before/after task i's pass is task i's own gradient: no
// separate autograd.grad is needed, at the price of T passes instead of one.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "tl/autograd/engine.hpp"
#include "tl/core/tensor.hpp"

namespace tl::transfer {

struct GradNormOptions {
  double alpha = 1.5;         // the paper's asymmetry; 0 equalises gradient norms only
  double lr = 0.025;          // step size of the weights' gradient descent
  double min_weight = 1e-3;   // weights are kept above this before renormalising (never <= 0)
};

/// One GradNorm update of the weights, given each task's gradient norm ||grad_W L_i|| (unweighted)
/// and its loss ratio L_i(t) / L_i(0). Returns the new weights, renormalised to sum to their count.
inline std::vector<double> gradnorm_update(const std::vector<double>& weights, const std::vector<double>& grad_norms,
                                           const std::vector<double>& loss_ratios, const GradNormOptions& o = {}) {
  const size_t n = weights.size();
  TL_CHECK(n > 0 && grad_norms.size() == n && loss_ratios.size() == n, "transfer::gradnorm_update: expected ", n,
           " weights, gradient norms and loss ratios, got ", weights.size(), ", ", grad_norms.size(), " and ",
           loss_ratios.size());
  double mean_g = 0, mean_ratio = 0;
  for (size_t i = 0; i < n; ++i) {
    TL_CHECK(std::isfinite(grad_norms[i]) && grad_norms[i] >= 0 && std::isfinite(loss_ratios[i]) && loss_ratios[i] >= 0,
             "transfer::gradnorm_update: task ", i, " has gradient norm ", grad_norms[i], " and loss ratio ",
             loss_ratios[i], " (expected finite and >= 0)");
    mean_g += weights[i] * grad_norms[i];
    mean_ratio += loss_ratios[i];
  }
  mean_g /= static_cast<double>(n);
  mean_ratio /= static_cast<double>(n);
  std::vector<double> w(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = mean_ratio > 0 ? loss_ratios[i] / mean_ratio : 1.0;
    const double target = mean_g * std::pow(r, o.alpha);
    const double g = weights[i] * grad_norms[i];
    // d|G_i - target| / dw_i = sign(G_i - target) * ||grad_W L_i||  (|x| has subgradient 0 at 0)
    const double sign = g > target ? 1.0 : g < target ? -1.0 : 0.0;
    w[i] = std::max(o.min_weight, weights[i] - o.lr * sign * grad_norms[i]);
    sum += w[i];
  }
  for (auto& x : w) x *= static_cast<double>(n) / sum;
  return w;
}

template <class T>
class GradNorm {
 public:
  explicit GradNorm(size_t num_tasks, GradNormOptions o = {}) : o_(o), w_(num_tasks, 1.0) {
    TL_CHECK(num_tasks > 0, "transfer::GradNorm: no tasks");
    TL_CHECK(o.alpha >= 0 && o.lr >= 0 && o.min_weight > 0, "transfer::GradNorm: need alpha >= 0, lr >= 0 and "
             "min_weight > 0, got ", o.alpha, ", ", o.lr, ", ", o.min_weight);
  }

  /// Accumulates the gradients of sum_i w_i L_i into every parameter (call opt.zero_grad() first,
  /// opt.step() after), then updates the weights. `shared`: the parameters of the last shared layer
  /// (W in the paper). The first call's losses are the L_i(0) of the training rates. Returns the
  /// weighted total sum_i w_i(t) L_i (a number: the graph is consumed).
  double backward(const std::vector<Tensor<T>>& losses, const std::vector<Tensor<T>>& shared) {
    const size_t n = w_.size();
    TL_CHECK(losses.size() == n, "transfer::GradNorm: expected ", n, " losses, got ", losses.size());
    TL_CHECK(!shared.empty(), "transfer::GradNorm: no shared parameters given");
    for (auto& p : shared)
      TL_CHECK(p.defined() && p.requires_grad(), "transfer::GradNorm: the shared parameters must require grad");
    std::vector<double> value(n);
    for (size_t i = 0; i < n; ++i) {
      TL_CHECK(losses[i].numel() == 1 && losses[i].requires_grad(), "transfer::GradNorm: loss ", i,
               " must be a scalar with a graph, got shape ", shape_str(losses[i].shape()));
      value[i] = static_cast<double>(losses[i].item());
      TL_CHECK(std::isfinite(value[i]), "transfer::GradNorm: loss ", i, " is ", value[i]);
    }
    if (initial_.empty()) initial_ = value;

    auto shared_grads = [&] {
      std::vector<std::vector<T>> g;
      for (auto& p : shared) g.push_back(p.grad().defined() ? p.grad().to_vector() : std::vector<T>(p.numel(), T(0)));
      return g;
    };
    auto before = shared_grads();
    norms_.assign(n, 0.0);
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      losses[i].backward(full<T>(losses[i].shape(), static_cast<T>(w_[i])), /*retain_graph=*/i + 1 < n);
      auto after = shared_grads();
      double sq = 0;
      for (size_t k = 0; k < after.size(); ++k)
        for (size_t j = 0; j < after[k].size(); ++j) {
          const double d = static_cast<double>(after[k][j]) - static_cast<double>(before[k][j]);
          sq += d * d;
        }
      // ||grad_W (w_i L_i)|| / w_i: the unweighted norm (w_i > 0 always).
      norms_[i] = std::sqrt(sq) / w_[i];
      before = std::move(after);
      total += w_[i] * value[i];
    }
    ratios_.resize(n);
    for (size_t i = 0; i < n; ++i) ratios_[i] = initial_[i] > 0 ? value[i] / initial_[i] : 1.0;
    w_ = gradnorm_update(w_, norms_, ratios_, o_);
    return total;
  }

  /// Current weights (sum to the number of tasks).
  const std::vector<double>& weights() const { return w_; }
  /// ||grad_W L_i|| of the last backward() (unweighted).
  const std::vector<double>& grad_norms() const { return norms_; }
  /// L_i(t) / L_i(0) of the last backward().
  const std::vector<double>& loss_ratios() const { return ratios_; }
  const std::vector<double>& initial_losses() const { return initial_; }
  /// Forget L_i(0) (the next backward() records it again), e.g. after a warm-up.
  void reset_initial_losses() { initial_.clear(); }

 private:
  GradNormOptions o_;
  std::vector<double> w_, norms_, ratios_, initial_;
};

}  // namespace tl::transfer
