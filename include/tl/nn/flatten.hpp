#pragma once
// tl::nn::Flatten(start_dim = 1, end_dim = -1): merges dims start_dim..end_dim (keeps the batch dim).
#include <string>

#include "tl/nn/module.hpp"
#include "tl/ops/view.hpp"

namespace tl::nn {

template <class T = float>
class Flatten : public Module<T> {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Tensor<T> forward(const Tensor<T>& x) override { return x.flatten(start_, end_); }
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_) + ", end_dim=" + std::to_string(end_);
  }

 private:
  int64_t start_, end_;
};

}  // namespace tl::nn
