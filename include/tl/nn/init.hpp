#pragma once
// tl::nn::init: in-place parameter initialisation, like torch.nn.init (same names, argument order,
// defaults and formulas). Every function writes under NoGradGuard, so it works on parameters that
// require grad, draws from `gen` (tl::default_generator() unless given), and returns its tensor.
//
// PyTorch's default layer initialisation (Linear, Conv2d; what tl's layers use in reset_parameters):
//   weight: kaiming_uniform_(w, a = sqrt(5))  =>  U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//           (gain = sqrt(2 / (1 + 5)) = sqrt(1/3), bound = sqrt(3) * gain / sqrt(fan_in))
//   bias:   uniform_(b, -1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in taken from the weight
// Use init::default_layer_init(weight, bias) for exactly that.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "tl/autograd/grad_mode.hpp"
#include "tl/core/generator.hpp"
#include "tl/core/tensor.hpp"

namespace tl::nn::init {

namespace detail {
/// Writes f() into every element of t in row-major order (any strides).
template <class T, class F>
Tensor<T> fill_with(Tensor<T> t, F&& f) {
  NoGradGuard no_grad;
  T* p = t.data();
  if (t.is_contiguous()) {
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(f());
  } else {
    tl::detail::for_each_offset(t.shape(), t.strides(), [&](int64_t o) { p[o] = static_cast<T>(f()); });
  }
  return t;
}
}  // namespace detail

/// (fan_in, fan_out) of a weight [out, in, *receptive field] (torch's _calculate_fan_in_and_fan_out).
template <class T>
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor<T>& t) {
  TL_CHECK(t.dim() >= 2, "init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
           "(got shape ", shape_str(t.shape()), ")");
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.shape()[d];
  return {t.shape()[1] * receptive, t.shape()[0] * receptive};
}

/// The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). For "leaky_relu",
/// `param` is the negative slope, 0.01 when not given.
inline double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt) {
  static const char* linear_fns[] = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                     "conv_transpose2d", "conv_transpose3d", "sigmoid"};
  for (const char* name : linear_fns)
    if (nonlinearity == name) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;  // PyTorch's value, chosen for self-normalising nets
  tl::detail::fail("init::calculate_gain: unsupported nonlinearity '", nonlinearity,
                   "' (expected linear, conv*, sigmoid, tanh, relu, leaky_relu or selu)");
}

/// U(a, b).
template <class T>
Tensor<T> uniform_(Tensor<T> t, double a = 0.0, double b = 1.0, Generator& gen = default_generator()) {
  TL_CHECK(a <= b, "init::uniform_: expected a <= b, got a=", a, " b=", b);
  return detail::fill_with(std::move(t), [&] { return a + (b - a) * gen.uniform(); });
}

/// N(mean, std^2).
template <class T>
Tensor<T> normal_(Tensor<T> t, double mean = 0.0, double std = 1.0, Generator& gen = default_generator()) {
  TL_CHECK(std >= 0, "init::normal_: std must be non-negative, got ", std);
  return detail::fill_with(std::move(t), [&] { return mean + std * gen.normal(); });
}

/// N(mean, std^2) restricted to [a, b] (resampling values that fall outside).
template <class T>
Tensor<T> trunc_normal_(Tensor<T> t, double mean = 0.0, double std = 1.0, double a = -2.0, double b = 2.0,
                        Generator& gen = default_generator()) {
  TL_CHECK(std >= 0 && a < b, "init::trunc_normal_: expected std >= 0 and a < b, got std=", std, " a=", a, " b=", b);
  return detail::fill_with(std::move(t), [&] {
    for (int tries = 0; tries < 1000; ++tries) {
      double v = mean + std * gen.normal();
      if (v >= a && v <= b) return v;
    }
    return std::clamp(mean, a, b);  // the interval is far in a tail: settle for its nearest point
  });
}

template <class T>
Tensor<T> constant_(Tensor<T> t, double val) {
  return detail::fill_with(std::move(t), [&] { return val; });
}
template <class T>
Tensor<T> zeros_(Tensor<T> t) { return constant_(std::move(t), 0.0); }
template <class T>
Tensor<T> ones_(Tensor<T> t) { return constant_(std::move(t), 1.0); }

/// The identity matrix in a 2-d tensor (torch.nn.init.eye_).
template <class T>
Tensor<T> eye_(Tensor<T> t) {
  TL_CHECK(t.dim() == 2, "init::eye_: only 2-d tensors are supported, got shape ", shape_str(t.shape()));
  NoGradGuard no_grad;
  t.zero_();
  const int64_t n = std::min(t.shape()[0], t.shape()[1]);
  for (int64_t i = 0; i < n; ++i) t.data()[i * t.strides()[0] + i * t.strides()[1]] = T(1);
  return t;
}

/// Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
template <class T>
Tensor<T> xavier_uniform_(Tensor<T> t, double gain = 1.0, Generator& gen = default_generator()) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  double a = std::sqrt(3.0) * std;
  return uniform_(std::move(t), -a, a, gen);
}

/// Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
template <class T>
Tensor<T> xavier_normal_(Tensor<T> t, double gain = 1.0, Generator& gen = default_generator()) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(std::move(t), 0.0, std, gen);
}

namespace detail {
template <class T>
double kaiming_std(const Tensor<T>& t, double a, const std::string& mode, const std::string& nonlinearity,
                   const char* op) {
  TL_CHECK(mode == "fan_in" || mode == "fan_out", op, ": mode must be 'fan_in' or 'fan_out', got '", mode, "'");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  int64_t fan = mode == "fan_in" ? fan_in : fan_out;
  // As in PyTorch, `a` is passed as the gain's parameter even for nonlinearities that ignore it.
  return calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace detail

/// He uniform: U(-bound, bound), bound = sqrt(3) * gain(nonlinearity, a) / sqrt(fan).
template <class T>
Tensor<T> kaiming_uniform_(Tensor<T> t, double a = 0.0, const std::string& mode = "fan_in",
                           const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator()) {
  if (t.numel() == 0) return t;  // PyTorch warns and does nothing
  double bound = std::sqrt(3.0) * detail::kaiming_std(t, a, mode, nonlinearity, "init::kaiming_uniform_");
  return uniform_(std::move(t), -bound, bound, gen);
}

/// He normal: N(0, std^2), std = gain(nonlinearity, a) / sqrt(fan).
template <class T>
Tensor<T> kaiming_normal_(Tensor<T> t, double a = 0.0, const std::string& mode = "fan_in",
                          const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator()) {
  if (t.numel() == 0) return t;
  double std = detail::kaiming_std(t, a, mode, nonlinearity, "init::kaiming_normal_");
  return normal_(std::move(t), 0.0, std, gen);
}

/// PyTorch's default init of Linear/Conv layers (see the top of this file). `bias` may be undefined.
template <class T>
void default_layer_init(Tensor<T> weight, Tensor<T> bias = Tensor<T>(), Generator& gen = default_generator()) {
  kaiming_uniform_(weight, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  if (bias.defined()) {
    auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(weight);
    (void)fan_out;
    double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    uniform_(std::move(bias), -bound, bound, gen);
  }
}

}  // namespace tl::nn::init
