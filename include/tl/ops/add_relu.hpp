#pragma once
// add_relu(a, b) = relu(a + b) in one pass: the end of every residual block (the block's output
// plus the shortcut, then ReLU). Unfused, that is two passes forward (add, relu) and a masking pass
// backward after which the add's gradient is copied to both inputs; fused, one pass each way and
// the masked gradient is shared by both inputs.
#include <memory>
#include <string>
#include <vector>

#include "tl/ops/unary.hpp"

namespace tl {

namespace detail {

template <class T>
struct AddReluBackward : Node<T> {
  Tensor<T> y;  // the output, detached: where y > 0 the gradient passes to both inputs
  explicit AddReluBackward(Tensor<T> out) : y(std::move(out)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = dense(grad);
    auto gx = Tensor<T>::uninitialized(y.shape());
    const int64_t n = y.numel();
    const T *gp = g.data(), *yp = y.data();
    T* o = gx.data();
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) o[i] = yp[i] > T(0) ? gp[i] : T(0);
    return {gx, gx};  // shared: the engine copies before accumulating into a shared tensor
  }
  void release() override { y = Tensor<T>(); }
  std::string name() const override { return "AddReluBackward"; }
};

}  // namespace detail

/// (tl) relu(a + b) for a and b of the same shape, in one pass forward and backward. Other shapes
/// (broadcasting) fall back to relu(add(a, b)), with the same result.
template <class T>
Tensor<T> add_relu(const Tensor<T>& a, const Tensor<T>& b) {
  TL_CHECK(a.defined() && b.defined(), "add_relu: both inputs must be defined tensors");
  if (a.shape() != b.shape()) return relu(add(a, b));
  const Tensor<T> x = detail::dense(a), z = detail::dense(b);
  auto out = Tensor<T>::uninitialized(a.shape());
  const int64_t n = out.numel();
  const T *xp = x.data(), *zp = z.data();
  T* o = out.data();
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T v = xp[i] + zp[i];
    o[i] = v > T(0) ? v : T(0);
  }
  if (needs_grad(a, b)) record<T>(out, std::make_shared<detail::AddReluBackward<T>>(out.detach()), a, b);
  return out;
}

}  // namespace tl
