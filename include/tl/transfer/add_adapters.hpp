#pragma once
// add_adapters: turns a pretrained ResNet into an adapted one for a new task.
//
//   auto model = tl::models::resnet18(10, {.small_input = true});
//   tl::transfer::load_backbone(*model, "source.safetensors");          // pretrained weights
//   auto report = tl::transfer::add_adapters(*model, {.kind = tl::transfer::AdapterKind::Residual});
//   tl::optim::SGD<float> opt(tl::transfer::trainable_parameters(*model), {.lr = 0.01});
//
// Every 3x3 conv of every block (both convs of a BasicBlock, conv2 of a Bottleneck) is replaced by a
// wrapper sharing its weight (Module::replace_module plus the block's typed member, which the
// wrapper fits because it is a Conv2d). Then the whole pretrained network is frozen, its BatchNorms
// kept in eval mode unless train_bn, and only the adapters (with their own BNs) and the head train.
// The pretrained tensors are neither copied nor written. Works on any model containing
// tl::models blocks (a ResNet, or a MultiTaskModel whose backbone is one).
#include <memory>
#include <string>
#include <vector>

#include "tl/models/resnet.hpp"
#include "tl/transfer/bottleneck_adapter.hpp"
#include "tl/transfer/freeze.hpp"
#include "tl/transfer/lora.hpp"
#include "tl/transfer/residual_adapter.hpp"

namespace tl::transfer {

enum class AdapterKind { Residual, Bottleneck, LoRA };

inline const char* adapter_kind_name(AdapterKind k) {
  switch (k) {
    case AdapterKind::Residual: return "residual";
    case AdapterKind::Bottleneck: return "bottleneck";
    case AdapterKind::LoRA: return "lora";
  }
  return "?";
}

struct AdapterOptions {
  AdapterKind kind = AdapterKind::Residual;
  int64_t rank = 8;         // LoRA rank
  double alpha = 8;         // LoRA alpha (scaling alpha / rank)
  int64_t reduction = 4;    // Bottleneck: hidden channels = channels / reduction
  bool train_bn = false;    // the backbone's BatchNorms train too (parameters and statistics)
  bool train_head = true;   // the head (parameters matching `head`) trains
  std::string head = "fc.*";
  Generator* generator = nullptr;  // randomness of the adapters' init; default_generator() if null
};

struct AdapterReport {
  std::vector<std::string> adapted;  // dotted names of the wrapped convs
  ParameterCount params;             // after freezing
};

namespace detail {
template <class T>
std::shared_ptr<nn::Conv2d<T>> make_adapter(const nn::Conv2d<T>& base, const AdapterOptions& o) {
  TL_CHECK(dynamic_cast<const ResidualAdapterConv2d<T>*>(&base) == nullptr &&
               dynamic_cast<const SeriesAdapterConv2d<T>*>(&base) == nullptr &&
               dynamic_cast<const LoRAConv2d<T>*>(&base) == nullptr,
           "transfer::add_adapters: the model already has adapters");
  switch (o.kind) {
    case AdapterKind::Residual: return std::make_shared<ResidualAdapterConv2d<T>>(base, o.generator);
    case AdapterKind::Bottleneck: return std::make_shared<SeriesAdapterConv2d<T>>(base, o.reduction, o.generator);
    case AdapterKind::LoRA:
      return std::make_shared<LoRAConv2d<T>>(base, LoRAOptions{.rank = o.rank, .alpha = o.alpha}, o.generator);
  }
  tl::detail::fail("transfer::add_adapters: unknown adapter kind");
}
/// Replaces block.<name> (registry and typed member) by its adapted version.
template <class T>
void adapt_member(nn::Module<T>& block, const char* name, std::shared_ptr<nn::Conv2d<T>>& member,
                  const std::string& path, const AdapterOptions& o, bool training, std::vector<std::string>& out) {
  auto wrapped = make_adapter(*member, o);
  wrapped->train(training);
  member = block.replace_module(name, wrapped);
  out.push_back(path.empty() ? name : path + "." + name);
}
}  // namespace detail

template <class T>
AdapterReport add_adapters(nn::Module<T>& model, const AdapterOptions& o = {}) {
  AdapterReport r;
  freeze(model);
  if (o.train_bn) {
    for (auto& [name, m] : model.named_modules())
      if (auto* bn = dynamic_cast<nn::BatchNorm<T>*>(m.get())) {
        bn->freeze_stats = false;
        for (auto& p : bn->parameters()) p.requires_grad_(true);
      }
  } else {
    freeze_batchnorm(model);
  }
  const bool training = model.is_training();
  for (auto& [path, m] : model.named_modules()) {
    if (auto* b = dynamic_cast<models::BasicBlock<T>*>(m.get())) {
      detail::adapt_member(*b, "conv1", b->conv1, path, o, training, r.adapted);
      detail::adapt_member(*b, "conv2", b->conv2, path, o, training, r.adapted);
    } else if (auto* bt = dynamic_cast<models::Bottleneck<T>*>(m.get())) {
      detail::adapt_member(*bt, "conv2", bt->conv2, path, o, training, r.adapted);
    }
  }
  TL_CHECK(!r.adapted.empty(), "transfer::add_adapters: ", model.type_name(),
           " contains no tl::models BasicBlock or Bottleneck to adapt");
  if (o.train_head) unfreeze(model, o.head);
  r.params = count_parameters(model);
  return r;
}

template <class M>
AdapterReport add_adapters(const std::shared_ptr<M>& model, const AdapterOptions& o = {}) {
  return add_adapters(*model, o);
}

/// Merges every LoRA layer of `model` into its base weight (inference at the base cost); returns how many.
template <class T>
size_t merge_lora(nn::Module<T>& model, bool merge = true) {
  size_t n = 0;
  for (auto& [name, m] : model.named_modules()) {
    if (auto* c = dynamic_cast<LoRAConv2d<T>*>(m.get()); c && c->merged() != merge) {
      merge ? c->merge() : c->unmerge();
      ++n;
    } else if (auto* l = dynamic_cast<LoRALinear<T>*>(m.get()); l && l->merged() != merge) {
      merge ? l->merge() : l->unmerge();
      ++n;
    }
  }
  return n;
}
template <class T>
size_t unmerge_lora(nn::Module<T>& model) {
  return merge_lora(model, false);
}

}  // namespace tl::transfer
