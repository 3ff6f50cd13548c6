#pragma once
// Element-wise unary math: neg, exp, log, sqrt, abs, square, relu, sigmoid, tanh, pow, clamp.
// Forward: a dense loop (kernels::unary_dense) or one strided gather; backward: one fused loop
// over the gradient and a saved detached tensor (the input, or the output where that is cheaper).
#include <cmath>
#include <optional>
#include <type_traits>

#include "tl/ops/binary.hpp"

namespace tl {

namespace detail {

/// x's values in a dense row-major tensor (no autograd): x itself (detached) when contiguous.
template <class T>
Tensor<T> dense(const Tensor<T>& x) {
  if (x.is_contiguous()) return x.detach();
  auto out = Tensor<T>::uninitialized(x.shape());
  gather_strided(x.data(), x.shape(), x.strides(), out.data());
  return out;
}

/// out = f(x) element-wise, dense output of x's shape.
template <class T, class F>
Tensor<T> map_unary(const Tensor<T>& x, F f) {
  auto out = Tensor<T>::uninitialized(x.shape());
  if (x.is_contiguous()) {
    kernels::unary_dense(x.numel(), x.data(), out.data(), f);
  } else {
    T* o = out.data();
    const T* p = x.data();
    int64_t k = 0;
    for_each_offset(x.shape(), x.strides(), [&](int64_t off) { o[k++] = f(p[off]); });
  }
  return out;
}

/// Backward of a unary op: grad_in = df(g, s) element-wise, where s is a saved detached tensor
/// of the same shape (the op's input or output). DF is a stateless or small functor: no std::function.
template <class T, class DF>
struct PointwiseBackward : Node<T> {
  Tensor<T> saved;
  DF df;
  const char* op;
  PointwiseBackward(Tensor<T> s, DF f, const char* o) : saved(std::move(s)), df(f), op(o) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    auto out = Tensor<T>::uninitialized(saved.shape());
    kernels::binary_strided(saved.shape(), g.data(), g.strides(), saved.data(), saved.strides(), out.data(), df);
    return {out};
  }
  void release() override { saved = Tensor<T>(); }
  std::string name() const override { return std::string(op) + "Backward"; }
};

/// Applies f forward; records PointwiseBackward saving the detached input (SaveOutput = false)
/// or the detached output (SaveOutput = true; never the output itself, which would be a cycle).
template <bool SaveOutput, class T, class F, class DF>
Tensor<T> unary_op(const Tensor<T>& x, F f, DF df, const char* op) {
  auto out = map_unary(x, f);
  if (needs_grad(x))
    record<T>(out, std::make_shared<PointwiseBackward<T, DF>>(SaveOutput ? out.detach() : x.detach(), df, op), x);
  return out;
}

template <class T>
struct NegBackward : Node<T> {
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    return {map_unary(g, [](T v) { return -v; })};
  }
  std::string name() const override { return "NegBackward"; }
};

template <class T>
struct PowTensorBackward : Node<T> {
  Tensor<T> a, b, out;  // detached
  PowTensorBackward(Tensor<T> x, Tensor<T> y, Tensor<T> o) : a(std::move(x)), b(std::move(y)), out(std::move(o)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    Tensor<T> ga, gb;
    if (this->next_edges[0].active()) {
      // d(a^b)/da = b * a^(b-1); 0 where b == 0 (as PyTorch, avoids 0 * inf)
      auto d = broadcast_apply(a, b, "pow", [](T x, T e) { return e == T(0) ? T(0) : e * std::pow(x, e - T(1)); });
      ga = sum_to(broadcast_apply(g, d, "pow", std::multiplies<T>()), a.shape());
    }
    if (this->next_edges[1].active()) {
      // d(a^b)/db = a^b * log(a); 0 where a == 0 and b >= 0 (as PyTorch)
      auto la = broadcast_apply(a, b, "pow", [](T x, T e) {
        return (x == T(0) && e >= T(0)) ? T(0) : std::log(x);
      });
      auto d = broadcast_apply(out, la, "pow", std::multiplies<T>());
      gb = sum_to(broadcast_apply(g, d, "pow", std::multiplies<T>()), b.shape());
    }
    return {ga, gb};
  }
  void release() override { a = b = out = Tensor<T>(); }
  std::string name() const override { return "PowBackward"; }
};

}  // namespace detail

template <class T>
Tensor<T> neg(const Tensor<T>& x) {
  auto out = detail::map_unary(x, [](T v) { return static_cast<T>(-v); });
  if (needs_grad(x)) record<T>(out, std::make_shared<detail::NegBackward<T>>(), x);
  return out;
}
template <class T>
Tensor<T> operator-(const Tensor<T>& x) { return neg(x); }

template <class T>
Tensor<T> exp(const Tensor<T>& x) {
  return detail::unary_op<true>(x, [](T v) { return std::exp(v); }, [](T g, T y) { return g * y; }, "Exp");
}

template <class T>
Tensor<T> log(const Tensor<T>& x) {
  return detail::unary_op<false>(x, [](T v) { return std::log(v); }, [](T g, T v) { return g / v; }, "Log");
}

template <class T>
Tensor<T> sqrt(const Tensor<T>& x) {
  return detail::unary_op<true>(x, [](T v) { return std::sqrt(v); }, [](T g, T y) { return g / (T(2) * y); },
                                "Sqrt");
}

/// Gradient at 0 is 0 (as PyTorch's sign()).
template <class T>
Tensor<T> abs(const Tensor<T>& x) {
  return detail::unary_op<false>(
      x, [](T v) { return v < T(0) ? static_cast<T>(-v) : v; },
      [](T g, T v) { return v > T(0) ? g : (v < T(0) ? static_cast<T>(-g) : T(0)); }, "Abs");
}

template <class T>
Tensor<T> square(const Tensor<T>& x) {
  return detail::unary_op<false>(x, [](T v) { return v * v; }, [](T g, T v) { return T(2) * v * g; }, "Square");
}

/// Gradient at 0 is 0 (as PyTorch).
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
  return detail::unary_op<true>(
      x, [](T v) { return v > T(0) ? v : T(0); }, [](T g, T y) { return y > T(0) ? g : T(0); }, "Relu");
}

/// Stable for large |x|: exp is only ever taken of a non-positive number.
template <class T>
Tensor<T> sigmoid(const Tensor<T>& x) {
  return detail::unary_op<true>(
      x,
      [](T v) {
        if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
        T e = std::exp(v);
        return e / (T(1) + e);
      },
      [](T g, T y) { return g * y * (T(1) - y); }, "Sigmoid");
}

template <class T>
Tensor<T> tanh(const Tensor<T>& x) {
  return detail::unary_op<true>(x, [](T v) { return std::tanh(v); }, [](T g, T y) { return g * (T(1) - y * y); },
                                "Tanh");
}

/// x ** exponent. The gradient is 0 everywhere when exponent == 0 (as PyTorch).
template <class T>
Tensor<T> pow(const Tensor<T>& x, std::type_identity_t<T> exponent) {
  const T e = exponent;
  if (e == T(2)) return square(x);
  auto fwd = [e](T v) { return static_cast<T>(std::pow(v, e)); };
  auto bwd = [e](T g, T v) { return e == T(0) ? T(0) : static_cast<T>(g * e * std::pow(v, e - T(1))); };
  return detail::unary_op<false>(x, fwd, bwd, "Pow");
}

/// a ** b element-wise with broadcasting; differentiable in both.
template <class T>
Tensor<T> pow(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::broadcast_apply(a, b, "pow", [](T x, T e) { return static_cast<T>(std::pow(x, e)); });
  if (needs_grad(a, b))
    record<T>(out, std::make_shared<detail::PowTensorBackward<T>>(a.detach(), b.detach(), out.detach()), a, b);
  return out;
}

/// Limits x to [min, max]; either bound may be std::nullopt. When min > max every element is max
/// (as PyTorch). The gradient passes where min <= x <= max (bounds included, as PyTorch).
template <class T>
Tensor<T> clamp(const Tensor<T>& x, std::type_identity_t<std::optional<T>> min,
                std::type_identity_t<std::optional<T>> max = std::nullopt) {
  TL_CHECK(min || max, "clamp: at least one of min and max must be given");
  if constexpr (std::is_floating_point_v<T>) {
    TL_CHECK(!(min && std::isnan(*min)) && !(max && std::isnan(*max)), "clamp: bounds must not be NaN");
  }
  const bool has_lo = min.has_value(), has_hi = max.has_value();
  const T lo = has_lo ? *min : T(0), hi = has_hi ? *max : T(0);
  auto fwd = [=](T v) {
    if (has_lo && v < lo) v = lo;
    if (has_hi && v > hi) v = hi;
    return v;
  };
  auto bwd = [=](T g, T v) { return ((!has_lo || v >= lo) && (!has_hi || v <= hi)) ? g : T(0); };
  return detail::unary_op<false>(x, fwd, bwd, "Clamp");
}
template <class T>
Tensor<T> clamp_min(const Tensor<T>& x, std::type_identity_t<T> min) { return clamp(x, min, std::nullopt); }
template <class T>
Tensor<T> clamp_max(const Tensor<T>& x, std::type_identity_t<T> max) { return clamp(x, std::nullopt, max); }

// ---- methods ----
template <class T> Tensor<T> Tensor<T>::neg() const { return tl::neg(*this); }
template <class T> Tensor<T> Tensor<T>::exp() const { return tl::exp(*this); }
template <class T> Tensor<T> Tensor<T>::log() const { return tl::log(*this); }
template <class T> Tensor<T> Tensor<T>::sqrt() const { return tl::sqrt(*this); }
template <class T> Tensor<T> Tensor<T>::abs() const { return tl::abs(*this); }
template <class T> Tensor<T> Tensor<T>::square() const { return tl::square(*this); }
template <class T> Tensor<T> Tensor<T>::relu() const { return tl::relu(*this); }
template <class T> Tensor<T> Tensor<T>::sigmoid() const { return tl::sigmoid(*this); }
template <class T> Tensor<T> Tensor<T>::tanh() const { return tl::tanh(*this); }
template <class T> Tensor<T> Tensor<T>::pow(T e) const { return tl::pow(*this, e); }
template <class T> Tensor<T> Tensor<T>::pow(const Tensor<T>& e) const { return tl::pow(*this, e); }
template <class T>
Tensor<T> Tensor<T>::clamp(std::optional<T> min, std::optional<T> max) const { return tl::clamp(*this, min, max); }
template <class T> Tensor<T> Tensor<T>::clamp_min(T min) const { return tl::clamp_min(*this, min); }
template <class T> Tensor<T> Tensor<T>::clamp_max(T max) const { return tl::clamp_max(*this, max); }

}  // namespace tl
