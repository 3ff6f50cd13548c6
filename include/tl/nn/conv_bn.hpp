#pragma once
// tl::nn::conv_bn_forward: a Conv2d followed by a BatchNorm2d (and optionally a ReLU), as every
// ResNet layer is. It always computes what the modules compute in sequence; at inference it is
// one pass: when the BN uses its running statistics and no gradient is recorded (NoGradGuard), the
// BN is an affine map per channel, y = conv(x) * scale + shift with scale = gamma / sqrt(var + eps)
// and shift = beta - mean * scale (+ conv bias * scale), which the convolution applies in its GEMM
// epilogue together with the ReLU, while each output tile is still in L1 (the BN "folded into the
// conv", without rewriting the weights). conv_bn_add_relu_forward adds a residual block's shortcut
// in the same epilogue. The result equals conv then BN then ReLU up to float
// rounding (the affine form rounds differently from (x - mean) * invstd * gamma + beta).
// Otherwise (training, gradients recorded, an adapted conv such as a LoRA or residual-adapter
// wrapper, a padding mode) it calls conv->forward, then bn->forward or bn->forward_relu.
#include <cmath>
#include <memory>
#include <typeinfo>
#include <vector>

#include "tl/kernels/conv2d.hpp"
#include "tl/nn/batch_norm.hpp"
#include "tl/nn/conv2d.hpp"
#include "tl/ops/add_relu.hpp"
#include "tl/ops/conv2d.hpp"

namespace tl::nn {

namespace detail {
/// True when conv_bn_forward may use the fused inference path.
template <class T>
bool conv_bn_foldable(const Conv2d<T>& conv, const BatchNorm<T>& bn, const Tensor<T>& x) {
  return !GradMode::is_enabled() && !bn.is_training() && bn.track_running_stats && typeid(conv) == typeid(Conv2d<T>) &&
         !conv.padding_mode && x.defined() && x.dim() == 4 && conv.weight.defined() &&
         conv.weight.size(0) == bn.num_features;
}
}  // namespace detail

namespace detail {
/// The fused inference path of conv_bn_forward / conv_bn_add_relu_forward (conv_bn_foldable holds):
/// ep(conv(x)) with the BN as the epilogue's scale and shift, plus `residual` if not null.
template <class T>
kernels::Conv2dParams conv_params(const Conv2d<T>& conv, const Tensor<T>& x) {
  return tl::detail::conv2d_params(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups);
}

template <class T>
Tensor<T> conv_bn_fused(const kernels::Conv2dParams& p, Conv2d<T>& conv, BatchNorm<T>& bn, const Tensor<T>& x,
                        bool relu, const T* residual) {
  const int64_t K = p.K;
  std::vector<T> scale(static_cast<size_t>(K)), shift(static_cast<size_t>(K));
  const Tensor<T> mean = tl::detail::dense_values(bn.running_mean), var = tl::detail::dense_values(bn.running_var);
  const Tensor<T> gamma = bn.weight.defined() ? tl::detail::dense_values(bn.weight) : Tensor<T>();
  const Tensor<T> beta = bn.bias.defined() ? tl::detail::dense_values(bn.bias) : Tensor<T>();
  const Tensor<T> bias = conv.bias.defined() ? tl::detail::dense_values(conv.bias) : Tensor<T>();
  for (int64_t k = 0; k < K; ++k) {
    const double s = (gamma.defined() ? static_cast<double>(gamma.data()[k]) : 1.0) /
                     std::sqrt(static_cast<double>(var.data()[k]) + bn.eps);
    const double b = bias.defined() ? static_cast<double>(bias.data()[k]) : 0.0;
    scale[k] = static_cast<T>(s);
    shift[k] = static_cast<T>((b - static_cast<double>(mean.data()[k])) * s +
                              (beta.defined() ? static_cast<double>(beta.data()[k]) : 0.0));
  }
  const Tensor<T> xd = tl::detail::dense_values(x), w = tl::detail::dense_values(conv.weight);
  auto out = Tensor<T>::uninitialized({p.N, p.K, p.P(), p.Q()});
  kernels::conv2d_forward_fused(p, xd.data(), w.data(), out.data(),
                                kernels::Epilogue<T>{scale.data(), shift.data(), relu, residual});
  return out;
}
}  // namespace detail

/// relu? (bn(conv(x))): see the header comment for when it runs as one fused pass.
template <class T>
Tensor<T> conv_bn_forward(Conv2d<T>& conv, BatchNorm<T>& bn, const Tensor<T>& x, bool relu) {
  if (!detail::conv_bn_foldable(conv, bn, x)) {
    auto y = conv.forward(x);
    return relu ? bn.forward_relu(y) : bn.forward(y);
  }
  return detail::conv_bn_fused(detail::conv_params(conv, x), conv, bn, x, relu, static_cast<const T*>(nullptr));
}

/// relu(bn(conv(x)) + shortcut): the end of a residual block. On the fused inference path the
/// shortcut is added in the convolution's epilogue too (no separate add + ReLU pass over the
/// block's output); otherwise conv_bn_forward then add_relu.
template <class T>
Tensor<T> conv_bn_add_relu_forward(Conv2d<T>& conv, BatchNorm<T>& bn, const Tensor<T>& x, const Tensor<T>& shortcut) {
  if (detail::conv_bn_foldable(conv, bn, x) && shortcut.defined()) {
    const kernels::Conv2dParams p = detail::conv_params(conv, x);
    if (shortcut.shape() == std::vector<int64_t>{p.N, p.K, p.P(), p.Q()}) {  // else add_relu broadcasts
      const Tensor<T> s = tl::detail::dense_values(shortcut);
      return detail::conv_bn_fused(p, conv, bn, x, true, s.data());
    }
  }
  return add_relu(conv_bn_forward(conv, bn, x, false), shortcut);
}

}  // namespace tl::nn
