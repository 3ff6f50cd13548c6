#pragma once
// Heads for a new task, and loading a pretrained backbone whose head does not fit.
//
//   auto model = tl::models::resnet18(10, {.small_input = true});
//   auto report = tl::transfer::load_backbone(*model, "imagenet_resnet18.safetensors");
//   // report.skipped: "fc.weight", "fc.bias" (1000 classes in the file, 10 here)
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "tl/io/load.hpp"
#include "tl/models/resnet.hpp"
#include "tl/nn/module.hpp"
#include "tl/transfer/glob.hpp"

namespace tl::transfer {

/// What load_backbone did: loaded entries, entries of the file it skipped (shape differs, or the
/// name matched a skip pattern), entries of the model the file lacks, and file entries the model lacks.
struct BackboneLoadReport {
  std::vector<std::string> loaded, skipped, missing, unexpected;
  std::string str() const {
    std::ostringstream s;
    s << loaded.size() << " loaded, " << skipped.size() << " skipped, " << missing.size() << " missing, "
      << unexpected.size() << " unexpected";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      s << "\n  " << what << ":";
      for (const auto& n : v) s << " " << n;
    };
    list("skipped", skipped);
    list("missing", missing);
    list("unexpected", unexpected);
    return s.str();
  }
};

struct BackboneLoadOptions {
  /// Globs of entries never loaded (e.g. {"fc.*"} to keep a fresh head even when shapes agree).
  std::vector<std::string> skip{};
  /// Skip entries whose shape differs from the model's instead of failing (the usual new head).
  bool skip_shape_mismatch = true;
  /// Fail when a model entry outside the skipped ones is missing from the file, or the file has
  /// entries the model lacks: catches loading the wrong architecture.
  bool strict_backbone = true;
};

/// Loads `sd` into `model`, skipping what does not fit the new task (see BackboneLoadOptions).
template <class T>
BackboneLoadReport load_backbone(nn::Module<T>& model, const StateDict<T>& sd, const BackboneLoadOptions& o = {}) {
  BackboneLoadReport r;
  auto mine = model.state_dict();
  StateDict<T> keep;
  for (const auto& e : sd) {
    if (!mine.contains(e.name)) {
      r.unexpected.push_back(e.name);
    } else if (glob_match_any(o.skip, e.name) ||
               (o.skip_shape_mismatch && mine.at(e.name).shape() != e.tensor.shape())) {
      r.skipped.push_back(e.name);
    } else {
      keep.insert(e.name, e.tensor, e.integer);
      r.loaded.push_back(e.name);
    }
  }
  for (const auto& e : mine)
    if (!sd.contains(e.name)) r.missing.push_back(e.name);
  TL_CHECK(!o.strict_backbone || (r.missing.empty() && r.unexpected.empty()),
           "transfer::load_backbone: the weights do not fit ", model.type_name(), ": ", r.str());
  model.load_state_dict(keep, /*strict=*/false);
  return r;
}

/// The same from a weights file (.safetensors, .pth; see tl::io::load_state_dict).
template <class T>
BackboneLoadReport load_backbone(nn::Module<T>& model, const std::string& path, const BackboneLoadOptions& o = {},
                                 const io::LoadOptions& io_options = {}) {
  return load_backbone(model, io::load_state_dict<T>(path, io_options), o);
}

/// A fresh Linear head for `num_classes` on a ResNet (its fc), initialised from `gen` when given.
template <class T>
std::shared_ptr<nn::Linear<T>> replace_head(models::ResNet<T>& model, int64_t num_classes, Generator* gen = nullptr) {
  auto fc = model.reset_classifier(num_classes);
  if (gen) fc->reset_parameters(*gen);
  return fc;
}

}  // namespace tl::transfer
