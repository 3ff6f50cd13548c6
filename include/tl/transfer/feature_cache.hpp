#pragma once
// Feature extraction and linear probing: the fast path when the backbone is frozen and there is no
// augmentation. The backbone's features are computed once (eval mode, no autograd, in batches),
// then only the head trains, on the cached [N, D] matrix: epochs cost a matmul, not a ResNet.
//
//   auto feats = tl::transfer::extract_features(*model, images);            // [N, D]
//   auto head = std::make_shared<tl::nn::Linear<float>>(feats.size(1), 10);
//   tl::transfer::linear_probe(feats, labels, *head, {.epochs = 20, .lr = 0.1});
//   model->fc = model->replace_module("fc", head);   // or tl::transfer::replace_head
//
// The head it gives equals the one trained through the frozen network with the same batches
// (tests/transfer/test_linear_probe.cpp): BatchNorm in eval mode makes features per-example.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tl/autograd/grad_mode.hpp"
#include "tl/core/generator.hpp"
#include "tl/data/dataset.hpp"
#include "tl/nn/functional/loss.hpp"
#include "tl/nn/module.hpp"
#include "tl/ops/join.hpp"
#include "tl/optim/sgd.hpp"

namespace tl::transfer {

namespace detail {
/// model.features(x) when the model has it (ResNet, MultiTaskModel), else model.forward(x).
template <class M, class T>
Tensor<T> features_of(M& model, const Tensor<T>& x) {
  if constexpr (requires { model.features(x); }) return model.features(x);
  else return model.forward(x);
}
/// Rows idx of a contiguous [N, ...] tensor, copied (no autograd: used on caches and labels).
template <class U>
Tensor<U> take_rows(const Tensor<U>& src, const std::vector<int64_t>& idx, size_t begin, size_t end) {
  Shape s = src.shape();
  const int64_t row = s[0] ? src.numel() / s[0] : 0;
  s[0] = static_cast<int64_t>(end - begin);
  auto out = Tensor<U>::uninitialized(s);
  auto c = src.contiguous();
  for (size_t i = begin; i < end; ++i)
    std::memcpy(out.data() + (i - begin) * row, c.data() + idx[i] * row, sizeof(U) * static_cast<size_t>(row));
  return out;
}
}  // namespace detail

/// Puts a module in eval mode for a scope and restores its previous mode afterwards.
template <class T>
class EvalModeGuard {
 public:
  explicit EvalModeGuard(nn::Module<T>& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalModeGuard() { m_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  nn::Module<T>& m_;
  bool was_training_;
};

/// The backbone's features of `inputs` ([N, ...] -> [N, D]), in batches of batch_size, in eval mode
/// and without autograd; the model's mode is restored afterwards.
template <class M, class T>
Tensor<T> extract_features(M& model, const Tensor<T>& inputs, int64_t batch_size = 256) {
  TL_CHECK(batch_size > 0, "transfer::extract_features: batch_size must be positive, got ", batch_size);
  TL_CHECK(inputs.dim() >= 1 && inputs.size(0) > 0, "transfer::extract_features: expected a non-empty batch, got ",
           shape_str(inputs.shape()));
  EvalModeGuard<T> eval(model);
  NoGradGuard no_grad;
  std::vector<Tensor<T>> parts;
  for (int64_t i = 0; i < inputs.size(0); i += batch_size) {
    const int64_t n = std::min(batch_size, inputs.size(0) - i);
    parts.push_back(detail::features_of(model, inputs.narrow(0, i, n).contiguous()).contiguous());
  }
  return parts.size() == 1 ? parts[0] : cat(parts, 0);
}

/// Features and labels of a whole dataset.
template <class T>
struct FeatureSet {
  Tensor<T> features;        // [N, D]
  Tensor<int64_t> labels;    // [N]
};

/// extract_features over a tl::data::Dataset (images are stacked batch by batch, in index order).
template <class M>
FeatureSet<float> extract_features(M& model, const data::Dataset& ds, int64_t batch_size = 256) {
  TL_CHECK(ds.size() > 0, "transfer::extract_features: the dataset is empty");
  TL_CHECK(batch_size > 0, "transfer::extract_features: batch_size must be positive, got ", batch_size);
  EvalModeGuard<float> eval(model);
  NoGradGuard no_grad;
  std::vector<Tensor<float>> parts;
  auto labels = Tensor<int64_t>::uninitialized({ds.size()});
  for (int64_t i = 0; i < ds.size(); i += batch_size) {
    const int64_t n = std::min(batch_size, ds.size() - i);
    std::vector<Tensor<float>> imgs;
    for (int64_t j = 0; j < n; ++j) {
      auto ex = ds.get(i + j);
      imgs.push_back(ex.image);
      labels.data()[i + j] = ex.label;
    }
    parts.push_back(detail::features_of(model, stack(imgs, 0)).contiguous());
  }
  return {parts.size() == 1 ? parts[0] : cat(parts, 0), labels};
}

struct LinearProbeOptions {
  int64_t epochs = 10;
  int64_t batch_size = 64;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool shuffle = true;
  uint64_t seed = 0;
};

/// The example order of one epoch: 0..n-1, shuffled (Fisher-Yates with gen) when asked. linear_probe
/// draws epoch e's order as the e-th call on Generator(seed), so a caller can replay its batches.
inline std::vector<int64_t> epoch_order(int64_t n, bool shuffle, Generator& gen) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  if (shuffle)
    for (int64_t i = n - 1; i > 0; --i) std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(gen.randint(i + 1))]);
  return idx;
}

/// Trains `head` on cached features with SGD and mean cross entropy; returns each epoch's mean loss.
/// The head's parameters are trained in place (whatever their requires_grad was, they train here).
template <class T>
std::vector<double> linear_probe(const Tensor<T>& features, const Tensor<int64_t>& labels, nn::Module<T>& head,
                                 const LinearProbeOptions& o = {}) {
  TL_CHECK(features.dim() == 2, "transfer::linear_probe: features must be [N, D], got ", shape_str(features.shape()));
  TL_CHECK(labels.dim() == 1 && labels.size(0) == features.size(0), "transfer::linear_probe: labels must be [N] with N = ",
           features.size(0), ", got ", shape_str(labels.shape()));
  TL_CHECK(o.epochs >= 0 && o.batch_size > 0, "transfer::linear_probe: epochs must be >= 0 and batch_size > 0");
  for (auto& p : head.parameters()) p.requires_grad_(true);
  optim::SGD<T> opt(head.parameters(), {.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay});
  head.train();
  Generator gen(o.seed);
  const int64_t n = features.size(0);
  const auto cached = features.detach().contiguous();
  std::vector<double> losses;
  for (int64_t e = 0; e < o.epochs; ++e) {
    auto order = epoch_order(n, o.shuffle, gen);
    double sum = 0;
    int64_t batches = 0;
    for (int64_t b = 0; b < n; b += o.batch_size) {
      const auto lo = static_cast<size_t>(b), hi = static_cast<size_t>(std::min(n, b + o.batch_size));
      auto x = detail::take_rows(cached, order, lo, hi);
      auto y = detail::take_rows(labels, order, lo, hi);
      opt.zero_grad();
      auto loss = nn::functional::cross_entropy(head.forward(x), y);
      loss.backward();
      opt.step();
      sum += static_cast<double>(loss.item());
      ++batches;
    }
    losses.push_back(batches ? sum / static_cast<double>(batches) : 0.0);
  }
  return losses;
}

}  // namespace tl::transfer
