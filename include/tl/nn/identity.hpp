#pragma once
// tl::nn::Identity: returns its input (a placeholder, e.g. for a removed classifier head).
#include <string>

#include "tl/nn/module.hpp"

namespace tl::nn {

template <class T = float>
class Identity : public Module<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

}  // namespace tl::nn
