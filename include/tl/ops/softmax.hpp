#pragma once
// tl::softmax(x, dim) and tl::log_softmax(x, dim), numerically stable, as torch.softmax /
// torch.log_softmax. Backward uses the saved output, so the input is not kept.
#include <string>

#include "tl/autograd/node.hpp"
#include "tl/kernels/softmax.hpp"

namespace tl {

namespace detail {

/// The [outer, n, inner] view of a shape around `dim` (0-d tensors count as one element).
struct OuterDimInner {
  int64_t outer = 1, n = 1, inner = 1;
};
inline OuterDimInner outer_dim_inner(const Shape& s, int64_t dim) {
  OuterDimInner d;
  if (s.empty()) return d;
  for (int64_t i = 0; i < dim; ++i) d.outer *= s[i];
  d.n = s[dim];
  for (size_t i = static_cast<size_t>(dim) + 1; i < s.size(); ++i) d.inner *= s[i];
  return d;
}

template <class T>
struct SoftmaxBackward : Node<T> {
  Tensor<T> y;  // detached output
  OuterDimInner split;
  bool log;
  SoftmaxBackward(Tensor<T> out, OuterDimInner s, bool lg) : y(std::move(out)), split(s), log(lg) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.detach().contiguous();
    auto gx = Tensor<T>::uninitialized(y.shape());
    kernels::softmax_backward(y.data(), g.data(), gx.data(), split.outer, split.n, split.inner, log);
    return {gx};
  }
  void release() override { y = Tensor<T>(); }
  std::string name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
};

template <class T>
Tensor<T> softmax_impl(const Tensor<T>& x, int64_t dim, bool log) {
  static_assert(std::is_floating_point_v<T>, "softmax needs a floating-point tensor");
  const char* op = log ? "log_softmax" : "softmax";
  TL_CHECK(x.defined(), op, ": undefined input");
  const int64_t d = normalize_dim(dim, x.dim(), op);
  const OuterDimInner s = outer_dim_inner(x.shape(), d);
  const Tensor<T> xc = x.detach().contiguous();
  auto out = Tensor<T>::uninitialized(x.shape());
  kernels::softmax_forward(xc.data(), out.data(), s.outer, s.n, s.inner, log);
  if (needs_grad(x)) record<T>(out, std::make_shared<SoftmaxBackward<T>>(out.detach(), s, log), x);
  return out;
}

}  // namespace detail

/// exp(x) / sum(exp(x)) over `dim`.
template <class T>
Tensor<T> softmax(const Tensor<T>& x, int64_t dim) { return detail::softmax_impl(x, dim, false); }

/// x - logsumexp(x) over `dim`; more accurate than log(softmax(x)).
template <class T>
Tensor<T> log_softmax(const Tensor<T>& x, int64_t dim) { return detail::softmax_impl(x, dim, true); }

}  // namespace tl
