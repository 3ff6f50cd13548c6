#pragma once
// tl::nn::Sequential: runs its children in order, each child's output feeding the next.
// Children are named "0", "1", ... (or given names), like torch.nn.Sequential:
//
//   auto net = std::make_shared<tl::nn::Sequential<float>>(
//       std::make_shared<tl::nn::Linear<float>>(4, 8), std::make_shared<tl::nn::ReLU<float>>());
//   net->push_back(std::make_shared<tl::nn::Linear<float>>(8, 2));
//   auto y = net->forward(x);   // (*net)[0] is the first Linear
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tl/nn/module.hpp"

namespace tl::nn {

template <class T = float>
class Sequential : public Module<T> {
 public:
  using Ptr = typename Module<T>::Ptr;
  using NamedModules = std::vector<std::pair<std::string, Ptr>>;

  Sequential() = default;
  Sequential(std::initializer_list<Ptr> modules) {
    for (const auto& m : modules) push_back(m);
  }
  explicit Sequential(const std::vector<Ptr>& modules) {
    for (const auto& m : modules) push_back(m);
  }
  /// Sequential(a, b, c) with any module types (works with std::make_shared).
  template <class... Ms>
    requires(sizeof...(Ms) > 0 && (std::is_base_of_v<Module<T>, Ms> && ...))
  explicit Sequential(std::shared_ptr<Ms>... modules) {
    (push_back(Ptr(std::move(modules))), ...);
  }
  /// Named children in order, like Sequential(OrderedDict(...)).
  explicit Sequential(const NamedModules& named) {
    for (const auto& [name, m] : named) push_back(name, m);
  }

  /// Appends a module named by its position.
  void push_back(Ptr m) { push_back(std::to_string(size()), std::move(m)); }
  void push_back(const std::string& name, Ptr m) {
    this->register_module(name, std::move(m));
    modules_ = this->children();
  }
  /// PyTorch's name for push_back.
  void append(Ptr m) { push_back(std::move(m)); }

  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  /// The i-th module; negative i counts from the end.
  Ptr operator[](int64_t i) const { return modules_[index(i)]; }
  Ptr at(int64_t i) const { return modules_[index(i)]; }
  /// The i-th module as its concrete type; throws if it is another type.
  template <class M>
  std::shared_ptr<M> at(int64_t i) const {
    auto m = std::dynamic_pointer_cast<M>(modules_[index(i)]);
    TL_CHECK(m != nullptr, "Sequential: module ", i, " is a ", modules_[index(i)]->type_name(),
             ", not the requested type");
    return m;
  }
  typename std::vector<Ptr>::const_iterator begin() const { return modules_.begin(); }
  typename std::vector<Ptr>::const_iterator end() const { return modules_.end(); }

  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> y = x;
    for (const auto& m : modules_) y = m->forward(y);
    return y;
  }
  std::string type_name() const override { return "Sequential"; }

 private:
  size_t index(int64_t i) const {
    const auto n = static_cast<int64_t>(modules_.size());
    TL_CHECK(i >= -n && i < n, "Sequential: index ", i, " is out of range for ", n, " modules");
    return static_cast<size_t>(i < 0 ? i + n : i);
  }
  std::vector<Ptr> modules_;  // the children, in order (kept in sync with registration)
};

}  // namespace tl::nn
