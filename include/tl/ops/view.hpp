#pragma once
// Views: reshape/view, flatten, transpose/permute, narrow/slice/select, (un)squeeze, expand,
// plus contiguous() and clone(). A view shares storage; its backward maps the gradient back.
#include <functional>
#include <numeric>

#include "tl/autograd/node.hpp"
#include "tl/kernels/elementwise.hpp"

namespace tl {

/// Sums g over broadcast dims so that it has `shape` (the backward of broadcasting).
template <class T>
Tensor<T> sum_to(const Tensor<T>& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  TL_CHECK(broadcast_shapes(shape, g.shape(), "sum_to") == g.shape(), "sum_to: cannot reduce shape ",
           shape_str(g.shape()), " to ", shape_str(shape));
  auto out = Tensor<T>::uninitialized(shape);
  kernels::sum_to(g.data(), g.shape(), g.strides(), out.data(), shape);
  return out;
}

namespace detail {

template <class T>
struct ReshapeBackward : Node<T> {
  Shape in_shape;
  explicit ReshapeBackward(Shape s) : in_shape(std::move(s)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return {g.reshape(in_shape)}; }
  std::string name() const override { return "ReshapeBackward"; }
};

template <class T>
struct PermuteBackward : Node<T> {
  Shape inverse;
  explicit PermuteBackward(Shape inv) : inverse(std::move(inv)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return {g.permute(inverse)}; }
  std::string name() const override { return "PermuteBackward"; }
};

/// Backward of a view that picks a subset of elements (narrow, slice, select):
/// scatter the gradient into zeros of the input's shape through the same view.
template <class T>
struct SubsetViewBackward : Node<T> {
  Shape in_shape;
  std::function<Tensor<T>(const Tensor<T>&)> same_view;
  std::string op;
  SubsetViewBackward(Shape s, std::function<Tensor<T>(const Tensor<T>&)> f, std::string o)
      : in_shape(std::move(s)), same_view(std::move(f)), op(std::move(o)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    auto z = zeros<T>(in_shape);
    same_view(z).copy_(g);
    return {z};
  }
  std::string name() const override { return op + "Backward"; }
};

template <class T>
struct ExpandBackward : Node<T> {
  Shape in_shape;
  explicit ExpandBackward(Shape s) : in_shape(std::move(s)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return {sum_to(g, in_shape)}; }
  std::string name() const override { return "ExpandBackward"; }
};

template <class T>
struct CopyBackward : Node<T> {
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return {g}; }
  std::string name() const override { return "CloneBackward"; }
};

/// Resolves one -1 in a requested shape against numel.
inline Shape infer_shape(const Shape& req, int64_t numel, const Shape& from, const char* op) {
  Shape s = req;
  int64_t known = 1, neg = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      TL_CHECK(neg < 0, op, ": only one dimension can be -1, got ", shape_str(req));
      neg = static_cast<int64_t>(i);
    } else {
      TL_CHECK(s[i] >= 0, op, ": invalid size in ", shape_str(req));
      known *= s[i];
    }
  }
  if (neg >= 0) {
    TL_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(req), " is invalid for input of shape ",
             shape_str(from));
    s[static_cast<size_t>(neg)] = numel / known;
  }
  TL_CHECK(shape_numel(s) == numel, op, ": shape ", shape_str(req), " is invalid for input of shape ",
           shape_str(from));
  return s;
}

}  // namespace detail

template <class T>
Tensor<T> Tensor<T>::view(const Shape& req) const {
  TL_CHECK(is_contiguous(), "view: input of shape ", shape_str(shape()),
           " is not contiguous; use reshape() or contiguous() first");
  Shape s = detail::infer_shape(req, numel(), shape(), "view");
  auto out = as_strided_view(s, contiguous_strides(s), storage_offset());
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::ReshapeBackward<T>>(shape()), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::reshape(const Shape& req) const {
  if (is_contiguous()) return view(req);
  return contiguous().view(req);
}

template <class T>
Tensor<T> Tensor<T>::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = normalize_dim(start_dim, dim(), "flatten"), e = normalize_dim(end_dim, dim(), "flatten");
  TL_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape ns(shape().begin(), shape().begin() + s);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= shape()[i];
  ns.push_back(m);
  ns.insert(ns.end(), shape().begin() + e + 1, shape().end());
  return reshape(ns);
}

template <class T>
Tensor<T> Tensor<T>::permute(const Shape& dims) const {
  TL_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: ", dims.size(), " dims given for shape ",
           shape_str(shape()));
  Shape ns(dims.size()), nst(dims.size()), inv(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = normalize_dim(dims[i], dim(), "permute");
    TL_CHECK(!seen[d], "permute: dim ", d, " repeated in ", shape_str(dims));
    seen[d] = true;
    ns[i] = shape()[d];
    nst[i] = strides()[d];
    inv[d] = static_cast<int64_t>(i);
  }
  auto out = as_strided_view(ns, nst, storage_offset());
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::PermuteBackward<T>>(inv), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::transpose(int64_t d0, int64_t d1) const {
  Shape p(static_cast<size_t>(dim()));
  std::iota(p.begin(), p.end(), 0);
  if (dim() == 0) return permute(p);
  std::swap(p[normalize_dim(d0, dim(), "transpose")], p[normalize_dim(d1, dim(), "transpose")]);
  return permute(p);
}

template <class T>
Tensor<T> Tensor<T>::t() const {
  TL_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got shape ", shape_str(shape()));
  return dim() < 2 ? *this : transpose(0, 1);
}

template <class T>
Tensor<T> Tensor<T>::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = normalize_dim(d, dim(), "slice");
  TL_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape ns = shape(), nst = strides();
  ns[d] = (end - start + step - 1) / step;
  nst[d] = strides()[d] * step;
  auto out = as_strided_view(ns, nst, storage_offset() + start * strides()[d]);
  if (needs_grad(*this)) {
    auto f = [d, start, end, step](const Tensor<T>& z) { return z.slice(d, start, end, step); };
    record<T>(out, std::make_shared<detail::SubsetViewBackward<T>>(shape(), f, "Slice"), *this);
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::narrow(int64_t d, int64_t start, int64_t length) const {
  d = normalize_dim(d, dim(), "narrow");
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  TL_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " and length ", length,
           " are out of range for dim ", d, " of shape ", shape_str(shape()));
  return slice(d, start, start + length, 1);
}

template <class T>
Tensor<T> Tensor<T>::select(int64_t d, int64_t index) const {
  d = normalize_dim(d, dim(), "select");
  const int64_t n = shape()[d];
  TL_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d, " of shape ",
           shape_str(shape()));
  if (index < 0) index += n;
  Shape ns = shape(), nst = strides();
  ns.erase(ns.begin() + d);
  nst.erase(nst.begin() + d);
  auto out = as_strided_view(ns, nst, storage_offset() + index * strides()[d]);
  if (needs_grad(*this)) {
    auto f = [d, index](const Tensor<T>& z) { return z.select(d, index); };
    record<T>(out, std::make_shared<detail::SubsetViewBackward<T>>(shape(), f, "Select"), *this);
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::unsqueeze(int64_t d) const {
  d = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape ns = shape(), nst = strides();
  int64_t st = d < dim() ? strides()[d] * shape()[d] : 1;
  ns.insert(ns.begin() + d, 1);
  nst.insert(nst.begin() + d, st);
  auto out = as_strided_view(ns, nst, storage_offset());
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::ReshapeBackward<T>>(shape()), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::squeeze() const {
  Shape ns, nst;
  for (int64_t i = 0; i < dim(); ++i)
    if (shape()[i] != 1) {
      ns.push_back(shape()[i]);
      nst.push_back(strides()[i]);
    }
  auto out = as_strided_view(ns, nst, storage_offset());
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::ReshapeBackward<T>>(shape()), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  d = normalize_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape ns = shape(), nst = strides();
  ns.erase(ns.begin() + d);
  nst.erase(nst.begin() + d);
  auto out = as_strided_view(ns, nst, storage_offset());
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::ReshapeBackward<T>>(shape()), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::expand(const Shape& req) const {
  TL_CHECK(req.size() >= shape().size(), "expand: target shape ", shape_str(req), " has fewer dims than ",
           shape_str(shape()));
  Shape ns = req, nst(req.size(), 0);
  const size_t off = req.size() - shape().size();
  for (size_t i = 0; i < req.size(); ++i) {
    if (i < off) {
      TL_CHECK(req[i] >= 0, "expand: size -1 not allowed for new leading dims in ", shape_str(req));
      continue;
    }
    int64_t have = shape()[i - off];
    if (req[i] == -1 || req[i] == have) {
      ns[i] = have;
      nst[i] = strides()[i - off];
    } else {
      TL_CHECK(have == 1, "expand: cannot expand shape ", shape_str(shape()), " to ", shape_str(req));
      nst[i] = 0;
    }
  }
  auto out = as_strided_view(ns, nst, storage_offset());
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::ExpandBackward<T>>(shape()), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::clone() const {
  Tensor<T> out(to_vector(), shape());
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::CopyBackward<T>>(), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::contiguous() const {
  return is_contiguous() ? *this : clone();
}

}  // namespace tl
