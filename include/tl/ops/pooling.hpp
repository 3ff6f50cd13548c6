#pragma once
// 2-d pooling ops like torch.nn.functional's: max_pool2d (+ _with_indices), avg_pool2d,
// adaptive_avg_pool2d, adaptive_max_pool2d (+ _with_indices). Input [N, C, H, W] or unbatched
// [C, H, W]. Omitting stride means stride = kernel_size, as in PyTorch.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tl/autograd/node.hpp"
#include "tl/kernels/pooling.hpp"
#include "tl/ops/conv2d.hpp"  // detail::dense_values
#include "tl/ops/pair.hpp"
#include "tl/ops/view.hpp"

namespace tl {

namespace detail {

/// Checks a pooling input (3-d or 4-d) and returns {planes, H, W} plus the output's leading dims.
template <class T>
std::pair<Shape, Shape> pool_input_dims(const Tensor<T>& x, const char* op) {
  TL_CHECK(x.defined(), op, ": input is undefined");
  TL_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-d (unbatched) or 4-d input [N, C, H, W], got shape ",
           shape_str(x.shape()));
  const int64_t H = x.size(-2), W = x.size(-1);
  // An empty batch is fine (as in PyTorch); empty channels or planes are not.
  TL_CHECK(H > 0 && W > 0 && x.size(-3) > 0, op, ": expected non-empty channels and planes, got shape ",
           shape_str(x.shape()));
  Shape lead(x.shape().begin(), x.shape().end() - 2);
  return {{x.numel() / (H * W), H, W}, lead};
}

/// The geometry of max/avg pooling with PyTorch's checks (pool2d_shape_check).
template <class T>
kernels::Pool2dParams pool2d_params(const Tensor<T>& x, Pair kernel, Pair stride, Pair padding, Pair dilation,
                                    bool ceil_mode, const char* op, Shape& out_shape) {
  auto [dims, lead] = pool_input_dims(x, op);
  TL_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel_size must be positive, got ", kernel.str());
  TL_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be positive, got ", stride.str());
  TL_CHECK(dilation.h > 0 && dilation.w > 0, op, ": dilation must be positive, got ", dilation.str());
  TL_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ", padding.str());
  TL_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op,
           ": padding should be at most half of kernel size, got padding=", padding.str(), " and kernel_size=",
           kernel.str());
  kernels::Pool2dParams p;
  p.planes = dims[0], p.H = dims[1], p.W = dims[2];
  p.kh = kernel.h, p.kw = kernel.w, p.sh = stride.h, p.sw = stride.w, p.ph = padding.h, p.pw = padding.w;
  p.dh = dilation.h, p.dw = dilation.w;
  p.P = kernels::pool_output_size(p.H, p.kh, p.sh, p.ph, p.dh, ceil_mode);
  p.Q = kernels::pool_output_size(p.W, p.kw, p.sw, p.pw, p.dw, ceil_mode);
  TL_CHECK(p.P > 0 && p.Q > 0, op, ": input ", shape_str(x.shape()), " gives an empty output (", p.P, " x ", p.Q,
           ") for kernel_size=", kernel.str(), ", stride=", stride.str(), ", padding=", padding.str(),
           ", dilation=", dilation.str());
  out_shape = lead;
  out_shape.push_back(p.P);
  out_shape.push_back(p.Q);
  return p;
}

/// Backward of max and adaptive max pooling: the gradient goes to each window's argmax.
template <class T>
struct MaxPool2dBackward : Node<T> {
  Shape in_shape;
  Tensor<int64_t> indices;
  MaxPool2dBackward(Shape s, Tensor<int64_t> i) : in_shape(std::move(s)), indices(std::move(i)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = dense_values(grad);
    auto gx = Tensor<T>::uninitialized(in_shape);
    const int64_t in_hw = in_shape[in_shape.size() - 2] * in_shape.back();
    const int64_t planes = gx.numel() / in_hw, out_hw = g.numel() / planes;
    kernels::max_pool2d_backward(planes, in_hw, out_hw, g.data(), indices.data(), gx.data());
    return {gx};
  }
  void release() override { indices = Tensor<int64_t>(); }
  std::string name() const override { return "MaxPool2dBackward"; }
};

template <class T>
struct AvgPool2dBackward : Node<T> {
  Shape in_shape;
  kernels::Pool2dParams p;
  bool count_include_pad;
  int64_t divisor;
  AvgPool2dBackward(Shape s, kernels::Pool2dParams pr, bool cip, int64_t d)
      : in_shape(std::move(s)), p(pr), count_include_pad(cip), divisor(d) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = dense_values(grad);
    auto gx = Tensor<T>::uninitialized(in_shape);
    kernels::avg_pool2d_backward(p, count_include_pad, divisor, g.data(), gx.data());
    return {gx};
  }
  std::string name() const override { return "AvgPool2dBackward"; }
};

template <class T>
struct AdaptiveAvgPool2dBackward : Node<T> {
  Shape in_shape;
  int64_t P, Q;
  AdaptiveAvgPool2dBackward(Shape s, int64_t p, int64_t q) : in_shape(std::move(s)), P(p), Q(q) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = dense_values(grad);
    auto gx = Tensor<T>::uninitialized(in_shape);
    const int64_t H = in_shape[in_shape.size() - 2], W = in_shape.back();
    kernels::adaptive_avg_pool2d_backward(gx.numel() / (H * W), H, W, P, Q, g.data(), gx.data());
    return {gx};
  }
  std::string name() const override { return "AdaptiveAvgPool2dBackward"; }
};

/// Checks an adaptive pooling's output size.
inline void check_output_size(Pair output_size, const char* op) {
  TL_CHECK(output_size.h > 0 && output_size.w > 0, op, ": output_size must be positive, got ", output_size.str());
}

}  // namespace detail

/// Max pooling with the argmax of each window (offsets h * W + w within each H x W plane, as PyTorch's
/// return_indices=True gives). Padding is implicitly -infinity; NaN propagates.
template <class T>
std::pair<Tensor<T>, Tensor<int64_t>> max_pool2d_with_indices(const Tensor<T>& input, Pair kernel_size, Pair stride,
                                                              Pair padding = 0, Pair dilation = 1,
                                                              bool ceil_mode = false) {
  Shape out_shape;
  const auto p =
      detail::pool2d_params(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d", out_shape);
  const Tensor<T> x = detail::dense_values(input);
  auto out = Tensor<T>::uninitialized(out_shape);
  auto indices = Tensor<int64_t>::uninitialized(out_shape);
  kernels::max_pool2d_forward(p, x.data(), out.data(), indices.data());
  if (needs_grad(input)) record<T>(out, std::make_shared<detail::MaxPool2dBackward<T>>(input.shape(), indices), input);
  return {out, indices};
}
template <class T>
std::pair<Tensor<T>, Tensor<int64_t>> max_pool2d_with_indices(const Tensor<T>& input, Pair kernel_size) {
  return max_pool2d_with_indices(input, kernel_size, kernel_size);
}

/// torch.nn.functional.max_pool2d(input, kernel_size, stride=kernel_size, padding=0, dilation=1, ceil_mode=False).
template <class T>
Tensor<T> max_pool2d(const Tensor<T>& input, Pair kernel_size, Pair stride, Pair padding = 0, Pair dilation = 1,
                     bool ceil_mode = false) {
  return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode).first;
}
template <class T>
Tensor<T> max_pool2d(const Tensor<T>& input, Pair kernel_size) {
  return max_pool2d(input, kernel_size, kernel_size);
}

/// torch.nn.functional.avg_pool2d(input, kernel_size, stride=kernel_size, padding=0, ceil_mode=False,
/// count_include_pad=True, divisor_override=None).
template <class T>
Tensor<T> avg_pool2d(const Tensor<T>& input, Pair kernel_size, Pair stride, Pair padding = 0, bool ceil_mode = false,
                     bool count_include_pad = true, std::optional<int64_t> divisor_override = std::nullopt) {
  TL_CHECK(!divisor_override || *divisor_override > 0, "avg_pool2d: divisor_override must be positive, got ",
           divisor_override.value_or(0));
  Shape out_shape;
  const auto p = detail::pool2d_params(input, kernel_size, stride, padding, Pair(1), ceil_mode, "avg_pool2d", out_shape);
  const int64_t div = divisor_override.value_or(0);
  const Tensor<T> x = detail::dense_values(input);
  auto out = Tensor<T>::uninitialized(out_shape);
  kernels::avg_pool2d_forward(p, count_include_pad, div, x.data(), out.data());
  if (needs_grad(input))
    record<T>(out, std::make_shared<detail::AvgPool2dBackward<T>>(input.shape(), p, count_include_pad, div), input);
  return out;
}
template <class T>
Tensor<T> avg_pool2d(const Tensor<T>& input, Pair kernel_size) {
  return avg_pool2d(input, kernel_size, kernel_size);
}

/// torch.nn.functional.adaptive_avg_pool2d: output [..., oh, ow]; window i spans
/// [floor(i*H/oh), ceil((i+1)*H/oh)) (and alike for the width), so windows may overlap.
template <class T>
Tensor<T> adaptive_avg_pool2d(const Tensor<T>& input, Pair output_size) {
  auto [dims, out_shape] = detail::pool_input_dims(input, "adaptive_avg_pool2d");
  detail::check_output_size(output_size, "adaptive_avg_pool2d");
  out_shape.push_back(output_size.h);
  out_shape.push_back(output_size.w);
  const Tensor<T> x = detail::dense_values(input);
  auto out = Tensor<T>::uninitialized(out_shape);
  kernels::adaptive_avg_pool2d_forward(dims[0], dims[1], dims[2], output_size.h, output_size.w, x.data(), out.data());
  if (needs_grad(input))
    record<T>(out,
              std::make_shared<detail::AdaptiveAvgPool2dBackward<T>>(input.shape(), output_size.h, output_size.w),
              input);
  return out;
}

/// torch.nn.functional.adaptive_max_pool2d(..., return_indices=True): adaptive windows as in
/// adaptive_avg_pool2d, the max of each, and its offset h * W + w in the plane.
template <class T>
std::pair<Tensor<T>, Tensor<int64_t>> adaptive_max_pool2d_with_indices(const Tensor<T>& input, Pair output_size) {
  auto [dims, out_shape] = detail::pool_input_dims(input, "adaptive_max_pool2d");
  detail::check_output_size(output_size, "adaptive_max_pool2d");
  out_shape.push_back(output_size.h);
  out_shape.push_back(output_size.w);
  const Tensor<T> x = detail::dense_values(input);
  auto out = Tensor<T>::uninitialized(out_shape);
  auto indices = Tensor<int64_t>::uninitialized(out_shape);
  kernels::adaptive_max_pool2d_forward(dims[0], dims[1], dims[2], output_size.h, output_size.w, x.data(), out.data(),
                                       indices.data());
  if (needs_grad(input)) record<T>(out, std::make_shared<detail::MaxPool2dBackward<T>>(input.shape(), indices), input);
  return {out, indices};
}
template <class T>
Tensor<T> adaptive_max_pool2d(const Tensor<T>& input, Pair output_size) {
  return adaptive_max_pool2d_with_indices(input, output_size).first;
}

}  // namespace tl
