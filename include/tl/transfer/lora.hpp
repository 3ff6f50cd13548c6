#pragma once
// LoRA (Hu et al. 2021) for Linear and Conv2d, with peft's conventions:
//   y = base(x) + (alpha / rank) * B(A(x)),   A: [rank, in] (conv: [rank, in, kH, kW], the base conv's
//   geometry), B: [out, rank] (conv: 1x1), A kaiming-uniform (a = sqrt(5)), B zero, so at init the
//   layer computes exactly the base layer.
// merge() folds (alpha/rank)·B·A into the weight, after which forward costs what the base layer
// costs; unmerge() puts the original weight tensor back (bit-exact; the original is never written).
// Parameters: "weight"/"bias" (the base's, shared), "lora_A", "lora_B".
#include <memory>
#include <optional>
#include <string>

#include "tl/autograd/grad_mode.hpp"
#include "tl/nn/init.hpp"
#include "tl/ops/binary.hpp"
#include "tl/ops/linear.hpp"
#include "tl/ops/matmul.hpp"
#include "tl/transfer/wrapped_layer.hpp"

namespace tl::transfer {

struct LoRAOptions {
  int64_t rank = 8;
  double alpha = 8;  // scaling = alpha / rank (peft's lora_alpha; default 8 gives scaling 1 at rank 8)
};

namespace detail {
/// What LoRALinear and LoRAConv2d share: rank, scaling, merged state.
template <class T, class Base>
class LoRAState {
 protected:
  void check_options(const LoRAOptions& o, const char* who) {
    TL_CHECK(o.rank > 0, who, ": rank must be positive, got ", o.rank);
    rank_ = o.rank;
    scaling_ = o.alpha / static_cast<double>(o.rank);
  }
  /// Swaps the layer's weight for weight + delta (a new tensor), keeping the original.
  void merge_delta(Base& self, const Tensor<T>& delta) {
    TL_CHECK(!merged_.has_value(), self.type_name(), ": merge(): already merged");
    NoGradGuard no_grad;
    Tensor<T> w = add(self.weight.detach(), delta).contiguous();
    w.requires_grad_(false);  // a merged layer is for inference
    merged_ = self.weight;
    self.weight = w;
    self.replace_parameter("weight", w);
  }
  void unmerge_weight(Base& self) {
    TL_CHECK(merged_.has_value(), self.type_name(), ": unmerge(): not merged");
    self.weight = *merged_;
    self.replace_parameter("weight", *merged_);
    merged_.reset();
  }
  int64_t rank_ = 0;
  double scaling_ = 1;
  std::optional<Tensor<T>> merged_;  // the original weight while merged
};
}  // namespace detail

template <class T>
class LoRALinear : public nn::Linear<T>, private detail::LoRAState<T, nn::Linear<T>> {
 public:
  Tensor<T> lora_A, lora_B;

  LoRALinear(const nn::Linear<T>& base, const LoRAOptions& o = {}, Generator* gen = nullptr)
      : nn::Linear<T>(base.in_features(), base.out_features(), base.bias.defined()) {
    this->check_options(o, "LoRALinear");
    detail::share_params(*this, base);
    lora_A = this->register_parameter("lora_A", empty<T>({o.rank, base.in_features()}));
    lora_B = this->register_parameter("lora_B", zeros<T>({base.out_features(), o.rank}));
    nn::init::kaiming_uniform_(lora_A, std::sqrt(5.0), "fan_in", "leaky_relu", gen ? *gen : default_generator());
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    auto y = nn::Linear<T>::forward(x);
    if (merged()) return y;
    return add(y, mul(linear(linear(x, lora_A), lora_B), scalar_tensor<T>(static_cast<T>(this->scaling_))));
  }
  /// (alpha/rank) · B · A, shaped like the weight.
  Tensor<T> delta_weight() const {
    return mul(matmul(lora_B, lora_A), scalar_tensor<T>(static_cast<T>(this->scaling_)));
  }
  void merge() { this->merge_delta(*this, delta_weight()); }
  void unmerge() { this->unmerge_weight(*this); }
  bool merged() const { return this->merged_.has_value(); }
  int64_t rank() const { return this->rank_; }
  double scaling() const { return this->scaling_; }
  std::string type_name() const override { return "LoRALinear"; }
};

template <class T>
class LoRAConv2d : public nn::Conv2d<T>, private detail::LoRAState<T, nn::Conv2d<T>> {
 public:
  Tensor<T> lora_A, lora_B;  // [rank, in, kH, kW] and [out, rank, 1, 1]

  LoRAConv2d(const nn::Conv2d<T>& base, const LoRAOptions& o = {}, Generator* gen = nullptr)
      : nn::Conv2d<T>(base.in_channels, base.out_channels, base.kernel_size, base.stride, base.padding, base.dilation,
                      base.groups, base.bias.defined()) {
    this->check_options(o, "LoRAConv2d");
    TL_CHECK(base.groups == 1, "LoRAConv2d: grouped convolutions are not supported (groups = ", base.groups, ")");
    detail::share_params(*this, base);
    lora_A = this->register_parameter(
        "lora_A", empty<T>({o.rank, base.in_channels, base.kernel_size.h, base.kernel_size.w}));
    lora_B = this->register_parameter("lora_B", zeros<T>({base.out_channels, o.rank, 1, 1}));
    nn::init::kaiming_uniform_(lora_A, std::sqrt(5.0), "fan_in", "leaky_relu", gen ? *gen : default_generator());
  }

  Tensor<T> forward(const Tensor<T>& x) override {
    auto y = nn::Conv2d<T>::forward(x);
    if (merged()) return y;
    // A has the base conv's kernel, stride, padding and dilation (no bias); B is a 1x1 conv.
    auto a = this->padding_mode
                 ? conv2d(x, lora_A, Tensor<T>(), this->stride, *this->padding_mode, this->dilation, 1)
                 : conv2d(x, lora_A, Tensor<T>(), this->stride, this->padding, this->dilation, 1);
    return add(y, mul(conv2d(a, lora_B), scalar_tensor<T>(static_cast<T>(this->scaling_))));
  }
  Tensor<T> delta_weight() const {
    const int64_t r = lora_A.size(0);
    auto ba = matmul(lora_B.reshape({this->out_channels, r}), lora_A.reshape({r, lora_A.numel() / r}));
    return mul(ba.reshape(this->weight.shape()), scalar_tensor<T>(static_cast<T>(this->scaling_)));
  }
  void merge() { this->merge_delta(*this, delta_weight()); }
  void unmerge() { this->unmerge_weight(*this); }
  bool merged() const { return this->merged_.has_value(); }
  int64_t rank() const { return this->rank_; }
  double scaling() const { return this->scaling_; }
  std::string type_name() const override { return "LoRAConv2d"; }
};

}  // namespace tl::transfer
