#pragma once
// Comparisons (eq, ne, lt, le, gt, ge and their operators) returning Tensor<bool>, where(),
// and the element-wise maximum/minimum. All broadcast like PyTorch.
#include <functional>

#include "tl/ops/unary.hpp"

namespace tl {

namespace detail {

/// Tensor<bool> of cmp(a, b) with a and b broadcast together; `op` names the op in errors.
template <class T, class F>
Tensor<bool> compare_apply(const Tensor<T>& a, const Tensor<T>& b, const char* op, F cmp) {
  Shape s = broadcast_shapes(a.shape(), b.shape(), op);
  auto out = Tensor<bool>::uninitialized(s);
  kernels::binary_strided(s, a.data(), broadcast_strides(a.shape(), a.strides(), s), b.data(),
                          broadcast_strides(b.shape(), b.strides(), s), out.data(), cmp);
  return out;
}

/// The values of x broadcast to shape s, as a dense tensor (x itself when it already is).
template <class T>
Tensor<T> dense_broadcast(const Tensor<T>& x, const Shape& s) {
  if (x.shape() == s) return dense(x);
  auto out = Tensor<T>::uninitialized(s);
  gather_strided(x.data(), s, broadcast_strides(x.shape(), x.strides(), s), out.data());
  return out;
}

/// out = cond ? a : b, all dense of one shape.
template <class T>
Tensor<T> where_values(const Tensor<bool>& cond, const Tensor<T>& a, const Tensor<T>& b, const char* op) {
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), op), b.shape(), op);
  auto c = dense_broadcast(cond, s);
  auto x = dense_broadcast(a, s), y = dense_broadcast(b, s);
  auto out = Tensor<T>::uninitialized(s);
  const bool* pc = c.data();
  const T *px = x.data(), *py = y.data();
  T* po = out.data();
  const int64_t n = out.numel();
#pragma omp parallel for simd if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? px[i] : py[i];
  return out;
}

template <class T>
struct WhereBackward : Node<T> {
  Tensor<bool> cond;
  Shape sa, sb;
  WhereBackward(Tensor<bool> c, Shape a, Shape b) : cond(std::move(c)), sa(std::move(a)), sb(std::move(b)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    Tensor<T> ga, gb;
    auto z = scalar_tensor<T>(T(0));
    if (this->next_edges[0].active()) ga = sum_to(where_values(cond, g, z, "where"), sa);
    if (this->next_edges[1].active()) gb = sum_to(where_values(cond, z, g, "where"), sb);
    return {ga, gb};
  }
  void release() override { cond = Tensor<bool>(); }
  std::string name() const override { return "WhereBackward"; }
};

/// Backward of maximum/minimum: the gradient goes to the larger (smaller) input; ties split it
/// in half between both (as PyTorch).
template <class T, bool IsMax>
struct ExtremumBackward : Node<T> {
  Tensor<T> a, b;  // detached
  ExtremumBackward(Tensor<T> x, Tensor<T> y) : a(std::move(x)), b(std::move(y)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    Shape s = g.shape();
    auto x = dense_broadcast(a, s), y = dense_broadcast(b, s), gd = dense(g);
    auto gx = Tensor<T>::uninitialized(s), gy = Tensor<T>::uninitialized(s);
    const int64_t n = gd.numel();
    for (int64_t i = 0; i < n; ++i) {
      const T u = x.data()[i], v = y.data()[i], gi = gd.data()[i];
      const bool first = IsMax ? u > v : u < v, second = IsMax ? v > u : v < u;
      const T share = first ? gi : (second ? T(0) : gi / T(2));
      gx.data()[i] = share;
      gy.data()[i] = first || second ? gi - share : share;
    }
    return {sum_to(gx, a.shape()), sum_to(gy, b.shape())};
  }
  void release() override { a = b = Tensor<T>(); }
  std::string name() const override { return IsMax ? "MaximumBackward" : "MinimumBackward"; }
};

template <bool IsMax, class T>
Tensor<T> extremum2(const Tensor<T>& a, const Tensor<T>& b) {
  const char* op = IsMax ? "maximum" : "minimum";
  // NaN propagates, as PyTorch.
  auto out = broadcast_apply(a, b, op, [](T u, T v) {
    if (u != u) return u;
    if (v != v) return v;
    return IsMax ? (u < v ? v : u) : (v < u ? v : u);
  });
  if (needs_grad(a, b)) record<T>(out, std::make_shared<ExtremumBackward<T, IsMax>>(a.detach(), b.detach()), a, b);
  return out;
}

}  // namespace detail

#define TL_COMPARE_OP(NAME, OPER, FN)                                                                  \
  template <class T>                                                                                   \
  Tensor<bool> NAME(const Tensor<T>& a, const Tensor<T>& b) {                                          \
    return detail::compare_apply(a, b, #NAME, FN<T>());                                                \
  }                                                                                                    \
  template <class T>                                                                                   \
  Tensor<bool> NAME(const Tensor<T>& a, std::type_identity_t<T> s) {                                   \
    return detail::compare_apply(a, scalar_tensor<T>(s), #NAME, FN<T>());                              \
  }                                                                                                    \
  template <class T>                                                                                   \
  Tensor<bool> operator OPER(const Tensor<T>& a, const Tensor<T>& b) { return NAME(a, b); }           \
  template <class T>                                                                                   \
  Tensor<bool> operator OPER(const Tensor<T>& a, std::type_identity_t<T> s) { return NAME(a, s); }    \
  template <class T>                                                                                   \
  Tensor<bool> operator OPER(std::type_identity_t<T> s, const Tensor<T>& b) {                          \
    return detail::compare_apply(scalar_tensor<T>(s), b, #NAME, FN<T>());                              \
  }                                                                                                    \
  template <class T>                                                                                   \
  Tensor<bool> Tensor<T>::NAME(const Tensor<T>& o) const { return tl::NAME(*this, o); }               \
  template <class T>                                                                                   \
  Tensor<bool> Tensor<T>::NAME(T s) const { return tl::NAME(*this, s); }

// Element-wise comparisons, like torch.eq etc.; the operators return Tensor<bool>, not bool.
TL_COMPARE_OP(eq, ==, std::equal_to)
TL_COMPARE_OP(ne, !=, std::not_equal_to)
TL_COMPARE_OP(lt, <, std::less)
TL_COMPARE_OP(le, <=, std::less_equal)
TL_COMPARE_OP(gt, >, std::greater)
TL_COMPARE_OP(ge, >=, std::greater_equal)
#undef TL_COMPARE_OP

/// cond ? a : b element-wise, all three broadcast together; differentiable in a and b.
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, const Tensor<T>& b) {
  auto out = detail::where_values(cond, a, b, "where");
  if (needs_grad(a, b))
    record<T>(out, std::make_shared<detail::WhereBackward<T>>(cond.detach(), a.shape(), b.shape()), a, b);
  return out;
}
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, std::type_identity_t<T> b) {
  return where(cond, a, scalar_tensor<T>(b));
}
template <class T>
Tensor<T> where(const Tensor<bool>& cond, std::type_identity_t<T> a, const Tensor<T>& b) {
  return where(cond, scalar_tensor<T>(a), b);
}

/// Element-wise max/min of two broadcast tensors (NaN propagates); ties split the gradient.
template <class T> Tensor<T> maximum(const Tensor<T>& a, const Tensor<T>& b) { return detail::extremum2<true>(a, b); }
template <class T> Tensor<T> minimum(const Tensor<T>& a, const Tensor<T>& b) { return detail::extremum2<false>(a, b); }
template <class T> Tensor<T> Tensor<T>::maximum(const Tensor<T>& o) const { return tl::maximum(*this, o); }
template <class T> Tensor<T> Tensor<T>::minimum(const Tensor<T>& o) const { return tl::minimum(*this, o); }

}  // namespace tl
