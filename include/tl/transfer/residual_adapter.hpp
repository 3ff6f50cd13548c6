#pragma once
// Residual adapters (Rebuffi, Bilen & Vedaldi 2017/2018, "parallel" form): a 1x1 conv + BN in
// parallel with a (3x3) conv: y = conv(x) + BN(conv1x1(x)). The 1x1 conv has the wrapped conv's
// stride so both paths give the same output size. The adapter BN's weight (gamma) starts at zero,
// so the adapter outputs exactly 0 and the adapted network computes exactly what the pretrained one
// did (zeroing the 1x1 conv instead would leave the BN normalising a constant, with no gradient).
#include <memory>
#include <string>

#include "tl/nn/batch_norm.hpp"
#include "tl/nn/init.hpp"
#include "tl/ops/binary.hpp"
#include "tl/transfer/wrapped_layer.hpp"

namespace tl::transfer {

template <class T>
class ResidualAdapterConv2d : public nn::Conv2d<T> {
 public:
  std::shared_ptr<nn::Conv2d<T>> adapter_conv;    // 1x1, no bias, stride of the wrapped conv
  std::shared_ptr<nn::BatchNorm2d<T>> adapter_bn;  // gamma 0 at init

  /// Wraps `base` (sharing its weight); the 1x1 conv is drawn from `gen` (default_generator() if null).
  explicit ResidualAdapterConv2d(const nn::Conv2d<T>& base, Generator* gen = nullptr)
      : nn::Conv2d<T>(base.in_channels, base.out_channels, base.kernel_size, base.stride, base.padding, base.dilation,
                      base.groups, base.bias.defined()) {
    detail::share_params(*this, base);
    adapter_conv = this->register_module(
        "adapter_conv", std::make_shared<nn::Conv2d<T>>(base.in_channels, base.out_channels, 1, base.stride, 0, 1, 1,
                                                        false));
    adapter_conv->reset_parameters(gen ? *gen : default_generator());
    adapter_bn = this->register_module("adapter_bn", std::make_shared<nn::BatchNorm2d<T>>(base.out_channels));
    nn::init::zeros_(adapter_bn->weight);
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    return add(nn::Conv2d<T>::forward(x), adapter_bn->forward(adapter_conv->forward(x)));
  }
  std::string type_name() const override { return "ResidualAdapterConv2d"; }
};

}  // namespace tl::transfer
