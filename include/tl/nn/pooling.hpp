#pragma once
// Pooling layers like torch.nn's: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d.
// Leaving out stride means stride = kernel_size, as in PyTorch.
#include <optional>
#include <sstream>
#include <string>

#include "tl/nn/module.hpp"
#include "tl/ops/pooling.hpp"

namespace tl::nn {

template <class T>
class MaxPool2d : public Module<T> {
 public:
  Pair kernel_size, stride, padding, dilation;
  bool ceil_mode;

  explicit MaxPool2d(Pair kernel_size_) : MaxPool2d(kernel_size_, kernel_size_) {}
  MaxPool2d(Pair kernel_size_, Pair stride_, Pair padding_ = 0, Pair dilation_ = 1, bool ceil_mode_ = false)
      : kernel_size(kernel_size_), stride(stride_), padding(padding_), dilation(dilation_), ceil_mode(ceil_mode_) {}

  Tensor<T> forward(const Tensor<T>& x) override {
    return max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
  }
  std::string type_name() const override { return "MaxPool2d"; }
  /// "kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False"
  std::string extra_repr() const override {
    std::ostringstream s;
    s << "kernel_size=" << kernel_size.short_str() << ", stride=" << stride.short_str()
      << ", padding=" << padding.short_str() << ", dilation=" << dilation.short_str()
      << ", ceil_mode=" << (ceil_mode ? "True" : "False");
    return s.str();
  }
};

template <class T>
class AvgPool2d : public Module<T> {
 public:
  Pair kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  std::optional<int64_t> divisor_override;

  explicit AvgPool2d(Pair kernel_size_) : AvgPool2d(kernel_size_, kernel_size_) {}
  AvgPool2d(Pair kernel_size_, Pair stride_, Pair padding_ = 0, bool ceil_mode_ = false, bool count_include_pad_ = true,
            std::optional<int64_t> divisor_override_ = std::nullopt)
      : kernel_size(kernel_size_), stride(stride_), padding(padding_), ceil_mode(ceil_mode_),
        count_include_pad(count_include_pad_), divisor_override(divisor_override_) {}

  Tensor<T> forward(const Tensor<T>& x) override {
    return avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
  }
  std::string type_name() const override { return "AvgPool2d"; }
  /// "kernel_size=3, stride=2, padding=1" (PyTorch prints only these three)
  std::string extra_repr() const override {
    std::ostringstream s;
    s << "kernel_size=" << kernel_size.short_str() << ", stride=" << stride.short_str()
      << ", padding=" << padding.short_str();
    return s.str();
  }
};

template <class T>
class AdaptiveAvgPool2d : public Module<T> {
 public:
  Pair output_size;
  explicit AdaptiveAvgPool2d(Pair output_size_) : output_size(output_size_) {
    ::tl::detail::check_output_size(output_size, "AdaptiveAvgPool2d");
  }
  Tensor<T> forward(const Tensor<T>& x) override { return adaptive_avg_pool2d(x, output_size); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  /// "output_size=(1, 1)", as torchvision's models print it.
  std::string extra_repr() const override { return std::string("output_size=").append(output_size.str()); }
};

template <class T>
class AdaptiveMaxPool2d : public Module<T> {
 public:
  Pair output_size;
  explicit AdaptiveMaxPool2d(Pair output_size_) : output_size(output_size_) {
    ::tl::detail::check_output_size(output_size, "AdaptiveMaxPool2d");
  }
  Tensor<T> forward(const Tensor<T>& x) override { return adaptive_max_pool2d(x, output_size); }
  std::string type_name() const override { return "AdaptiveMaxPool2d"; }
  std::string extra_repr() const override { return std::string("output_size=").append(output_size.str()); }
};

}  // namespace tl::nn
