#pragma once
// Series bottleneck adapters (Houlsby et al. 2019 for Linear features; Rebuffi et al. 2017's series
// adapters for conv maps): y = x + up(relu(down(x))), down to features / reduction, up back.
// The up-projection (weight and bias) starts at zero, so y == x exactly at init.
//   - conv feature maps [N, C, H, W]: down/up are 1x1 convs;
//   - Linear features [N, D]: down/up are Linear layers.
// SeriesAdapterConv2d / SeriesAdapterLinear wrap a layer and apply the adapter to its output.
#include <algorithm>
#include <memory>
#include <string>

#include "tl/nn/init.hpp"
#include "tl/ops/binary.hpp"
#include "tl/ops/unary.hpp"
#include "tl/transfer/wrapped_layer.hpp"

namespace tl::transfer {

template <class T>
class BottleneckAdapter : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Module<T>> down, up;

  /// `conv`: 1x1 convs over [N, C, H, W]; otherwise Linear over [..., features].
  BottleneckAdapter(int64_t features, int64_t reduction, bool conv, Generator* gen = nullptr)
      : features_(features), hidden_(std::max<int64_t>(1, features / std::max<int64_t>(1, reduction))), conv_(conv) {
    TL_CHECK(features > 0 && reduction > 0, "transfer::BottleneckAdapter: features and reduction must be positive, got ",
             features, " and ", reduction);
    Generator& g = gen ? *gen : default_generator();
    if (conv) {
      auto d = std::make_shared<nn::Conv2d<T>>(features, hidden_, 1);
      auto u = std::make_shared<nn::Conv2d<T>>(hidden_, features, 1);
      d->reset_parameters(g);
      down = this->register_module("down", d);
      up = this->register_module("up", u);
    } else {
      auto d = std::make_shared<nn::Linear<T>>(features, hidden_);
      auto u = std::make_shared<nn::Linear<T>>(hidden_, features);
      d->reset_parameters(g);
      down = this->register_module("down", d);
      up = this->register_module("up", u);
    }
    for (auto& p : up->parameters()) nn::init::zeros_(p);
  }

  Tensor<T> forward(const Tensor<T>& x) override { return add(x, up->forward(relu(down->forward(x)))); }

  int64_t hidden() const { return hidden_; }
  std::string type_name() const override { return "BottleneckAdapter"; }
  std::string extra_repr() const override {
    return std::to_string(features_) + " -> " + std::to_string(hidden_) + (conv_ ? ", conv" : ", linear");
  }

 private:
  int64_t features_, hidden_;
  bool conv_;
};

/// A conv followed by a series bottleneck adapter on its output (1x1 convs).
template <class T>
class SeriesAdapterConv2d : public nn::Conv2d<T> {
 public:
  std::shared_ptr<BottleneckAdapter<T>> adapter;

  SeriesAdapterConv2d(const nn::Conv2d<T>& base, int64_t reduction, Generator* gen = nullptr)
      : nn::Conv2d<T>(base.in_channels, base.out_channels, base.kernel_size, base.stride, base.padding, base.dilation,
                      base.groups, base.bias.defined()) {
    detail::share_params(*this, base);
    adapter = this->register_module("adapter",
                                    std::make_shared<BottleneckAdapter<T>>(base.out_channels, reduction, true, gen));
  }
  Tensor<T> forward(const Tensor<T>& x) override { return adapter->forward(nn::Conv2d<T>::forward(x)); }
  std::string type_name() const override { return "SeriesAdapterConv2d"; }
};

/// A Linear followed by a series bottleneck adapter on its output.
template <class T>
class SeriesAdapterLinear : public nn::Linear<T> {
 public:
  std::shared_ptr<BottleneckAdapter<T>> adapter;

  SeriesAdapterLinear(const nn::Linear<T>& base, int64_t reduction, Generator* gen = nullptr)
      : nn::Linear<T>(base.in_features(), base.out_features(), base.bias.defined()) {
    detail::share_params(*this, base);
    adapter = this->register_module("adapter",
                                    std::make_shared<BottleneckAdapter<T>>(base.out_features(), reduction, false, gen));
  }
  Tensor<T> forward(const Tensor<T>& x) override { return adapter->forward(nn::Linear<T>::forward(x)); }
  std::string type_name() const override { return "SeriesAdapterLinear"; }
};

}  // namespace tl::transfer
