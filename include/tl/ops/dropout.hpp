#pragma once
// tl::dropout(x, p, train, gen): inverted dropout, as torch.dropout / F.dropout. Identity when
// train is false or p == 0. The mask is drawn from `gen` (tl::default_generator() by default), so a
// seeded generator gives a reproducible mask.
#include <string>

#include "tl/autograd/node.hpp"
#include "tl/kernels/dropout.hpp"

namespace tl {

namespace detail {
template <class T>
struct DropoutBackward : Node<T> {
  Tensor<T> mask;  // 0 or 1/(1-p), dense
  explicit DropoutBackward(Tensor<T> m) : mask(std::move(m)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.detach().contiguous();
    auto gx = Tensor<T>::uninitialized(mask.shape());
    kernels::apply_mask(g.data(), mask.data(), gx.data(), g.numel());
    return {gx};
  }
  void release() override { mask = Tensor<T>(); }
  std::string name() const override { return "DropoutBackward"; }
};
}  // namespace detail

template <class T>
Tensor<T> dropout(const Tensor<T>& x, double p = 0.5, bool train = true, Generator& gen = default_generator()) {
  static_assert(std::is_floating_point_v<T>, "dropout needs a floating-point tensor");
  TL_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  TL_CHECK(x.defined(), "dropout: undefined input");
  if (!train || p == 0.0) return x;
  const Tensor<T> xc = x.detach().contiguous();
  auto mask = Tensor<T>::uninitialized(x.shape());
  kernels::dropout_mask(mask.data(), mask.numel(), p, gen);
  auto out = Tensor<T>::uninitialized(x.shape());
  kernels::apply_mask(xc.data(), mask.data(), out.data(), out.numel());
  if (needs_grad(x)) record<T>(out, std::make_shared<detail::DropoutBackward<T>>(mask), x);
  return out;
}

}  // namespace tl
