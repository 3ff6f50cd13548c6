#pragma once
// Discriminative learning rates and gradual unfreezing.
//
//   // head at 1e-2, everything else at 1e-3 (first matching rule wins; "*" catches the rest):
//   auto groups = tl::transfer::param_groups_by_pattern(*model, {{"fc.*", 1e-2}, {"*", 1e-3}});
//   tl::optim::SGD<float> opt(groups, {.lr = 1e-2, .momentum = 0.9});
//   // Adam: param_groups_by_pattern<tl::optim::AdamOptions>(*model, rules)
//
//   // last stage first: layer4 at epoch 1, layer3 at 2, ... (fastai / ULMFiT style)
//   tl::transfer::GradualUnfreezer<float> unfreezer(model, tl::transfer::resnet_unfreeze_stages(1, 1));
//   for (epoch ...) { unfreezer.step(epoch, opt); ... }
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tl/optim/optimizer.hpp"
#include "tl/optim/sgd.hpp"
#include "tl/transfer/freeze.hpp"

namespace tl::transfer {

/// Parameters whose name matches `pattern` train at `lr` (and `weight_decay` when given).
struct LrRule {
  std::string pattern;
  double lr = 0;
  std::optional<double> weight_decay{};
};

/// One optimizer group per rule, in rule order, each holding the trainable parameters whose first
/// matching rule it is. Rules that catch nothing give no group (optimizers reject empty groups). A
/// trainable parameter that matches no rule is an error, so that none is silently left untrained.
/// Frozen parameters are left out (with trainable_only), as the optimizer should hold only what trains.
template <class Options = optim::SGDOptions, class T>
std::vector<optim::ParamGroupSpec<T, Options>> param_groups_by_pattern(const nn::Module<T>& model,
                                                                       const std::vector<LrRule>& rules,
                                                                       bool trainable_only = true) {
  TL_CHECK(!rules.empty(), "transfer::param_groups_by_pattern: no rules given");
  std::vector<std::vector<Tensor<T>>> buckets(rules.size());
  for (auto& [name, p] : model.named_parameters()) {
    if (trainable_only && !p.requires_grad()) continue;
    size_t r = 0;
    while (r < rules.size() && !glob_match(rules[r].pattern, name)) ++r;
    TL_CHECK(r < rules.size(), "transfer::param_groups_by_pattern: parameter '", name,
             "' matches no rule (add {\"*\", lr} last to catch the rest)");
    buckets[r].push_back(p);
  }
  std::vector<optim::ParamGroupSpec<T, Options>> out;
  for (size_t r = 0; r < rules.size(); ++r)
    if (!buckets[r].empty())
      out.push_back({.params = buckets[r], .lr = rules[r].lr, .weight_decay = rules[r].weight_decay});
  return out;
}

template <class Options = optim::SGDOptions, class M>
auto param_groups_by_pattern(const std::shared_ptr<M>& m, const std::vector<LrRule>& rules,
                             bool trainable_only = true) {
  return param_groups_by_pattern<Options>(*m, rules, trainable_only);
}

/// One step of a gradual-unfreezing schedule: at the start of `epoch`, the parameters matching
/// `pattern` become trainable and join the optimizer as a new group (at `lr` if given, else at the
/// optimizer's default lr).
struct UnfreezeStage {
  int64_t epoch = 0;
  std::string pattern;
  std::optional<double> lr{};
};

/// ResNet's stages from the top: layer4 at first_epoch, layer3 at first_epoch + every, ..., then
/// the stem (conv1, bn1). lr_decay multiplies the lr of each deeper stage (nullopt: default lr).
inline std::vector<UnfreezeStage> resnet_unfreeze_stages(int64_t first_epoch, int64_t every = 1,
                                                         std::optional<double> lr = std::nullopt,
                                                         double lr_decay = 1.0) {
  std::vector<UnfreezeStage> s;
  const char* names[] = {"layer4.*", "layer3.*", "layer2.*", "layer1.*", "bn1.*", "conv1.*"};
  for (int i = 0; i < 6; ++i) {
    const int64_t stage = i < 4 ? i : 4;  // the stem's conv1 and bn1 thaw together
    std::optional<double> l = lr;
    for (int64_t k = 0; l && k < stage; ++k) *l *= lr_decay;
    s.push_back({first_epoch + stage * every, names[i], l});
  }
  return s;
}

/// Applies an UnfreezeStage schedule. Call step(epoch, optimizer) at the start of every epoch (any
/// order of stages; a stage whose epoch has come is applied once). Parameters that were trainable
/// already (e.g. the head) are not added twice.
template <class T>
class GradualUnfreezer {
 public:
  GradualUnfreezer(std::shared_ptr<nn::Module<T>> model, std::vector<UnfreezeStage> stages)
      : model_(std::move(model)), stages_(std::move(stages)), done_(stages_.size(), false) {
    TL_CHECK(model_ != nullptr, "transfer::GradualUnfreezer: null model");
  }

  /// Unfreezes the due stages and adds their parameters to `opt`; returns how many tensors joined.
  template <class Options>
  size_t step(int64_t epoch, optim::OptimizerImpl<T, Options>& opt) {
    size_t added = 0;
    for (size_t i = 0; i < stages_.size(); ++i) {
      if (done_[i] || stages_[i].epoch > epoch) continue;
      done_[i] = true;
      std::vector<Tensor<T>> fresh;
      for (auto& [name, p] : model_->named_parameters())
        if (!p.requires_grad() && glob_match(stages_[i].pattern, name)) {
          p.requires_grad_(true);
          fresh.push_back(p);
        }
      // BatchNorms of a thawed stage train again (statistics included).
      for (auto& [name, m] : model_->named_modules())
        if (auto* bn = dynamic_cast<nn::BatchNorm<T>*>(m.get());
            bn && bn->freeze_stats && glob_match(stages_[i].pattern, name + ".weight")) {
          bn->freeze_stats = false;
          bn->train(model_->is_training());
        }
      if (fresh.empty()) continue;
      added += fresh.size();
      opt.add_param_group({.params = fresh, .lr = stages_[i].lr});
    }
    return added;
  }

  /// How many stages have been applied.
  size_t stages_done() const {
    size_t n = 0;
    for (bool d : done_) n += d;
    return n;
  }

 private:
  std::shared_ptr<nn::Module<T>> model_;
  std::vector<UnfreezeStage> stages_;
  std::vector<bool> done_;
};

}  // namespace tl::transfer
