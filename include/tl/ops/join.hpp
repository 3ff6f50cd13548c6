#pragma once
// Joining tensors: cat (along an existing dim) and stack (along a new dim), like torch.cat/stack.
#include <algorithm>

#include "tl/ops/unary.hpp"

namespace tl {

namespace detail {

/// Splits the gradient of a cat back into one dense piece per input.
template <class T>
struct CatBackward : Node<T> {
  int64_t dim;
  std::vector<int64_t> sizes;
  CatBackward(int64_t d, std::vector<int64_t> s) : dim(d), sizes(std::move(s)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    std::vector<Tensor<T>> out(sizes.size());
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (this->next_edges[i].active()) out[i] = dense(g.narrow(dim, off, sizes[i]));
      off += sizes[i];
    }
    return out;
  }
  std::string name() const override { return "CatBackward"; }
};

}  // namespace detail

/// Concatenates tensors along dim; all must have the same sizes except in dim.
template <class T>
Tensor<T> cat(const std::vector<Tensor<T>>& ts, int64_t dim = 0) {
  TL_CHECK(!ts.empty(), "cat: expected a non-empty list of tensors");
  const Shape& s0 = ts[0].shape();
  TL_CHECK(!s0.empty(), "cat: zero-dimensional tensor (at position 0) cannot be concatenated");
  const int64_t d = normalize_dim(dim, ts[0].dim(), "cat");
  Shape os = s0;
  os[d] = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Shape& s = ts[i].shape();
    bool ok = s.size() == s0.size();
    for (size_t k = 0; ok && k < s.size(); ++k) ok = static_cast<int64_t>(k) == d || s[k] == s0[k];
    TL_CHECK(ok, "cat: tensor 0 of shape ", shape_str(s0), " and tensor ", i, " of shape ", shape_str(s),
             " must match in every dim except dim ", d);
    sizes.push_back(s[d]);
    os[d] += s[d];
  }
  auto out = Tensor<T>::uninitialized(os);
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= os[k];
  for (size_t k = static_cast<size_t>(d) + 1; k < os.size(); ++k) inner *= os[k];
  const int64_t row = os[d] * inner;  // elements of out per outer index
  int64_t off = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    auto src = detail::dense(ts[i]);
    const int64_t block = sizes[i] * inner;
    const T* p = src.data();
    T* q = out.data() + off * inner;
    for (int64_t o = 0; o < outer; ++o) std::copy_n(p + o * block, block, q + o * row);
    off += sizes[i];
  }
  if (needs_grad_any(ts)) record_list<T>(out, std::make_shared<detail::CatBackward<T>>(d, sizes), ts);
  return out;
}

/// Stacks tensors of one shape along a new dim (0 <= dim <= ndim, or negative).
template <class T>
Tensor<T> stack(const std::vector<Tensor<T>>& ts, int64_t dim = 0) {
  TL_CHECK(!ts.empty(), "stack: expected a non-empty list of tensors");
  const int64_t d = normalize_dim(dim, ts[0].dim() + 1, "stack");
  std::vector<Tensor<T>> parts;
  parts.reserve(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    TL_CHECK(ts[i].shape() == ts[0].shape(), "stack: tensor 0 of shape ", shape_str(ts[0].shape()), " and tensor ",
             i, " of shape ", shape_str(ts[i].shape()), " must have the same shape");
    parts.push_back(ts[i].unsqueeze(d));
  }
  return cat(parts, d);
}

}  // namespace tl
