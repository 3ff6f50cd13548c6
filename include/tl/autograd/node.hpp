#pragma once
// The graph: each differentiable op's result points to a Node that knows the op's backward.
//
// An op records itself like this (see ops/binary.hpp for real ones):
//
//   auto out = ...compute with a kernel...;
//   if (needs_grad(a, b)) record(out, std::make_shared<MulBackward<T>>(a.detach(), b.detach()), a, b);
//
// Rules: a node saves *detached* tensors (never its own output with its grad_fn, which would make
// a cycle), backward() returns one gradient per input in the order given to record(), each of its
// input's exact shape, or an undefined tensor when that input needs none.
#include <memory>
#include <string>
#include <vector>

#include "tl/autograd/grad_mode.hpp"
#include "tl/core/tensor.hpp"

namespace tl {

/// Where a gradient flows next: into another node, or into a leaf's .grad.
template <class T>
struct Edge {
  std::shared_ptr<Node<T>> fn;
  std::shared_ptr<TensorImpl<T>> leaf;
  bool active() const { return fn || leaf; }
};

template <class T>
struct Node {
  virtual ~Node() = default;
  /// Gradients w.r.t. each input, given the gradient w.r.t. the output.
  virtual std::vector<Tensor<T>> backward(const Tensor<T>& grad_output) = 0;
  virtual std::string name() const = 0;
  /// Frees saved tensors after a backward without retain_graph.
  virtual void release() {}

  std::vector<Edge<T>> next_edges;  // one per input
  bool released = false;
};

/// True when grad mode is on and any input requires grad: only then is a node recorded.
template <class T, class... Ts>
bool needs_grad(const Tensor<T>& first, const Ts&... rest) {
  if (!GradMode::is_enabled()) return false;
  bool any = first.defined() && first.requires_grad();
  ((any = any || (rest.defined() && rest.requires_grad())), ...);
  return any;
}
template <class T>
bool needs_grad_any(const std::vector<Tensor<T>>& ts) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

template <class T>
Edge<T> edge_of(const Tensor<T>& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn(), nullptr};
  return {nullptr, t.impl()};
}

/// Links `out` to `node`, whose inputs are `inputs...` (in backward()'s order).
template <class T, class... Ts>
void record(Tensor<T>& out, std::shared_ptr<Node<T>> node, const Ts&... inputs) {
  (node->next_edges.push_back(edge_of(inputs)), ...);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}
template <class T>
void record_list(Tensor<T>& out, std::shared_ptr<Node<T>> node, const std::vector<Tensor<T>>& inputs) {
  for (const auto& t : inputs) node->next_edges.push_back(edge_of(t));
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

}  // namespace tl
