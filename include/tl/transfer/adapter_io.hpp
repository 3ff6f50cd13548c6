#pragma once
// One backbone file, many small task files: an adapter set saved alone.
//
//   tl::transfer::save_adapters("task_a.safetensors", *model);   // adapters + head (+ trained BNs)
//   // later: the same pretrained backbone, adapted the same way, then
//   tl::transfer::load_adapters("task_a.safetensors", *model);   // same outputs, bit for bit
//
// What is saved: every trainable parameter, plus the buffers (BN running statistics) of each module
// that owns one; frozen pretrained tensors are not. Call it while the task's parameters are still
// the trainable ones (as add_adapters left them).
#include <set>
#include <string>

#include "tl/io/safetensors.hpp"
#include "tl/nn/module.hpp"

namespace tl::transfer {

inline constexpr const char* kAdapterFormat = "tl.adapters.v1";

/// The adapter set of `model` as a StateDict (shares storage with the model).
template <class T>
StateDict<T> adapter_state_dict(const nn::Module<T>& model) {
  auto owner = [](const std::string& name) {
    auto dot = name.rfind('.');
    return dot == std::string::npos ? std::string() : name.substr(0, dot);
  };
  std::set<std::string> trainable, owners;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) trainable.insert(name), owners.insert(owner(name));
  TL_CHECK(!trainable.empty(), "transfer::adapter_state_dict: ", model.type_name(),
           " has no trainable parameter (nothing to save; call it before freezing the task's parameters)");
  std::set<std::string> buffers;
  for (auto& [name, b] : model.named_buffers())
    if (owners.count(owner(name))) buffers.insert(name);
  StateDict<T> out;
  for (const auto& e : model.state_dict())
    if (trainable.count(e.name) || buffers.count(e.name)) out.insert(e.name, e.tensor, e.integer);
  return out;
}

/// Writes the adapter set to a safetensors file (metadata format = tl.adapters.v1, plus `metadata`).
template <class T>
size_t save_adapters(const std::string& path, const nn::Module<T>& model,
                     std::map<std::string, std::string> metadata = {}) {
  auto sd = adapter_state_dict(model);
  metadata["format"] = kAdapterFormat;
  io::save_safetensors(path, sd, metadata);
  return sd.size();
}

/// Loads an adapter set into a model adapted the same way; every tensor of the file must exist in
/// the model with the same shape (a file for another architecture or adapter kind is an error).
template <class T>
size_t load_adapters(const std::string& path, nn::Module<T>& model) {
  auto sd = io::load_safetensors<T>(path);
  auto it = sd.metadata.find("format");
  TL_CHECK(it != sd.metadata.end() && it->second == kAdapterFormat, "transfer::load_adapters: ", path,
           " is not an adapter file (no __metadata__ format = ", kAdapterFormat, ")");
  auto res = model.load_state_dict(sd, /*strict=*/false);  // throws on shape mismatch
  if (!res.unexpected_keys.empty()) {
    std::string keys;
    for (const auto& k : res.unexpected_keys) keys += " " + k;
    tl::detail::fail("transfer::load_adapters: ", path, " has tensors the model lacks (adapt the model the same way "
                     "first):", keys);
  }
  return sd.size();
}

template <class M>
size_t save_adapters(const std::string& path, const std::shared_ptr<M>& m,
                     std::map<std::string, std::string> metadata = {}) {
  return save_adapters(path, *m, std::move(metadata));
}
template <class M>
size_t load_adapters(const std::string& path, const std::shared_ptr<M>& m) {
  return load_adapters(path, *m);
}

}  // namespace tl::transfer
