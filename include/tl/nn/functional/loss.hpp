#pragma once
// Losses of tl::nn::functional, with PyTorch's names, argument order and defaults. Options that
// PyTorch passes as keyword arguments come in a struct with designated initializers:
//
//   namespace F = tl::nn::functional;
//   auto loss = F::cross_entropy(logits, targets);                                  // mean
//   auto l2 = F::cross_entropy(logits, targets, {.reduction = tl::nn::Reduction::Sum,
//                                                .label_smoothing = 0.1});
//   auto l3 = F::cross_entropy(logits, targets, {.weight = class_weights, .ignore_index = 255});
//
// Weighted means follow PyTorch: divide by the summed weights of the (non-ignored) targets.
#include "tl/ops/loss.hpp"

namespace tl::nn {

using Reduction = tl::Reduction;

/// cross_entropy's keyword arguments (in PyTorch's order).
template <class T>
struct CrossEntropyOptions {
  Tensor<T> weight{};  // [C] class weights, or undefined for none
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0.0;
};

/// nll_loss's keyword arguments.
template <class T>
struct NLLLossOptions {
  Tensor<T> weight{};
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};

/// binary_cross_entropy's keyword arguments.
template <class T>
struct BCELossOptions {
  Tensor<T> weight{};  // broadcasts to the input's shape
  Reduction reduction = Reduction::Mean;
};

/// binary_cross_entropy_with_logits's keyword arguments.
template <class T>
struct BCEWithLogitsLossOptions {
  Tensor<T> weight{};
  Reduction reduction = Reduction::Mean;
  Tensor<T> pos_weight{};  // weight of positive examples, broadcasts (typically [C])
};

namespace functional {

/// log_softmax over dim 1 (dim 0 for an unbatched [C] input) + nll_loss, fused. input: [C], [N, C]
/// or [N, C, d1, ...]; target: class indices [], [N] or [N, d1, ...].
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& input, const Tensor<int64_t>& target, const CrossEntropyOptions<T>& o = {}) {
  return tl::cross_entropy(input, target, o.weight, o.ignore_index, o.reduction, o.label_smoothing);
}

/// Cross entropy against class probabilities of the input's shape (ignore_index does not apply).
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& input, const Tensor<T>& target, const CrossEntropyOptions<T>& o = {}) {
  TL_CHECK(o.ignore_index == -100, "cross_entropy: ignore_index is only supported for class-index targets");
  return tl::cross_entropy(input, target, o.weight, o.reduction, o.label_smoothing);
}

/// Negative log likelihood; input holds log-probabilities (e.g. from log_softmax).
template <class T>
Tensor<T> nll_loss(const Tensor<T>& input, const Tensor<int64_t>& target, const NLLLossOptions<T>& o = {}) {
  return tl::nll_loss(input, target, o.weight, o.ignore_index, o.reduction);
}

using tl::kl_div;
using tl::l1_loss;
using tl::mse_loss;

template <class T>
Tensor<T> binary_cross_entropy(const Tensor<T>& input, const Tensor<T>& target, const BCELossOptions<T>& o = {}) {
  return tl::binary_cross_entropy(input, target, o.weight, o.reduction);
}

template <class T>
Tensor<T> binary_cross_entropy_with_logits(const Tensor<T>& input, const Tensor<T>& target,
                                           const BCEWithLogitsLossOptions<T>& o = {}) {
  return tl::binary_cross_entropy_with_logits(input, target, o.weight, o.pos_weight, o.reduction);
}

}  // namespace functional
}  // namespace tl::nn
