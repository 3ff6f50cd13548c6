#pragma once
// tl::linear(input, weight, bias): y = input * weight^T + bias for input [*, in], weight [out, in],
// bias [out] (optional), as torch.nn.functional.linear. One GEMM forward, one graph node with
// gradients for input, weight and bias.
#include <string>

#include "tl/autograd/node.hpp"
#include "tl/kernels/linear.hpp"

namespace tl {

namespace detail {

template <class T>
struct LinearBackward : Node<T> {
  Tensor<T> x, w;  // detached, dense; x viewed as [M, K]
  Shape in_shape;
  int64_t M;  // rows: the product of the input's leading dims
  LinearBackward(Tensor<T> x_, Tensor<T> w_, Shape s, int64_t m)
      : x(std::move(x_)), w(std::move(w_)), in_shape(std::move(s)), M(m) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.is_contiguous() ? grad : grad.detach().contiguous();
    const int64_t N = w.shape()[0], K = w.shape()[1];
    Tensor<T> gx, gw, gb;
    if (this->next_edges[0].active()) {
      gx = Tensor<T>::uninitialized(in_shape);
      kernels::linear_backward_input(M, K, N, g.data(), w.data(), gx.data());
    }
    if (this->next_edges[1].active()) {
      gw = Tensor<T>::uninitialized({N, K});
      kernels::linear_backward_weight(M, K, N, g.data(), x.data(), gw.data());
    }
    if (this->next_edges[2].active()) {
      gb = Tensor<T>::uninitialized({N});
      kernels::linear_backward_bias(M, N, g.data(), gb.data());
    }
    return {gx, gw, gb};
  }
  void release() override { x = w = Tensor<T>(); }
  std::string name() const override { return "LinearBackward"; }
};

}  // namespace detail

/// y = input weight^T + bias. `op` names the caller in errors (e.g. "Linear(in_features=4, ...)").
template <class T>
Tensor<T> linear(const Tensor<T>& input, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>(),
                 const std::string& op = "linear") {
  TL_CHECK(weight.defined() && weight.dim() == 2, op, ": weight must be 2-d [out_features, in_features], got ",
           weight.defined() ? shape_str(weight.shape()) : std::string("undefined"));
  TL_CHECK(input.defined() && input.dim() >= 1, op, ": input must have at least 1 dim, got ",
           input.defined() ? shape_str(input.shape()) : std::string("undefined"));
  const int64_t N = weight.shape()[0], K = weight.shape()[1];
  TL_CHECK(input.shape().back() == K, op, ": input of shape ", shape_str(input.shape()), " does not match weight of shape ",
           shape_str(weight.shape()), " (expected the input's last dim to be ", K, ")");
  TL_CHECK(!bias.defined() || bias.shape() == Shape{N}, op, ": bias of shape ", shape_str(bias.shape()),
           " does not match weight of shape ", shape_str(weight.shape()), " (expected [", N, "])");
  const Tensor<T> x = input.detach().contiguous(), w = weight.detach().contiguous();
  const Tensor<T> b = bias.defined() ? bias.detach().contiguous() : Tensor<T>();
  int64_t M = 1;
  for (size_t i = 0; i + 1 < input.shape().size(); ++i) M *= input.shape()[i];
  Shape out_shape = input.shape();
  out_shape.back() = N;
  auto out = Tensor<T>::uninitialized(out_shape);
  kernels::linear_forward(M, K, N, x.data(), w.data(), b.defined() ? b.data() : nullptr, out.data());
  if (needs_grad(input, weight, bias)) {
    // an undefined bias gets an inactive edge
    record<T>(out, std::make_shared<detail::LinearBackward<T>>(x, w, input.shape(), M), input, weight, bias);
  }
  return out;
}

}  // namespace tl
