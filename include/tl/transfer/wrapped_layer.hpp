#pragma once
// How adapter wrappers stand in for the layer they adapt. A wrapper *is* a Conv2d (or Linear) whose
// weight and bias are the wrapped layer's own tensors (shared, not copied), so:
//  - it fits the typed members of tl::models blocks (std::shared_ptr<nn::Conv2d<T>> conv2),
//  - state_dict names of the pretrained weights do not change ("layer1.0.conv2.weight"), so one
//    backbone file loads into plain and adapted models alike; adapter tensors add new names below.
// (Constructing the base class draws an initial weight that is then dropped for the shared one.)
#include <memory>

#include "tl/nn/conv2d.hpp"
#include "tl/nn/linear.hpp"

namespace tl::transfer::detail {

/// Makes `self` use `base`'s weight and bias tensors (and padding mode).
template <class T>
void share_params(nn::Conv2d<T>& self, const nn::Conv2d<T>& base) {
  self.weight = base.weight;
  self.replace_parameter("weight", base.weight);
  if (base.bias.defined()) {
    self.bias = base.bias;
    self.replace_parameter("bias", base.bias);
  }
  self.padding_mode = base.padding_mode;
}

template <class T>
void share_params(nn::Linear<T>& self, const nn::Linear<T>& base) {
  self.weight = base.weight;
  self.replace_parameter("weight", base.weight);
  if (base.bias.defined()) {
    self.bias = base.bias;
    self.replace_parameter("bias", base.bias);
  }
}

/// The conv's forward as the base layer computes it (the un-adapted path).
template <class T>
Tensor<T> base_conv(const nn::Conv2d<T>& c, const Tensor<T>& x, const Tensor<T>& weight) {
  if (c.padding_mode) return conv2d(x, weight, c.bias, c.stride, *c.padding_mode, c.dilation, c.groups);
  return conv2d(x, weight, c.bias, c.stride, c.padding, c.dilation, c.groups);
}

}  // namespace tl::transfer::detail
