#pragma once
// tl::nn::Linear(in_features, out_features, bias = true): y = x W^T + b on inputs [*, in_features].
// Parameters "weight" [out_features, in_features] and "bias" [out_features] (absent when bias is
// false), initialised like PyTorch (init::default_layer_init).
#include <memory>
#include <string>

#include "tl/nn/functional/linear.hpp"
#include "tl/nn/init.hpp"
#include "tl/nn/module.hpp"
#include "tl/nn/repr.hpp"

namespace tl::nn {

template <class T = float>
class Linear : public Module<T> {
 public:
  Tensor<T> weight, bias;

  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : in_features_(in_features), out_features_(out_features) {
    TL_CHECK(in_features >= 0 && out_features >= 0, "Linear: in_features and out_features must be non-negative, got ",
             in_features, " and ", out_features);
    weight = this->register_parameter("weight", empty<T>({out_features, in_features}));
    this->bias = this->register_parameter("bias", bias ? empty<T>({out_features}) : Tensor<T>());
    reset_parameters();
  }

  /// PyTorch's default: weight and bias in U(-1/sqrt(in_features), 1/sqrt(in_features)).
  void reset_parameters(Generator& gen = default_generator()) { init::default_layer_init(weight, bias, gen); }

  Tensor<T> forward(const Tensor<T>& x) override { return tl::linear(x, weight, bias, "Linear"); }

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override {
    return "in_features=" + std::to_string(in_features_) + ", out_features=" + std::to_string(out_features_) +
           ", bias=" + detail::repr_bool(bias.defined());
  }

 private:
  int64_t in_features_, out_features_;
};

}  // namespace tl::nn
