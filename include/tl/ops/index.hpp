#pragma once
// Indexing with int64 index tensors: gather, index_select (both differentiable, backward by
// scatter-add) and one_hot. Every index is bounds-checked before any data is touched.
#include <string>

#include "tl/kernels/index.hpp"
#include "tl/ops/unary.hpp"

namespace tl {

namespace detail {

/// Dense copy of the indices, each checked to lie in [0, n).
inline Tensor<int64_t> checked_indices(const Tensor<int64_t>& index, int64_t n, const char* op,
                                       const Shape& in_shape, int64_t dim) {
  auto idx = dense(index);
  const int64_t* p = idx.data();
  for (int64_t i = 0; i < idx.numel(); ++i)
    TL_CHECK(p[i] >= 0 && p[i] < n, op, ": index ", p[i], " is out of range for dim ", dim, " of size ", n,
             " (input shape ", shape_str(in_shape), ", index shape ", shape_str(index.shape()), ")");
  return idx;
}

/// x's strides with dim's stride zeroed: walking the index's shape with these gives, per index
/// element, the offset of its row in x; adding idx * stride(dim) picks the element.
inline Shape strides_without(const Shape& strides, int64_t dim) {
  Shape s = strides;
  s[static_cast<size_t>(dim)] = 0;
  return s;
}

template <class T>
struct GatherBackward : Node<T> {
  Shape in_shape;
  int64_t dim;
  Tensor<int64_t> idx;  // dense, checked
  GatherBackward(Shape s, int64_t d, Tensor<int64_t> i) : in_shape(std::move(s)), dim(d), idx(std::move(i)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    auto gd = dense(g);
    auto gx = zeros<T>(in_shape);
    const Shape st = contiguous_strides(in_shape);
    const int64_t sd = st[static_cast<size_t>(dim)];
    const int64_t* pi = idx.data();
    const T* pg = gd.data();
    T* px = gx.data();
    int64_t k = 0;
    for_each_offset(idx.shape(), strides_without(st, dim), [&](int64_t off) {
      px[off + pi[k] * sd] += pg[k];
      ++k;
    });
    return {gx};
  }
  void release() override { idx = Tensor<int64_t>(); }
  std::string name() const override { return "GatherBackward"; }
};

template <class T>
struct IndexSelectBackward : Node<T> {
  Shape in_shape;
  int64_t dim;
  Tensor<int64_t> idx;  // dense, checked, 1-D
  IndexSelectBackward(Shape s, int64_t d, Tensor<int64_t> i) : in_shape(std::move(s)), dim(d), idx(std::move(i)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    auto gd = dense(g);
    auto gx = zeros<T>(in_shape);
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < static_cast<int64_t>(in_shape.size()); ++k) {
      if (k < dim) outer *= in_shape[k];
      if (k > dim) inner *= in_shape[k];
    }
    kernels::index_add_dim(gd.data(), outer, idx.numel(), inner, idx.data(), gx.data(), in_shape[dim]);
    return {gx};
  }
  void release() override { idx = Tensor<int64_t>(); }
  std::string name() const override { return "IndexSelectBackward"; }
};

}  // namespace detail

/// out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (and likewise for other dims), like
/// torch.gather: index has x's number of dims and sizes <= x's except in dim; out has index's shape.
template <class T>
Tensor<T> gather(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index) {
  TL_CHECK(x.dim() >= 1, "gather: expected an input with at least 1 dim, got shape ", shape_str(x.shape()));
  const int64_t d = normalize_dim(dim, x.dim(), "gather");
  TL_CHECK(index.dim() == x.dim(), "gather: index shape ", shape_str(index.shape()),
           " must have as many dims as input shape ", shape_str(x.shape()));
  for (int64_t k = 0; k < x.dim(); ++k)
    TL_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index shape ", shape_str(index.shape()),
             " is larger than input shape ", shape_str(x.shape()), " in dim ", k);
  auto idx = detail::checked_indices(index, x.shape()[d], "gather", x.shape(), d);
  auto out = Tensor<T>::uninitialized(index.shape());
  const T* px = x.data();
  const int64_t* pi = idx.data();
  T* po = out.data();
  const int64_t sd = x.strides()[d];
  int64_t k = 0;
  detail::for_each_offset(idx.shape(), detail::strides_without(x.strides(), d), [&](int64_t off) {
    po[k] = px[off + pi[k] * sd];
    ++k;
  });
  if (needs_grad(x)) record<T>(out, std::make_shared<detail::GatherBackward<T>>(x.shape(), d, idx), x);
  return out;
}

/// The slices of x at `index` (1-D, or 0-d for one) along dim, like torch.index_select.
template <class T>
Tensor<T> index_select(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index) {
  TL_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape ", shape_str(index.shape()));
  TL_CHECK(x.dim() >= 1, "index_select: expected an input with at least 1 dim, got shape ", shape_str(x.shape()));
  const int64_t d = normalize_dim(dim, x.dim(), "index_select");
  auto idx = detail::checked_indices(index, x.shape()[d], "index_select", x.shape(), d);
  Shape os = x.shape();
  os[d] = idx.numel();
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k < d) outer *= os[k];
    if (k > d) inner *= os[k];
  }
  auto xd = detail::dense(x);
  auto out = Tensor<T>::uninitialized(os);
  kernels::index_select_dim(xd.data(), outer, x.shape()[d], inner, idx.data(), idx.numel(), out.data());
  if (needs_grad(x)) record<T>(out, std::make_shared<detail::IndexSelectBackward<T>>(x.shape(), d, idx), x);
  return out;
}

/// One-hot encoding (not differentiable): shape [..., num_classes] with 1 at each value, like
/// torch.nn.functional.one_hot; num_classes = -1 uses max(x) + 1.
inline Tensor<int64_t> one_hot(const Tensor<int64_t>& x, int64_t num_classes = -1) {
  auto v = detail::dense(x);
  const int64_t* p = v.data();
  const int64_t n = v.numel();
  if (num_classes == -1) {
    TL_CHECK(n > 0, "one_hot: cannot infer the number of classes from an empty tensor");
    num_classes = *std::max_element(p, p + n) + 1;
  }
  TL_CHECK(num_classes >= 1, "one_hot: num_classes must be positive or -1, got ", num_classes);
  Shape os = x.shape();
  os.push_back(num_classes);
  auto out = zeros<int64_t>(os);
  for (int64_t i = 0; i < n; ++i) {
    TL_CHECK(p[i] >= 0 && p[i] < num_classes, "one_hot: class value ", p[i], " is out of range [0, ", num_classes,
             ") (input shape ", shape_str(x.shape()), ")");
    out.data()[i * num_classes + p[i]] = 1;
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::gather(int64_t dim, const Tensor<int64_t>& index) const { return tl::gather(*this, dim, index); }
template <class T>
Tensor<T> Tensor<T>::index_select(int64_t dim, const Tensor<int64_t>& index) const {
  return tl::index_select(*this, dim, index);
}

}  // namespace tl
