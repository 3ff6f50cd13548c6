#pragma once
// batch_norm: batch normalisation over dim 1 of [N, C, ...] like torch.nn.functional.batch_norm.
// Training normalises with the batch statistics and updates the running ones in place; eval uses
// the running statistics. Forward and backward go through kernels/batch_norm.hpp.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tl/autograd/node.hpp"
#include "tl/kernels/batch_norm.hpp"
#include "tl/ops/conv2d.hpp"  // detail::dense_values
#include "tl/ops/view.hpp"

namespace tl {

namespace detail {

/// Backward of batch_norm (Relu = false) and batch_norm_relu (Relu = true: y is the fused output,
/// whose sign masks the incoming gradient).
template <class T, bool Relu = false>
struct BatchNormBackward : Node<T> {
  int64_t N, C, HW;
  bool training;
  Tensor<T> x, gamma, mean, invstd;  // dense, detached; mean/invstd are the statistics the forward used
  Tensor<T> y;                       // Relu only: the output, detached
  BatchNormBackward(int64_t n, int64_t c, int64_t hw, bool tr, Tensor<T> xs, Tensor<T> g, Tensor<T> m, Tensor<T> is,
                    Tensor<T> ys = Tensor<T>())
      : N(n), C(c), HW(hw), training(tr), x(std::move(xs)), gamma(std::move(g)), mean(std::move(m)),
        invstd(std::move(is)), y(std::move(ys)) {}

  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = dense_values(grad);
    Tensor<T> gx, gw, gb;
    if (this->next_edges[0].active()) gx = Tensor<T>::uninitialized(x.shape());
    if (this->next_edges[1].active()) gw = Tensor<T>::uninitialized({C});
    if (this->next_edges[2].active()) gb = Tensor<T>::uninitialized({C});
    auto ptr = [](Tensor<T>& t) { return t.defined() ? t.data() : nullptr; };
    kernels::batch_norm_backward<Relu>(N, C, HW, g.data(), x.data(), gamma.defined() ? gamma.data() : nullptr,
                                       mean.data(), invstd.data(), training, ptr(gx), ptr(gw), ptr(gb),
                                       Relu ? y.data() : nullptr);
    return {gx, gw, gb};
  }
  void release() override { x = gamma = mean = invstd = y = Tensor<T>(); }
  std::string name() const override { return Relu ? "BatchNormReluBackward" : "BatchNormBackward"; }
};

/// Checks that an optional per-channel tensor (weight, bias, running stats) has shape [C].
template <class T>
void check_channel_vector(const Tensor<T>& t, int64_t C, const char* what, const Shape& input_shape) {
  if (!t.defined()) return;
  TL_CHECK(t.dim() == 1 && t.size(0) == C, "batch_norm: expected ", what, " of shape [", C, "] for input ",
           shape_str(input_shape), ", got ", shape_str(t.shape()));
}

}  // namespace detail

namespace detail {
template <bool Relu, class T>
Tensor<T> batch_norm_impl(const Tensor<T>& input, const Tensor<T>& running_mean, const Tensor<T>& running_var,
                          const Tensor<T>& weight, const Tensor<T>& bias, bool training, double momentum, double eps) {
  TL_CHECK(input.defined(), "batch_norm: input is undefined");
  TL_CHECK(input.dim() >= 2, "batch_norm: expected input [N, C, ...] with at least 2 dims, got shape ",
           shape_str(input.shape()));
  const int64_t N = input.size(0), C = input.size(1), HW = input.numel() / std::max<int64_t>(N * C, 1);
  check_channel_vector(weight, C, "weight", input.shape());
  check_channel_vector(bias, C, "bias", input.shape());
  check_channel_vector(running_mean, C, "running_mean", input.shape());
  check_channel_vector(running_var, C, "running_var", input.shape());
  TL_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: running_mean and running_var must both be defined or both undefined");
  TL_CHECK(training || running_mean.defined(),
           "batch_norm: running_mean and running_var must be defined when training is false");
  TL_CHECK(eps >= 0, "batch_norm: eps must be non-negative, got ", eps);
  const Tensor<T> x = dense_values(input);
  const Tensor<T> g = weight.defined() ? dense_values(weight) : Tensor<T>();
  const Tensor<T> b = bias.defined() ? dense_values(bias) : Tensor<T>();
  auto out = Tensor<T>::uninitialized(input.shape());
  auto mean = Tensor<T>::uninitialized({C}), invstd = Tensor<T>::uninitialized({C});
  const T* gp = g.defined() ? g.data() : nullptr;
  const T* bp = b.defined() ? b.data() : nullptr;
  if (training) {
    const int64_t M = N * HW;
    TL_CHECK(M > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape ",
             shape_str(input.shape()));
    kernels::batch_norm_forward_train<Relu>(N, C, HW, x.data(), gp, bp, eps, out.data(), mean.data(), invstd.data());
    if (running_mean.defined()) {
      TL_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(),
               "batch_norm: running_mean and running_var must be contiguous (they are updated in place)");
      T* rm = const_cast<Tensor<T>&>(running_mean).data();
      T* rv = const_cast<Tensor<T>&>(running_var).data();
      const double unbias = static_cast<double>(M) / static_cast<double>(M - 1);
      for (int64_t c = 0; c < C; ++c) {
        const double is = invstd.data()[c], var = 1.0 / (is * is) - eps;  // the biased batch variance
        rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * static_cast<double>(mean.data()[c]));
        rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var * unbias);
      }
    }
  } else {
    const Tensor<T> rv = dense_values(running_var);
    mean.copy_(running_mean);  // a copy: the running stats may change before backward
    for (int64_t c = 0; c < C; ++c) invstd.data()[c] = static_cast<T>(1.0 / std::sqrt(double(rv.data()[c]) + eps));
    kernels::batch_norm_forward_eval<Relu>(N, C, HW, x.data(), gp, bp, mean.data(), rv.data(), eps, out.data());
  }
  if (needs_grad(input, weight, bias)) {
    auto node = std::make_shared<BatchNormBackward<T, Relu>>(N, C, HW, training, x, g, mean, invstd,
                                                             Relu ? out.detach() : Tensor<T>());
    record<T>(out, node, input, weight, bias);
  }
  return out;
}
}  // namespace detail

/// Batch normalisation like torch.nn.functional.batch_norm, for input [N, C], [N, C, L] or [N, C, H, W]
/// (any [N, C, ...]). weight/bias (gamma/beta) may be undefined (no affine transform).
/// training: normalise with the batch mean and biased variance, and, when running_mean/running_var are
///   defined, update them in place: running = (1 - momentum) * running + momentum * batch, with the
///   *unbiased* batch variance (var * M / (M - 1), M = N * H * W) going into running_var.
/// eval (training = false): normalise with running_mean/running_var, which must be defined.
/// Gradients flow to input, weight and bias (not to the running statistics).
template <class T>
Tensor<T> batch_norm(const Tensor<T>& input, const Tensor<T>& running_mean, const Tensor<T>& running_var,
                     const Tensor<T>& weight = Tensor<T>(), const Tensor<T>& bias = Tensor<T>(), bool training = false,
                     double momentum = 0.1, double eps = 1e-5) {
  return detail::batch_norm_impl<false>(input, running_mean, running_var, weight, bias, training, momentum, eps);
}

/// (tl) relu(batch_norm(...)) in one pass over the data, forward and backward (same arguments and
/// running-statistics update as batch_norm). ResNets call it for every BN followed by a ReLU.
template <class T>
Tensor<T> batch_norm_relu(const Tensor<T>& input, const Tensor<T>& running_mean, const Tensor<T>& running_var,
                          const Tensor<T>& weight = Tensor<T>(), const Tensor<T>& bias = Tensor<T>(),
                          bool training = false, double momentum = 0.1, double eps = 1e-5) {
  return detail::batch_norm_impl<true>(input, running_mean, running_var, weight, bias, training, momentum, eps);
}

}  // namespace tl
