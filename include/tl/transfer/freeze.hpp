#pragma once
// Freezing for fine-tuning: which parameters train.
//
//   tl::transfer::freeze(*model);                 // everything frozen (requires_grad false)
//   tl::transfer::unfreeze(*model, "fc.*");       // ... except the head
//   tl::transfer::freeze_batchnorm(*model, "layer[12]*" or "*");  // frozen BN stays in eval mode
//   tl::optim::SGD<float> opt(tl::transfer::trainable_parameters(*model), {.lr = 0.01});
//   auto [trainable, total] = tl::transfer::count_parameters(*model);
//
// Patterns are globs on named_parameters() names (see glob.hpp). A frozen parameter gets no
// gradient, so even an optimizer that holds it leaves it unchanged; freezing also drops any
// gradient it already had, so a stale one is not applied by the next step.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tl/nn/batch_norm.hpp"
#include "tl/nn/module.hpp"
#include "tl/transfer/glob.hpp"

namespace tl::transfer {

/// Sets requires_grad on every parameter whose name matches `pattern`; returns how many matched.
template <class T>
size_t set_requires_grad(nn::Module<T>& model, bool requires_grad, const std::string& pattern = "*") {
  size_t n = 0;
  for (auto& [name, p] : model.named_parameters()) {
    if (!glob_match(pattern, name)) continue;
    p.requires_grad_(requires_grad);
    if (!requires_grad) p.zero_grad();
    ++n;
  }
  return n;
}

/// Freezes the parameters matching `pattern` (all by default); returns how many. A pattern that
/// matches nothing is an error (almost always a typo such as "layer1*.weight" vs "layer1.*").
template <class T>
size_t freeze(nn::Module<T>& model, const std::string& pattern = "*") {
  size_t n = set_requires_grad(model, false, pattern);
  TL_CHECK(n > 0 || model.named_parameters().empty(), "transfer::freeze: pattern '", pattern,
           "' matches no parameter of ", model.type_name());
  return n;
}

/// Unfreezes the parameters matching `pattern` (all by default); returns how many.
template <class T>
size_t unfreeze(nn::Module<T>& model, const std::string& pattern = "*") {
  size_t n = set_requires_grad(model, true, pattern);
  TL_CHECK(n > 0 || model.named_parameters().empty(), "transfer::unfreeze: pattern '", pattern,
           "' matches no parameter of ", model.type_name());
  return n;
}

template <class M>
size_t freeze(const std::shared_ptr<M>& m, const std::string& pattern = "*") {
  return freeze(*m, pattern);
}
template <class M>
size_t unfreeze(const std::shared_ptr<M>& m, const std::string& pattern = "*") {
  return unfreeze(*m, pattern);
}

/// The parameters with requires_grad, by name, in named_parameters() order.
template <class T>
typename nn::Module<T>::template Named<Tensor<T>> named_trainable_parameters(const nn::Module<T>& model) {
  typename nn::Module<T>::template Named<Tensor<T>> out;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) out.emplace_back(name, p);
  return out;
}

/// The parameters with requires_grad: what to give the optimizer.
template <class T>
std::vector<Tensor<T>> trainable_parameters(const nn::Module<T>& model) {
  std::vector<Tensor<T>> out;
  for (auto& [name, p] : named_trainable_parameters(model)) out.push_back(p);
  return out;
}

/// Element counts (not tensor counts) of the trainable and of all parameters.
struct ParameterCount {
  int64_t trainable = 0;
  int64_t total = 0;
  double fraction() const { return total ? static_cast<double>(trainable) / static_cast<double>(total) : 0.0; }
};

template <class T>
ParameterCount count_parameters(const nn::Module<T>& model) {
  ParameterCount c;
  for (auto& [name, p] : model.named_parameters()) {
    c.total += p.numel();
    if (p.requires_grad()) c.trainable += p.numel();
  }
  return c;
}

/// Every BatchNorm module whose dotted module name matches `pattern`: frozen parameters, and kept in
/// eval mode across model.train() (running statistics used, never updated: what a frozen backbone
/// needs, since batch statistics of a small target set would otherwise overwrite the source's).
/// Returns how many BN modules matched.
template <class T>
size_t freeze_batchnorm(nn::Module<T>& model, const std::string& pattern = "*", bool freeze = true) {
  size_t n = 0;
  for (auto& [name, m] : model.named_modules()) {
    auto* bn = dynamic_cast<nn::BatchNorm<T>*>(m.get());
    if (!bn || !glob_match(pattern, name)) continue;
    bn->freeze_stats = freeze;
    for (auto& [pn, p] : bn->named_parameters()) {
      p.requires_grad_(!freeze);
      if (freeze) p.zero_grad();
    }
    bn->train(freeze ? false : model.is_training());
    ++n;
  }
  return n;
}

/// Lets matching BatchNorm modules train again (parameters trainable, statistics updated).
template <class T>
size_t unfreeze_batchnorm(nn::Module<T>& model, const std::string& pattern = "*") {
  return freeze_batchnorm(model, pattern, false);
}

}  // namespace tl::transfer
