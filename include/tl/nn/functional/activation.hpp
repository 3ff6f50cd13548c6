#pragma once
// Activations of tl::nn::functional: relu, sigmoid, tanh (tl/ops/unary.hpp), leaky_relu, gelu,
// silu (element-wise, each one graph node), and softmax / log_softmax (tl/ops/softmax.hpp).
#include <cmath>
#include <numbers>
#include <string>

#include "tl/autograd/node.hpp"
#include "tl/kernels/elementwise.hpp"
#include "tl/ops/softmax.hpp"
#include "tl/ops/unary.hpp"

namespace tl::nn {

namespace detail {

/// Backward of an element-wise activation: dx = g * d(saved), where `saved` is the input or the
/// output, whichever the derivative is cheaper from.
template <class T, class D>
struct ActivationBackward : Node<T> {
  Tensor<T> saved;  // dense, detached
  D deriv;
  std::string op;
  ActivationBackward(Tensor<T> s, D d, std::string o) : saved(std::move(s)), deriv(std::move(d)), op(std::move(o)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.detach().contiguous();
    auto gx = Tensor<T>::uninitialized(saved.shape());
    kernels::binary_strided(g.shape(), g.data(), g.strides(), saved.data(), saved.strides(), gx.data(),
                            [d = deriv](T gv, T s) { return gv * d(s); });
    return {gx};
  }
  void release() override { saved = Tensor<T>(); }
  std::string name() const override { return op + "Backward"; }
};

/// y = f(x) element-wise; the node keeps the output (from_output) or the input for deriv.
template <class T, class F, class D>
Tensor<T> activation(const Tensor<T>& x, const char* op, F f, D deriv, bool from_output) {
  static_assert(std::is_floating_point_v<T>, "activations need a floating-point tensor");
  TL_CHECK(x.defined(), op, ": undefined input");
  const Tensor<T> xc = x.detach().contiguous();
  auto out = Tensor<T>::uninitialized(x.shape());
  kernels::unary_dense(xc.numel(), xc.data(), out.data(), f);
  if (needs_grad(x))
    record<T>(out, std::make_shared<ActivationBackward<T, D>>(from_output ? out.detach() : xc, deriv, op), x);
  return out;
}

}  // namespace detail

namespace functional {

// The same functions as tl::relu etc. (tl/ops/unary.hpp), so unqualified calls are never ambiguous.
using tl::log_softmax;
using tl::relu;
using tl::sigmoid;
using tl::softmax;
using tl::tanh;

/// x for x > 0, negative_slope * x otherwise.
template <class T>
Tensor<T> leaky_relu(const Tensor<T>& x, double negative_slope = 0.01) {
  const T a = static_cast<T>(negative_slope);
  return detail::activation(
      x, "leaky_relu", [a](T v) { return v > T(0) ? v : a * v; }, [a](T v) { return v > T(0) ? T(1) : a; }, false);
}

/// x * sigmoid(x) (a.k.a. swish)
template <class T>
Tensor<T> silu(const Tensor<T>& x) {
  return detail::activation(
      x, "silu", [](T v) { return v / (T(1) + std::exp(-v)); },
      [](T v) {
        T s = T(1) / (T(1) + std::exp(-v));
        return s * (T(1) + v * (T(1) - s));
      },
      false);
}

/// x * Phi(x) with the exact normal CDF (approximate = "none"), or the tanh approximation
/// (approximate = "tanh"), as torch.nn.functional.gelu.
template <class T>
Tensor<T> gelu(const Tensor<T>& x, const std::string& approximate = "none") {
  TL_CHECK(approximate == "none" || approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '",
           approximate, "'");
  constexpr T inv_sqrt2 = static_cast<T>(1.0 / std::numbers::sqrt2);
  constexpr T inv_sqrt_2pi = static_cast<T>(0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2);
  constexpr T k = static_cast<T>(std::numbers::sqrt2 * std::numbers::inv_sqrtpi), c = T(0.044715);  // sqrt(2/pi)
  if (approximate == "tanh")
    return detail::activation(
        x, "gelu", [=](T v) { return T(0.5) * v * (T(1) + std::tanh(k * (v + c * v * v * v))); },
        [=](T v) {
          T t = std::tanh(k * (v + c * v * v * v));
          return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * k * (T(1) + T(3) * c * v * v);
        },
        false);
  return detail::activation(
      x, "gelu", [=](T v) { return T(0.5) * v * (T(1) + std::erf(v * inv_sqrt2)); },
      [=](T v) { return T(0.5) * (T(1) + std::erf(v * inv_sqrt2)) + v * inv_sqrt_2pi * std::exp(T(-0.5) * v * v); },
      false);
}

}  // namespace functional
}  // namespace tl::nn
