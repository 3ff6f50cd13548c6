#pragma once
// conv2d: 2-d convolution (cross-correlation, as in PyTorch) with stride, zero padding,
// dilation and groups. Forward and both backward passes go through kernels/conv2d.hpp.
#include <memory>
#include <string>
#include <vector>

#include "tl/autograd/node.hpp"
#include "tl/kernels/conv2d.hpp"
#include "tl/ops/pair.hpp"
#include "tl/ops/view.hpp"

namespace tl {

/// conv2d's string paddings, like PyTorch's padding="valid" / padding="same" (libtorch: torch::kSame).
enum class PaddingMode { valid, same };
inline constexpr PaddingMode kValid = PaddingMode::valid;
inline constexpr PaddingMode kSame = PaddingMode::same;

namespace detail {

/// A dense row-major tensor with t's values (t itself when already dense); no autograd link.
template <class T>
Tensor<T> dense_values(const Tensor<T>& t) {
  return t.is_contiguous() ? t.detach() : Tensor<T>(t.to_vector(), t.shape());
}

/// Checks the arguments of conv2d (x is 4-d here) and returns the kernel geometry.
template <class T>
kernels::Conv2dParams conv2d_params(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, Pair stride,
                                    Pair padding, Pair dilation, int64_t groups) {
  TL_CHECK(w.dim() == 4, "conv2d: expected a 4-d weight [out_channels, in_channels/groups, kH, kW], got shape ",
           shape_str(w.shape()));
  TL_CHECK(groups > 0, "conv2d: groups must be positive, got ", groups);
  TL_CHECK(stride.h > 0 && stride.w > 0, "conv2d: stride must be positive, got ", stride.str());
  TL_CHECK(padding.h >= 0 && padding.w >= 0, "conv2d: padding must be non-negative, got ", padding.str());
  TL_CHECK(dilation.h > 0 && dilation.w > 0, "conv2d: dilation must be positive, got ", dilation.str());
  kernels::Conv2dParams p;
  p.N = x.size(0), p.C = x.size(1), p.H = x.size(2), p.W = x.size(3);
  p.K = w.size(0), p.R = w.size(2), p.S = w.size(3);
  p.stride_h = stride.h, p.stride_w = stride.w, p.pad_h = padding.h, p.pad_w = padding.w;
  p.dil_h = dilation.h, p.dil_w = dilation.w, p.groups = groups;
  TL_CHECK(p.K % groups == 0, "conv2d: given groups=", groups, ", expected weight to be divisible by ", groups,
           " at dimension 0, but got weight of shape ", shape_str(w.shape()));
  TL_CHECK(w.size(1) * groups == p.C, "conv2d: given groups=", groups, ", weight of shape ", shape_str(w.shape()),
           " expects input ", shape_str(x.shape()), " to have ", w.size(1) * groups, " channels, but it has ", p.C);
  TL_CHECK(p.R > 0 && p.S > 0, "conv2d: empty kernel in weight of shape ", shape_str(w.shape()));
  const int64_t ph = p.H + 2 * p.pad_h, pw = p.W + 2 * p.pad_w;
  const int64_t kh = p.dil_h * (p.R - 1) + 1, kw = p.dil_w * (p.S - 1) + 1;
  TL_CHECK(kh <= ph && kw <= pw, "conv2d: padded input size per channel (", ph, " x ", pw, ") of input ",
           shape_str(x.shape()), " is smaller than the (dilated) kernel size (", kh, " x ", kw, ") of weight ",
           shape_str(w.shape()));
  if (b.defined())
    TL_CHECK(b.dim() == 1 && b.size(0) == p.K, "conv2d: expected a bias of shape [", p.K, "] for weight ",
             shape_str(w.shape()), ", got ", shape_str(b.shape()));
  return p;
}

template <class T>
struct Conv2dBackward : Node<T> {
  kernels::Conv2dParams p;
  Tensor<T> x, w;  // dense, detached; each saved only when the other input's gradient needs it
  Conv2dBackward(kernels::Conv2dParams pr, Tensor<T> xs, Tensor<T> ws) : p(pr), x(std::move(xs)), w(std::move(ws)) {}

  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = dense_values(grad);
    const bool need_x = this->next_edges[0].active(), need_w = this->next_edges[1].active(),
               need_b = this->next_edges[2].active();
    Tensor<T> gx, gw, gb;
    if (need_x) {
      gx = Tensor<T>::uninitialized({p.N, p.C, p.H, p.W});
      kernels::conv2d_backward_data(p, g.data(), w.data(), gx.data());
    }
    if (need_b) gb = Tensor<T>::uninitialized({p.K});
    if (need_w) {
      gw = Tensor<T>::uninitialized({p.K, p.C / p.groups, p.R, p.S});
      kernels::conv2d_backward_weight(p, x.data(), g.data(), gw.data(), need_b ? gb.data() : nullptr);
    } else if (need_b) {
      kernels::conv2d_bias_grad(p, g.data(), gb.data());  // the bias needs a gradient, the weight not
    }
    return {gx, gw, gb};
  }
  void release() override { x = w = Tensor<T>(); }
  std::string name() const override { return "Conv2dBackward"; }
};

}  // namespace detail

/// 2-d convolution like torch.nn.functional.conv2d.
/// input [N, C, H, W] (or unbatched [C, H, W]), weight [K, C/groups, kH, kW], bias [K] or undefined.
/// Output [N, K, P, Q] with P = (H + 2*padding.h - dilation.h*(kH-1) - 1) / stride.h + 1 (and Q alike).
template <class T>
Tensor<T> conv2d(const Tensor<T>& input, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>(),
                 Pair stride = 1, Pair padding = 0, Pair dilation = 1, int64_t groups = 1) {
  TL_CHECK(input.defined() && weight.defined(), "conv2d: input and weight must be defined tensors");
  if (input.dim() == 3)  // unbatched, as PyTorch allows
    return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  TL_CHECK(input.dim() == 4, "conv2d: expected a 3-d (unbatched) or 4-d (batched) input [N, C, H, W], got shape ",
           shape_str(input.shape()));
  const kernels::Conv2dParams p = detail::conv2d_params(input, weight, bias, stride, padding, dilation, groups);
  const Tensor<T> x = detail::dense_values(input), w = detail::dense_values(weight);
  Tensor<T> b = bias.defined() ? detail::dense_values(bias) : Tensor<T>();
  auto out = Tensor<T>::uninitialized({p.N, p.K, p.P(), p.Q()});
  kernels::conv2d_forward(p, x.data(), w.data(), b.defined() ? b.data() : nullptr, out.data());
  if (needs_grad(input, weight, bias)) {
    // dx needs w, dw needs x: keep only what a requested gradient uses.
    auto node = std::make_shared<detail::Conv2dBackward<T>>(p, weight.requires_grad() ? x : Tensor<T>(),
                                                            input.requires_grad() ? w : Tensor<T>());
    record<T>(out, node, input, weight, bias);
  }
  return out;
}

/// conv2d with padding kValid (none) or kSame (output H x W = input H x W; stride must be 1). When the
/// dilated kernel's total padding d*(k-1) is odd, the extra row/column goes at the bottom/right, as in
/// PyTorch: computed as a symmetric padding one larger, dropping the first output row/column.
template <class T>
Tensor<T> conv2d(const Tensor<T>& input, const Tensor<T>& weight, const Tensor<T>& bias, Pair stride,
                 PaddingMode padding, Pair dilation = 1, int64_t groups = 1) {
  if (padding == PaddingMode::valid) return conv2d(input, weight, bias, stride, 0, dilation, groups);
  TL_CHECK(stride == Pair(1), "conv2d: padding='same' is not supported for strided convolutions (stride ",
           stride.str(), ")");
  TL_CHECK(weight.defined() && weight.dim() == 4, "conv2d: expected a 4-d weight, got ",
           weight.defined() ? shape_str(weight.shape()) : std::string("an undefined tensor"));
  const int64_t th = dilation.h * (weight.size(2) - 1), tw = dilation.w * (weight.size(3) - 1);
  Tensor<T> y = conv2d(input, weight, bias, 1, Pair((th + 1) / 2, (tw + 1) / 2), dilation, groups);
  if (th % 2) y = y.narrow(-2, 1, y.size(-2) - 1);
  if (tw % 2) y = y.narrow(-1, 1, y.size(-1) - 1);
  return (th % 2 || tw % 2) ? y.contiguous() : y;
}

}  // namespace tl
