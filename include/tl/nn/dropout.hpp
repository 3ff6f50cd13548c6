#pragma once
// tl::nn::Dropout(p = 0.5): inverted dropout while training (mask from tl::default_generator()),
// the identity in eval mode.
#include <string>

#include "tl/nn/functional/dropout.hpp"
#include "tl/nn/module.hpp"
#include "tl/nn/repr.hpp"

namespace tl::nn {

template <class T = float>
class Dropout : public Module<T> {
 public:
  /// `inplace` is accepted for PyTorch compatibility; tl computes out of place.
  explicit Dropout(double p = 0.5, bool inplace = false) : p_(p), inplace_(inplace) {
    TL_CHECK(p >= 0.0 && p <= 1.0, "Dropout: dropout probability has to be between 0 and 1, but got ", p);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return tl::dropout(x, p_, this->is_training()); }
  double p() const { return p_; }
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override {
    return "p=" + detail::repr_float(p_) + ", inplace=" + detail::repr_bool(inplace_);
  }

 private:
  double p_;
  bool inplace_;
};

}  // namespace tl::nn
