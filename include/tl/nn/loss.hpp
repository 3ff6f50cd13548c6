#pragma once
// Loss modules, like torch.nn's: CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, KLDivLoss, BCELoss,
// BCEWithLogitsLoss. Each is a Module whose forward(input, target) calls tl::nn::functional.
// Class weights are registered as the buffer "weight" (as PyTorch does), so they move with the model.
#include <string>

#include "tl/nn/functional/loss.hpp"
#include "tl/nn/module.hpp"

namespace tl::nn {

namespace detail {
/// The common base: a loss with a reduction, called as loss(input, target).
template <class T, class Target>
class LossModule : public Module<T> {
 public:
  using Module<T>::forward;
  using Module<T>::operator();
  virtual Tensor<T> forward(const Tensor<T>& input, const Target& target) = 0;
  Tensor<T> operator()(const Tensor<T>& input, const Target& target) { return forward(input, target); }
};
}  // namespace detail

template <class T = float>
class CrossEntropyLoss : public detail::LossModule<T, Tensor<int64_t>> {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions<T> options = {}) : o_(std::move(options)) {
    o_.weight = this->register_buffer("weight", o_.weight);
  }
  using detail::LossModule<T, Tensor<int64_t>>::forward;
  Tensor<T> forward(const Tensor<T>& input, const Tensor<int64_t>& target) override {
    return functional::cross_entropy(input, target, o_);
  }
  /// With class-probability targets.
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) {
    return functional::cross_entropy(input, target, o_);
  }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<int64_t>& target) { return forward(input, target); }
  Tensor<T> operator()(const Tensor<T>& input, const Tensor<T>& target) { return forward(input, target); }
  const CrossEntropyOptions<T>& options() const { return o_; }
  std::string type_name() const override { return "CrossEntropyLoss"; }

 private:
  CrossEntropyOptions<T> o_;
};

template <class T = float>
class NLLLoss : public detail::LossModule<T, Tensor<int64_t>> {
 public:
  explicit NLLLoss(NLLLossOptions<T> options = {}) : o_(std::move(options)) {
    o_.weight = this->register_buffer("weight", o_.weight);
  }
  using detail::LossModule<T, Tensor<int64_t>>::forward;
  Tensor<T> forward(const Tensor<T>& input, const Tensor<int64_t>& target) override {
    return functional::nll_loss(input, target, o_);
  }
  std::string type_name() const override { return "NLLLoss"; }

 private:
  NLLLossOptions<T> o_;
};

template <class T = float>
class MSELoss : public detail::LossModule<T, Tensor<T>> {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}
  using detail::LossModule<T, Tensor<T>>::forward;
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) override {
    return functional::mse_loss(input, target, reduction_);
  }
  std::string type_name() const override { return "MSELoss"; }

 private:
  Reduction reduction_;
};

template <class T = float>
class L1Loss : public detail::LossModule<T, Tensor<T>> {
 public:
  explicit L1Loss(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}
  using detail::LossModule<T, Tensor<T>>::forward;
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) override {
    return functional::l1_loss(input, target, reduction_);
  }
  std::string type_name() const override { return "L1Loss"; }

 private:
  Reduction reduction_;
};

/// input: log-probabilities; target: probabilities (log-probabilities with log_target).
template <class T = float>
class KLDivLoss : public detail::LossModule<T, Tensor<T>> {
 public:
  explicit KLDivLoss(Reduction reduction = Reduction::Mean, bool log_target = false)
      : reduction_(reduction), log_target_(log_target) {}
  using detail::LossModule<T, Tensor<T>>::forward;
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) override {
    return functional::kl_div(input, target, reduction_, log_target_);
  }
  std::string type_name() const override { return "KLDivLoss"; }

 private:
  Reduction reduction_;
  bool log_target_;
};

template <class T = float>
class BCELoss : public detail::LossModule<T, Tensor<T>> {
 public:
  explicit BCELoss(BCELossOptions<T> options = {}) : o_(std::move(options)) {
    o_.weight = this->register_buffer("weight", o_.weight);
  }
  using detail::LossModule<T, Tensor<T>>::forward;
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) override {
    return functional::binary_cross_entropy(input, target, o_);
  }
  std::string type_name() const override { return "BCELoss"; }

 private:
  BCELossOptions<T> o_;
};

template <class T = float>
class BCEWithLogitsLoss : public detail::LossModule<T, Tensor<T>> {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions<T> options = {}) : o_(std::move(options)) {
    o_.weight = this->register_buffer("weight", o_.weight);
    o_.pos_weight = this->register_buffer("pos_weight", o_.pos_weight);
  }
  using detail::LossModule<T, Tensor<T>>::forward;
  Tensor<T> forward(const Tensor<T>& input, const Tensor<T>& target) override {
    return functional::binary_cross_entropy_with_logits(input, target, o_);
  }
  std::string type_name() const override { return "BCEWithLogitsLoss"; }

 private:
  BCEWithLogitsLossOptions<T> o_;
};

}  // namespace tl::nn
