#pragma once
// Broadcasting arithmetic: add, sub, mul, div and their operators (tensor-tensor and tensor-scalar).
#include <type_traits>

#include "tl/ops/view.hpp"

namespace tl {

namespace detail {

/// Applies f element-wise to a and b broadcast together; `op` names the op in errors.
template <class T, class F>
Tensor<T> broadcast_apply(const Tensor<T>& a, const Tensor<T>& b, const char* op, F f) {
  Shape s = broadcast_shapes(a.shape(), b.shape(), op);
  auto out = Tensor<T>::uninitialized(s);
  kernels::binary_strided(s, a.data(), broadcast_strides(a.shape(), a.strides(), s), b.data(),
                          broadcast_strides(b.shape(), b.strides(), s), out.data(), f);
  return out;
}

template <class T>
struct AddBackward : Node<T> {
  Shape sa, sb;
  T alpha;  // out = a + alpha * b
  AddBackward(Shape a, Shape b, T al) : sa(std::move(a)), sb(std::move(b)), alpha(al) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    Tensor<T> gb = alpha == T(1) ? g : broadcast_apply(g, scalar_tensor<T>(alpha), "sub", std::multiplies<T>());
    return {sum_to(g, sa), sum_to(gb, sb)};
  }
  std::string name() const override { return alpha == T(1) ? "AddBackward" : "SubBackward"; }
};

template <class T>
struct MulBackward : Node<T> {
  Tensor<T> a, b;  // detached
  MulBackward(Tensor<T> x, Tensor<T> y) : a(std::move(x)), b(std::move(y)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    Tensor<T> ga, gb;
    if (this->next_edges[0].active()) ga = sum_to(broadcast_apply(g, b, "mul", std::multiplies<T>()), a.shape());
    if (this->next_edges[1].active()) gb = sum_to(broadcast_apply(g, a, "mul", std::multiplies<T>()), b.shape());
    return {ga, gb};
  }
  void release() override { a = b = Tensor<T>(); }
  std::string name() const override { return "MulBackward"; }
};

template <class T>
struct DivBackward : Node<T> {
  Tensor<T> a, b;  // detached
  DivBackward(Tensor<T> x, Tensor<T> y) : a(std::move(x)), b(std::move(y)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    Tensor<T> ga, gb;
    auto g_over_b = broadcast_apply(g, b, "div", std::divides<T>());
    if (this->next_edges[0].active()) ga = sum_to(g_over_b, a.shape());
    if (this->next_edges[1].active()) {
      // d(a/b)/db = -a/b^2 = -(g/b) * (a/b)
      auto q = broadcast_apply(a, b, "div", std::divides<T>());
      gb = sum_to(broadcast_apply(g_over_b, q, "div", [](T x, T y) { return -x * y; }), b.shape());
    }
    return {ga, gb};
  }
  void release() override { a = b = Tensor<T>(); }
  std::string name() const override { return "DivBackward"; }
};

}  // namespace detail

template <class T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::broadcast_apply(a, b, "add", std::plus<T>());
  if (needs_grad(a, b)) record<T>(out, std::make_shared<detail::AddBackward<T>>(a.shape(), b.shape(), T(1)), a, b);
  return out;
}

template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::broadcast_apply(a, b, "sub", std::minus<T>());
  if (needs_grad(a, b)) record<T>(out, std::make_shared<detail::AddBackward<T>>(a.shape(), b.shape(), T(-1)), a, b);
  return out;
}

template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::broadcast_apply(a, b, "mul", std::multiplies<T>());
  if (needs_grad(a, b)) record<T>(out, std::make_shared<detail::MulBackward<T>>(a.detach(), b.detach()), a, b);
  return out;
}

template <class T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::broadcast_apply(a, b, "div", std::divides<T>());
  if (needs_grad(a, b)) record<T>(out, std::make_shared<detail::DivBackward<T>>(a.detach(), b.detach()), a, b);
  return out;
}

// Operators. The scalar side is converted to T (std::type_identity_t keeps `x * 2.0` working on floats).
template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return add(a, b); }
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return sub(a, b); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return mul(a, b); }
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return div(a, b); }
template <class T> Tensor<T> operator+(const Tensor<T>& a, std::type_identity_t<T> s) { return add(a, scalar_tensor<T>(s)); }
template <class T> Tensor<T> operator-(const Tensor<T>& a, std::type_identity_t<T> s) { return sub(a, scalar_tensor<T>(s)); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, std::type_identity_t<T> s) { return mul(a, scalar_tensor<T>(s)); }
template <class T> Tensor<T> operator/(const Tensor<T>& a, std::type_identity_t<T> s) { return div(a, scalar_tensor<T>(s)); }
template <class T> Tensor<T> operator+(std::type_identity_t<T> s, const Tensor<T>& b) { return add(scalar_tensor<T>(s), b); }
template <class T> Tensor<T> operator-(std::type_identity_t<T> s, const Tensor<T>& b) { return sub(scalar_tensor<T>(s), b); }
template <class T> Tensor<T> operator*(std::type_identity_t<T> s, const Tensor<T>& b) { return mul(scalar_tensor<T>(s), b); }
template <class T> Tensor<T> operator/(std::type_identity_t<T> s, const Tensor<T>& b) { return div(scalar_tensor<T>(s), b); }

}  // namespace tl
