#pragma once
// tl::nn::Conv2d: a 2-d convolution layer like torch.nn.Conv2d (zero padding).
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "tl/nn/init.hpp"
#include "tl/nn/module.hpp"
#include "tl/ops/conv2d.hpp"

namespace tl::nn {

template <class T>
class Conv2d : public Module<T> {
 public:
  int64_t in_channels, out_channels;
  Pair kernel_size, stride, padding, dilation;
  int64_t groups;
  std::optional<PaddingMode> padding_mode;  // set when built with kSame / kValid (then `padding` is unused)
  Tensor<T> weight;  // [out_channels, in_channels / groups, kH, kW]
  Tensor<T> bias;    // [out_channels], undefined when bias = false

  Conv2d(int64_t in_channels_, int64_t out_channels_, Pair kernel_size_, Pair stride_ = 1, Pair padding_ = 0,
         Pair dilation_ = 1, int64_t groups_ = 1, bool bias_ = true)
      : in_channels(in_channels_), out_channels(out_channels_), kernel_size(kernel_size_), stride(stride_),
        padding(padding_), dilation(dilation_), groups(groups_) {
    TL_CHECK(in_channels > 0 && out_channels > 0, "Conv2d: in_channels and out_channels must be positive, got ",
             in_channels, " and ", out_channels);
    TL_CHECK(groups > 0, "Conv2d: groups must be positive, got ", groups);
    TL_CHECK(in_channels % groups == 0, "Conv2d: in_channels (", in_channels, ") must be divisible by groups (",
             groups, ")");
    TL_CHECK(out_channels % groups == 0, "Conv2d: out_channels (", out_channels, ") must be divisible by groups (",
             groups, ")");
    TL_CHECK(kernel_size.h > 0 && kernel_size.w > 0, "Conv2d: kernel_size must be positive, got ", kernel_size.str());
    TL_CHECK(stride.h > 0 && stride.w > 0, "Conv2d: stride must be positive, got ", stride.str());
    TL_CHECK(padding.h >= 0 && padding.w >= 0, "Conv2d: padding must be non-negative, got ", padding.str());
    TL_CHECK(dilation.h > 0 && dilation.w > 0, "Conv2d: dilation must be positive, got ", dilation.str());
    weight = this->register_parameter(
        "weight", Tensor<T>::uninitialized({out_channels, in_channels / groups, kernel_size.h, kernel_size.w}));
    if (bias_) bias = this->register_parameter("bias", Tensor<T>::uninitialized({out_channels}));
    reset_parameters();
  }

  /// Conv2d(in, out, kernel, stride, tl::kSame or tl::kValid, ...), like PyTorch's padding="same"/"valid".
  Conv2d(int64_t in_channels_, int64_t out_channels_, Pair kernel_size_, Pair stride_, PaddingMode padding_,
         Pair dilation_ = 1, int64_t groups_ = 1, bool bias_ = true)
      : Conv2d(in_channels_, out_channels_, kernel_size_, stride_, 0, dilation_, groups_, bias_) {
    TL_CHECK(padding_ != PaddingMode::same || stride == Pair(1),
             "Conv2d: padding='same' is not supported for strided convolutions (stride ", stride.str(), ")");
    padding_mode = padding_;
  }

  /// PyTorch's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C/groups * kH * kW.
  void reset_parameters(Generator& gen = default_generator()) { init::default_layer_init(weight, bias, gen); }

  Tensor<T> forward(const Tensor<T>& x) override {
    TL_CHECK(x.dim() == 3 || x.dim() == 4, "Conv2d: expected a 3-d (unbatched) or 4-d input [N, C, H, W], got shape ",
             shape_str(x.shape()));
    TL_CHECK(x.size(-3) == in_channels, "Conv2d: expected input with ", in_channels, " channels, got shape ",
             shape_str(x.shape()));
    if (padding_mode) return conv2d(x, weight, bias, stride, *padding_mode, dilation, groups);
    return conv2d(x, weight, bias, stride, padding, dilation, groups);
  }

  std::string type_name() const override { return "Conv2d"; }
  /// Like PyTorch: "3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)".
  std::string extra_repr() const override {
    std::ostringstream s;
    s << in_channels << ", " << out_channels << ", kernel_size=" << kernel_size.str() << ", stride=" << stride.str();
    if (padding_mode) s << ", padding=" << (*padding_mode == PaddingMode::same ? "same" : "valid");
    else if (padding != Pair(0)) s << ", padding=" << padding.str();
    if (dilation != Pair(1)) s << ", dilation=" << dilation.str();
    if (groups != 1) s << ", groups=" << groups;
    if (!bias.defined()) s << ", bias=False";
    return s.str();
  }
};

}  // namespace tl::nn
