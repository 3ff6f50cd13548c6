#pragma once
// Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Softmax, LogSoftmax.
// `inplace` arguments are accepted for PyTorch compatibility and printing, but tl always computes
// out of place (autograd here has no version counters to make in-place safe).
#include <string>

#include "tl/nn/functional/activation.hpp"
#include "tl/nn/module.hpp"
#include "tl/nn/repr.hpp"

namespace tl::nn {

template <class T = float>
class ReLU : public Module<T> {
 public:
  explicit ReLU(bool inplace = false) : inplace_(inplace) {}
  Tensor<T> forward(const Tensor<T>& x) override { return functional::relu(x); }
  std::string type_name() const override { return "ReLU"; }
  std::string extra_repr() const override { return inplace_ ? "inplace=True" : ""; }

 private:
  bool inplace_;
};

template <class T = float>
class LeakyReLU : public Module<T> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01, bool inplace = false) : slope_(negative_slope), inplace_(inplace) {}
  Tensor<T> forward(const Tensor<T>& x) override { return functional::leaky_relu(x, slope_); }
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override {
    return "negative_slope=" + detail::repr_float(slope_) + (inplace_ ? ", inplace=True" : "");
  }

 private:
  double slope_;
  bool inplace_;
};

template <class T = float>
class Sigmoid : public Module<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) override { return functional::sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

template <class T = float>
class Tanh : public Module<T> {
 public:
  Tensor<T> forward(const Tensor<T>& x) override { return functional::tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

template <class T = float>
class GELU : public Module<T> {
 public:
  explicit GELU(std::string approximate = "none") : approximate_(std::move(approximate)) {
    TL_CHECK(approximate_ == "none" || approximate_ == "tanh", "GELU: approximate must be 'none' or 'tanh', got '",
             approximate_, "'");
  }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::gelu(x, approximate_); }
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override { return "approximate='" + approximate_ + "'"; }

 private:
  std::string approximate_;
};

template <class T = float>
class SiLU : public Module<T> {
 public:
  explicit SiLU(bool inplace = false) : inplace_(inplace) {}
  Tensor<T> forward(const Tensor<T>& x) override { return functional::silu(x); }
  std::string type_name() const override { return "SiLU"; }
  std::string extra_repr() const override { return inplace_ ? "inplace=True" : ""; }

 private:
  bool inplace_;
};

/// Softmax over `dim` (PyTorch's implicit-dim default is deprecated, so dim is required).
template <class T = float>
class Softmax : public Module<T> {
 public:
  explicit Softmax(int64_t dim) : dim_(dim) {}
  Tensor<T> forward(const Tensor<T>& x) override { return tl::softmax(x, dim_); }
  std::string type_name() const override { return "Softmax"; }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim_); }

 private:
  int64_t dim_;
};

template <class T = float>
class LogSoftmax : public Module<T> {
 public:
  explicit LogSoftmax(int64_t dim) : dim_(dim) {}
  Tensor<T> forward(const Tensor<T>& x) override { return tl::log_softmax(x, dim_); }
  std::string type_name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim_); }

 private:
  int64_t dim_;
};

}  // namespace tl::nn
