#pragma once
// tl::nn::Module: the base of every layer and model, like torch::nn::Module.
//
// A module registers its parameters, buffers and submodules by name in its constructor:
//
//   weight = register_parameter("weight", tl::empty<T>({out, in}));
//   running_mean = register_buffer("running_mean", tl::zeros<T>({n}));
//   fc = register_module("fc", std::make_shared<Linear<T>>(512, 10));
//
// and overrides forward(). Names nest with dots like PyTorch's: "layer1.0.conv1.weight".
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tl/autograd/grad_mode.hpp"
#include "tl/core/state_dict.hpp"
#include "tl/core/tensor.hpp"

namespace tl::nn {

template <class T>
class Module : public std::enable_shared_from_this<Module<T>> {
 public:
  using Ptr = std::shared_ptr<Module<T>>;
  template <class V>
  using Named = std::vector<std::pair<std::string, V>>;

  virtual ~Module() = default;

  /// The single-tensor forward pass. Modules with other signatures add their own overloads.
  virtual Tensor<T> forward(const Tensor<T>& x) {
    (void)x;
    detail::fail(type_name(), ": this module has no single-tensor forward()");
  }
  Tensor<T> operator()(const Tensor<T>& x) { return forward(x); }

  /// The module's type, e.g. "Conv2d" (used in errors and printing).
  virtual std::string type_name() const { return "Module"; }
  /// Extra text for printing, e.g. "3, 16, kernel_size=3".
  virtual std::string extra_repr() const { return ""; }

  // ---- registration ----
  Tensor<T>& register_parameter(const std::string& name, Tensor<T> t, bool requires_grad = true) {
    check_new_name(name);
    if (t.defined()) t.requires_grad_(requires_grad);
    params_.emplace_back(name, std::move(t));
    return params_.back().second;
  }
  Tensor<T>& register_buffer(const std::string& name, Tensor<T> t, bool integer = false) {
    check_new_name(name);
    buffers_.push_back({name, std::move(t), integer});
    return buffers_.back().tensor;
  }
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    check_new_name(name);
    TL_CHECK(m != nullptr, type_name(), ": register_module('", name, "') got a null module");
    children_.emplace_back(name, m);
    return m;
  }
  /// Swaps the submodule registered as `name` (e.g. a new head); the caller updates any typed member.
  template <class M>
  std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> m) {
    TL_CHECK(m != nullptr, type_name(), ": replace_module('", name, "') got a null module");
    for (auto& [n, c] : children_)
      if (n == name) {
        c = m;
        return m;
      }
    detail::fail(type_name(), ": replace_module: no submodule named '", name, "'");
  }
  /// Points the registered parameter `name` at another tensor (e.g. after merging LoRA weights).
  void replace_parameter(const std::string& name, Tensor<T> t) {
    for (auto& [n, p] : params_)
      if (n == name) {
        p = std::move(t);
        return;
      }
    detail::fail(type_name(), ": replace_parameter: no parameter named '", name, "'");
  }

  // ---- queries ----
  Named<Tensor<T>> named_parameters(bool recurse = true) const {
    Named<Tensor<T>> out;
    visit("", recurse, [&](const std::string& prefix, const Module& m) {
      for (const auto& [n, p] : m.params_)
        if (p.defined()) out.emplace_back(prefix + n, p);
    });
    return out;
  }
  std::vector<Tensor<T>> parameters(bool recurse = true) const {
    std::vector<Tensor<T>> out;
    for (auto& [n, p] : named_parameters(recurse)) out.push_back(p);
    return out;
  }
  Named<Tensor<T>> named_buffers(bool recurse = true) const {
    Named<Tensor<T>> out;
    visit("", recurse, [&](const std::string& prefix, const Module& m) {
      for (const auto& b : m.buffers_)
        if (b.tensor.defined()) out.emplace_back(prefix + b.name, b.tensor);
    });
    return out;
  }
  std::vector<Tensor<T>> buffers(bool recurse = true) const {
    std::vector<Tensor<T>> out;
    for (auto& [n, b] : named_buffers(recurse)) out.push_back(b);
    return out;
  }
  Named<Ptr> named_children() const { return children_; }
  std::vector<Ptr> children() const {
    std::vector<Ptr> out;
    for (auto& [n, c] : children_) out.push_back(c);
    return out;
  }
  /// This module (name "") and every descendant, depth first, with dotted names.
  Named<Ptr> named_modules() {
    Named<Ptr> out;
    collect_modules("", out);
    return out;
  }
  /// The submodule at a dotted path ("layer1.0.conv1"); throws if there is none.
  Ptr get_submodule(const std::string& path) {
    Ptr cur = this->shared_from_this();
    std::stringstream ss(path);
    std::string part;
    while (std::getline(ss, part, '.')) {
      Ptr next;
      for (auto& [n, c] : cur->children_)
        if (n == part) next = c;
      TL_CHECK(next != nullptr, type_name(), ": no submodule '", path, "' (missing '", part, "')");
      cur = next;
    }
    return cur;
  }

  // ---- modes ----
  virtual void train(bool on = true) {
    training_ = on;
    for (auto& [n, c] : children_) c->train(on);
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Drops every parameter's gradient.
  void zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
  }

  // ---- state ----
  /// Parameters and buffers by dotted name, sharing storage with the module.
  StateDict<T> state_dict() const {
    StateDict<T> sd;
    visit("", true, [&](const std::string& prefix, const Module& m) {
      for (const auto& [n, p] : m.params_)
        if (p.defined()) sd.insert(prefix + n, p.detach());
      for (const auto& b : m.buffers_)
        if (b.tensor.defined()) sd.insert(prefix + b.name, b.tensor.detach(), b.integer);
    });
    return sd;
  }

  struct LoadResult {
    std::vector<std::string> missing_keys, unexpected_keys;
  };

  /// Copies values from sd into this module's parameters and buffers.
  /// Shape mismatches always throw (as in PyTorch); with strict, so do missing and unexpected keys.
  /// Everything wrong is listed in one tl::Error.
  LoadResult load_state_dict(const StateDict<T>& sd, bool strict = true) {
    LoadResult r;
    std::vector<std::string> mismatched;
    auto mine = state_dict();
    for (const auto& e : mine) {
      if (!sd.contains(e.name)) {
        r.missing_keys.push_back(e.name);
      } else if (sd.at(e.name).shape() != e.tensor.shape()) {
        mismatched.push_back(e.name + ": expected " + shape_str(e.tensor.shape()) + ", file has " +
                             shape_str(sd.at(e.name).shape()));
      }
    }
    for (const auto& e : sd)
      if (!mine.contains(e.name)) r.unexpected_keys.push_back(e.name);
    bool bad = !mismatched.empty() || (strict && (!r.missing_keys.empty() || !r.unexpected_keys.empty()));
    if (bad) {
      std::ostringstream s;
      s << "load_state_dict: error(s) loading state_dict for " << type_name() << ":";
      if (strict && !r.missing_keys.empty()) s << "\n  missing keys: " << join(r.missing_keys);
      if (strict && !r.unexpected_keys.empty()) s << "\n  unexpected keys: " << join(r.unexpected_keys);
      if (!mismatched.empty()) s << "\n  size mismatch: " << join(mismatched);
      throw Error(s.str());
    }
    NoGradGuard no_grad;
    for (auto& e : mine)
      if (sd.contains(e.name)) e.tensor.copy_(sd.at(e.name));
    return r;
  }

  /// A PyTorch-like printout of the module tree.
  std::string repr(int indent = 0) const {
    std::ostringstream s;
    s << type_name() << "(" << extra_repr();
    if (!children_.empty()) {
      s << "\n";
      for (auto& [n, c] : children_)
        s << std::string(static_cast<size_t>(indent + 2), ' ') << "(" << n << "): " << c->repr(indent + 2) << "\n";
      s << std::string(static_cast<size_t>(indent), ' ');
    }
    s << ")";
    return s.str();
  }

 protected:
  Module() = default;

 private:
  struct Buffer {
    std::string name;
    Tensor<T> tensor;
    bool integer;
  };

  void check_new_name(const std::string& name) const {
    TL_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid name '", name,
             "' (must be non-empty, without dots)");
    for (auto& [n, p] : params_) TL_CHECK(n != name, type_name(), ": '", name, "' is already registered");
    for (auto& b : buffers_) TL_CHECK(b.name != name, type_name(), ": '", name, "' is already registered");
    for (auto& [n, c] : children_) TL_CHECK(n != name, type_name(), ": '", name, "' is already registered");
  }
  template <class F>
  void visit(const std::string& prefix, bool recurse, F&& f) const {
    f(prefix, *this);
    if (!recurse) return;
    for (const auto& [n, c] : children_) c->visit(prefix + n + ".", true, f);
  }
  void collect_modules(const std::string& prefix, Named<Ptr>& out) {
    out.emplace_back(prefix, this->shared_from_this());
    for (auto& [n, c] : children_) c->collect_modules(prefix.empty() ? n : prefix + "." + n, out);
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string r;
    for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + v[i];
    return r;
  }

  Named<Tensor<T>> params_;
  std::vector<Buffer> buffers_;
  Named<Ptr> children_;
  bool training_ = true;
};

}  // namespace tl::nn
