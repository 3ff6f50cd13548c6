#pragma once
// The backward pass: a topological walk from the root, summing gradients that meet at a node,
// accumulating into leaves' .grad, freeing each node's saved tensors as it goes.
#include <algorithm>
#include <unordered_map>
#include <vector>

#include "tl/autograd/node.hpp"

namespace tl {

namespace detail {

/// dst += src (same shape; dst contiguous and owned by the engine or a leaf's .grad).
template <class T>
void accumulate_into(Tensor<T>& dst, const Tensor<T>& src) {
  auto s = src.is_contiguous() ? src : Tensor<T>(src.to_vector(), src.shape());
  T* d = dst.data();
  const T* p = s.data();
  const int64_t n = dst.numel();
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) d[i] += p[i];
}

/// A private, contiguous copy of g (so later in-place accumulation never touches user data).
template <class T>
Tensor<T> owned_copy(const Tensor<T>& g) {
  auto out = Tensor<T>::uninitialized(g.shape());  // one pass (no zero-fill, no staging vector)
  if (g.is_contiguous()) std::copy(g.data(), g.data() + g.numel(), out.data());
  else detail::gather_strided(g.data(), g.shape(), g.strides(), out.data());
  return out;
}

/// True when g is a dense tensor that nothing else refers to: a backward's fresh result, which a
/// leaf may keep as its .grad without a copy (11M gradients per ResNet-18 step are not copied).
template <class T>
bool exclusively_owned(const Tensor<T>& g) {
  const auto& impl = g.impl();
  return impl && impl.use_count() == 1 && impl->storage.use_count() == 1 && impl->offset == 0 && !impl->grad_fn &&
         !impl->requires_grad && g.is_contiguous() && impl->storage->size() == static_cast<std::size_t>(g.numel());
}

/// Adds g to the leaf's .grad (a private copy of g when it has none). may_adopt: g came from a node's
/// backward (never a user's tensor), so an exclusively owned g is adopted instead of copied.
template <class T>
void accumulate_leaf(TensorImpl<T>& leaf, const Tensor<T>& g, bool may_adopt = false) {
  TL_CHECK(g.shape() == leaf.shape, "backward: gradient of shape ", shape_str(g.shape()),
           " for a leaf of shape ", shape_str(leaf.shape));
  if (!leaf.grad) {
    leaf.grad = may_adopt && exclusively_owned(g) ? g.impl() : owned_copy(g).impl();
  } else {
    Tensor<T> acc(leaf.grad);
    accumulate_into(acc, g);
  }
}

template <class T>
void run_backward(const Tensor<T>& root, const Tensor<T>& grad, bool retain_graph) {
  TL_CHECK(root.requires_grad(), "backward: the tensor does not require grad and has no grad_fn");
  TL_CHECK(grad.shape() == root.shape(), "backward: gradient shape ", shape_str(grad.shape()),
           " does not match the tensor's shape ", shape_str(root.shape()));
  NoGradGuard no_grad;
  if (!root.grad_fn()) {  // a leaf: its gradient is the given one
    accumulate_leaf(*root.impl(), grad);
    return;
  }
  // Count, for every reachable node, how many edges point to it.
  std::unordered_map<Node<T>*, int> deps;
  std::vector<Node<T>*> stack{root.grad_fn().get()};
  deps[root.grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node<T>* n = stack.back();
    stack.pop_back();
    for (auto& e : n->next_edges) {
      if (!e.fn) continue;
      auto [it, fresh] = deps.try_emplace(e.fn.get(), 0);
      ++it->second;
      if (fresh) stack.push_back(e.fn.get());
    }
  }
  std::unordered_map<Node<T>*, Tensor<T>> pending;
  pending[root.grad_fn().get()] = grad;
  std::vector<Node<T>*> ready{root.grad_fn().get()};
  while (!ready.empty()) {
    Node<T>* n = ready.back();
    ready.pop_back();
    Tensor<T> g = std::move(pending[n]);
    pending.erase(n);
    TL_CHECK(!n->released, "backward: trying to go through ", n->name(),
             " a second time; its saved tensors were freed (pass retain_graph = true the first time)");
    std::vector<Tensor<T>> grads = n->backward(g);
    TL_CHECK(grads.size() == n->next_edges.size(), "backward: ", n->name(), " returned ", grads.size(),
             " gradients for ", n->next_edges.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      auto& e = n->next_edges[i];
      if (e.leaf) {
        if (grads[i].defined()) accumulate_leaf(*e.leaf, grads[i], /*may_adopt=*/true);
      } else if (e.fn) {
        Node<T>* next = e.fn.get();
        if (grads[i].defined()) {
          auto it = pending.find(next);
          if (it == pending.end()) pending.emplace(next, grads[i]);
          else {
            if (it->second.impl().use_count() > 1 || it->second.impl()->storage.use_count() > 1 ||
                !it->second.is_contiguous())
              it->second = owned_copy(it->second);
            accumulate_into(it->second, grads[i]);
          }
        }
        if (--deps[next] == 0) {
          if (pending.find(next) != pending.end()) ready.push_back(next);
        }
      }
    }
    if (!retain_graph) {
      n->release();
      n->released = true;
    }
  }
}

}  // namespace detail

template <class T>
void Tensor<T>::backward() const {
  TL_CHECK(numel() == 1, "backward: grad can be implicitly created only for scalar outputs, got shape ",
           shape_str(shape()));
  detail::run_backward(*this, ones<T>(shape()), false);
}

template <class T>
void Tensor<T>::backward(const Tensor<T>& grad, bool retain_graph) const {
  detail::run_backward(*this, grad, retain_graph);
}

}  // namespace tl
