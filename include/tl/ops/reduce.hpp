#pragma once
// Reductions over dims: sum/mean(dims, keepdim), max/min (all, or one dim with indices),
// argmax/argmin, var/std(dims, correction, keepdim), logsumexp(dim, keepdim).
// Dims may be negative; an empty dims list means all dims (as PyTorch).
#include <limits>

#include "tl/kernels/reduce.hpp"
#include "tl/ops/unary.hpp"

namespace tl {

template <class T>
struct ValuesIndices {
  Tensor<T> values;
  Tensor<int64_t> indices;
};

namespace detail {

/// mask[d] = true for every dim reduced; {} means all. Throws on bad or repeated dims.
inline std::vector<bool> reduce_mask(const Shape& dims, int64_t ndim, const char* op) {
  std::vector<bool> mask(static_cast<size_t>(ndim), dims.empty());
  for (int64_t d : dims) {
    int64_t n = normalize_dim(d, ndim, op);
    if (ndim == 0) continue;
    TL_CHECK(!mask[n], op, ": dim ", n, " appears more than once in ", shape_str(dims));
    mask[n] = true;
  }
  return mask;
}

/// The shape after reducing: reduced dims become 1 (keepdim) or disappear.
inline Shape reduced_shape(const Shape& s, const std::vector<bool>& mask, bool keepdim) {
  Shape r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!mask[i]) r.push_back(s[i]);
    else if (keepdim) r.push_back(1);
  }
  return r;
}

/// outer/r/inner of a dense tensor of shape s seen as [outer, s[d], inner].
struct DimSplit {
  int64_t outer = 1, r = 1, inner = 1;
};
inline DimSplit split_at(const Shape& s, int64_t d) {
  DimSplit p;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    if (i < d) p.outer *= s[i];
    else if (i == d) p.r = s[i];
    else p.inner *= s[i];
  }
  return p;
}

/// Sum over the masked dims; the result has the keepdim shape. Runs of adjacent reduced dims are
/// one pass of kernels::sum_dim each.
template <class T>
Tensor<T> sum_dims_values(const Tensor<T>& x, const std::vector<bool>& mask) {
  Tensor<T> cur = dense(x);
  Shape s = x.shape();
  const size_t nd = s.size();
  bool copied = false;
  for (size_t d = 0; d < nd;) {
    if (!mask[d]) {
      ++d;
      continue;
    }
    size_t e = d;
    int64_t outer = 1, r = 1, inner = 1;
    while (e < nd && mask[e]) r *= s[e++];
    for (size_t i = 0; i < d; ++i) outer *= s[i];
    for (size_t i = e; i < nd; ++i) inner *= s[i];
    for (size_t i = d; i < e; ++i) s[i] = 1;
    auto out = Tensor<T>::uninitialized(s);
    kernels::sum_dim(cur.data(), outer, r, inner, out.data());
    cur = out;
    copied = true;
    d = e;
  }
  if (!copied) cur = Tensor<T>(cur.to_vector(), s);  // nothing reduced: still a new tensor
  return cur;
}

/// Backward of sum/mean over dims: broadcast g (reduced or keepdim shape) back, times scale.
template <class T>
struct SumDimsBackward : Node<T> {
  Shape in_shape;
  std::vector<bool> mask;
  T scale;
  SumDimsBackward(Shape s, std::vector<bool> m, T sc) : in_shape(std::move(s)), mask(std::move(m)), scale(sc) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    // g's strides on the kept dims, 0 on reduced dims (whether g kept them as size 1 or not).
    Shape st(in_shape.size(), 0);
    const bool kept = g.dim() == static_cast<int64_t>(in_shape.size());
    size_t j = 0;
    for (size_t i = 0; i < in_shape.size(); ++i) {
      if (!mask[i]) st[i] = g.strides()[j++];
      else if (kept) ++j;
    }
    auto out = Tensor<T>::uninitialized(in_shape);
    T* o = out.data();
    const T* p = g.data();
    const T sc = scale;
    int64_t k = 0;
    for_each_offset(in_shape, st, [&](int64_t off) { o[k++] = p[off] * sc; });
    return {out};
  }
  std::string name() const override { return scale == T(1) ? "SumBackward" : "MeanBackward"; }
};

/// Shared by sum and mean over dims.
template <class T>
Tensor<T> sum_dims(const Tensor<T>& x, const Shape& dims, bool keepdim, bool mean, const char* op) {
  auto mask = reduce_mask(dims, x.dim(), op);
  int64_t n = 1;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) n *= x.shape()[i];
  auto vals = sum_dims_values(x, mask);
  T scale = T(1);
  if (mean) {
    scale = static_cast<T>(1.0 / static_cast<double>(n));  // n == 0 gives NaN, as PyTorch
    T* p = vals.data();
    for (int64_t i = 0; i < vals.numel(); ++i) p[i] *= scale;
  }
  Tensor<T> out = keepdim ? vals : vals.view(reduced_shape(x.shape(), mask, false));
  if (needs_grad(x)) record<T>(out, std::make_shared<SumDimsBackward<T>>(x.shape(), mask, scale), x);
  return out;
}

/// Backward of max/min over a dim: the gradient goes to the selected element.
template <class T>
struct ArgReduceBackward : Node<T> {
  Shape in_shape;
  Tensor<int64_t> idx;  // dense, one per output element
  DimSplit p;
  std::string op;
  ArgReduceBackward(Shape s, Tensor<int64_t> i, DimSplit sp, std::string o)
      : in_shape(std::move(s)), idx(std::move(i)), p(sp), op(std::move(o)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    auto gd = dense(g);
    auto out = zeros<T>(in_shape);
    kernels::scatter_add_dim(gd.data(), idx.data(), p.outer, 1, p.inner, out.data(), p.r);
    return {out};
  }
  void release() override { idx = Tensor<int64_t>(); }
  std::string name() const override { return op + "Backward"; }
};

/// Backward of max()/min() over all elements: split evenly among ties (as PyTorch).
template <class T>
struct ExtremumAllBackward : Node<T> {
  Tensor<T> x;  // detached
  T value;
  std::string op;
  ExtremumAllBackward(Tensor<T> in, T v, std::string o) : x(std::move(in)), value(v), op(std::move(o)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    auto xd = dense(x);
    const T* p = xd.data();
    const int64_t n = xd.numel();
    const bool nan = value != value;
    auto hit = [&](T v) { return nan ? v != v : v == value; };
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) count += hit(p[i]);
    auto out = Tensor<T>::uninitialized(x.shape());
    const T share = g.item() / static_cast<T>(count);
    for (int64_t i = 0; i < n; ++i) out.data()[i] = hit(p[i]) ? share : T(0);
    return {out};
  }
  void release() override { x = Tensor<T>(); }
  std::string name() const override { return op + "Backward"; }
};

template <bool IsMax, class T>
Tensor<T> extremum_all(const Tensor<T>& x) {
  const char* op = IsMax ? "max" : "min";
  TL_CHECK(x.numel() > 0, op, ": expected a non-empty tensor, got shape ", shape_str(x.shape()));
  auto xd = dense(x);
  T v;
  int64_t i;
  kernels::arg_reduce_dim<IsMax>(xd.data(), 1, xd.numel(), 1, &v, &i);
  auto out = scalar_tensor<T>(v);
  if (needs_grad(x)) record<T>(out, std::make_shared<ExtremumAllBackward<T>>(x.detach(), v, IsMax ? "Max" : "Min"), x);
  return out;
}

template <bool IsMax, class T>
ValuesIndices<T> extremum_dim(const Tensor<T>& x, int64_t dim, bool keepdim) {
  const char* op = IsMax ? "max" : "min";
  int64_t d = normalize_dim(dim, x.dim(), op);
  Shape s = x.shape();
  if (x.dim() == 0) s = {1};
  DimSplit p = split_at(s, d);
  TL_CHECK(p.r > 0, op, ": cannot reduce over dim ", dim, " of size 0 in shape ", shape_str(x.shape()));
  Shape ks = s;
  ks[d] = 1;
  Shape os = ks;
  if (!keepdim || x.dim() == 0) os.erase(os.begin() + d);
  auto xd = dense(x);
  auto vals = Tensor<T>::uninitialized(os);
  auto idx = Tensor<int64_t>::uninitialized(os);
  kernels::arg_reduce_dim<IsMax>(xd.data(), p.outer, p.r, p.inner, vals.data(), idx.data());
  if (needs_grad(x))
    record<T>(vals, std::make_shared<ArgReduceBackward<T>>(x.shape(), idx, p, IsMax ? "Max" : "Min"), x);
  return {vals, idx};
}

template <bool IsMax, class T>
Tensor<int64_t> arg_extremum(const Tensor<T>& x, std::optional<int64_t> dim, bool keepdim) {
  const char* op = IsMax ? "argmax" : "argmin";
  if (!dim) {  // over the flattened tensor
    TL_CHECK(x.numel() > 0, op, ": expected a non-empty tensor, got shape ", shape_str(x.shape()));
    auto xd = dense(x);
    T v;
    int64_t i;
    kernels::arg_reduce_dim<IsMax>(xd.data(), 1, xd.numel(), 1, &v, &i);
    return keepdim ? full<int64_t>(Shape(x.shape().size(), 1), i) : scalar_tensor<int64_t>(i);
  }
  NoGradGuard no_grad;
  return extremum_dim<IsMax>(x, *dim, keepdim).indices;
}

/// Backward of logsumexp: softmax(x) along the dim times the gradient.
template <class T>
struct LogsumexpBackward : Node<T> {
  Tensor<T> x, lse;  // detached: dense input and the output
  DimSplit p;
  LogsumexpBackward(Tensor<T> in, Tensor<T> out, DimSplit sp) : x(std::move(in)), lse(std::move(out)), p(sp) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    auto gd = dense(g);
    auto gx = Tensor<T>::uninitialized(x.shape());
    kernels::logsumexp_dim_backward(x.data(), lse.data(), gd.data(), p.outer, p.r, p.inner, gx.data());
    return {gx};
  }
  void release() override { x = lse = Tensor<T>(); }
  std::string name() const override { return "LogsumexpBackward"; }
};

}  // namespace detail

template <class T>
Tensor<T> Tensor<T>::sum(const Shape& dims, bool keepdim) const {
  return detail::sum_dims(*this, dims, keepdim, false, "sum");
}
template <class T>
Tensor<T> Tensor<T>::mean(const Shape& dims, bool keepdim) const {
  return detail::sum_dims(*this, dims, keepdim, true, "mean");
}
template <class T>
Tensor<T> sum(const Tensor<T>& x, const Shape& dims, bool keepdim = false) { return x.sum(dims, keepdim); }
template <class T>
Tensor<T> mean(const Tensor<T>& x, const Shape& dims, bool keepdim = false) { return x.mean(dims, keepdim); }

/// Largest element as a 0-d tensor; its gradient is split evenly among ties (as PyTorch).
template <class T> Tensor<T> max(const Tensor<T>& x) { return detail::extremum_all<true>(x); }
template <class T> Tensor<T> min(const Tensor<T>& x) { return detail::extremum_all<false>(x); }
/// Values and (first) indices of the max along dim, like torch.max(x, dim); the gradient goes to
/// the selected element.
template <class T>
ValuesIndices<T> max(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  return detail::extremum_dim<true>(x, dim, keepdim);
}
template <class T>
ValuesIndices<T> min(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  return detail::extremum_dim<false>(x, dim, keepdim);
}
/// Index into the flattened tensor (0-d).
template <class T> Tensor<int64_t> argmax(const Tensor<T>& x) { return detail::arg_extremum<true>(x, std::nullopt, false); }
template <class T> Tensor<int64_t> argmin(const Tensor<T>& x) { return detail::arg_extremum<false>(x, std::nullopt, false); }
template <class T>
Tensor<int64_t> argmax(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  return detail::arg_extremum<true>(x, dim, keepdim);
}
template <class T>
Tensor<int64_t> argmin(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  return detail::arg_extremum<false>(x, dim, keepdim);
}

/// Variance over dims with Bessel's correction by default (correction = 1, as PyTorch);
/// divides by max(0, N - correction).
template <class T>
Tensor<T> var(const Tensor<T>& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) {
  auto mask = detail::reduce_mask(dims, x.dim(), "var");
  int64_t n = 1;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) n *= x.shape()[i];
  TL_CHECK(correction >= 0, "var: correction must be non-negative, got ", correction);
  const double denom = static_cast<double>(std::max<int64_t>(0, n - correction));
  auto centered = x - x.mean(dims, true);
  return square(centered).sum(dims, keepdim) * static_cast<T>(1.0 / denom);
}
template <class T>
Tensor<T> std(const Tensor<T>& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) {
  return sqrt(var(x, dims, correction, keepdim));
}

/// log(sum(exp(x), dim)), computed stably (the row max is subtracted first) in one fused kernel.
template <class T>
Tensor<T> logsumexp(const Tensor<T>& x, int64_t dim, bool keepdim = false) {
  const int64_t d = normalize_dim(dim, x.dim(), "logsumexp");
  Shape s = x.dim() == 0 ? Shape{1} : x.shape();
  detail::DimSplit p = detail::split_at(s, d);
  Shape os = s;
  os[d] = 1;
  if (!keepdim || x.dim() == 0) os.erase(os.begin() + d);
  auto xd = detail::dense(x);
  auto out = Tensor<T>::uninitialized(os);
  kernels::logsumexp_dim(xd.data(), p.outer, p.r, p.inner, out.data());
  if (needs_grad(x)) record<T>(out, std::make_shared<detail::LogsumexpBackward<T>>(xd, out.detach(), p), x);
  return out;
}

// ---- methods ----
template <class T> Tensor<T> Tensor<T>::max() const { return tl::max(*this); }
template <class T> Tensor<T> Tensor<T>::min() const { return tl::min(*this); }
template <class T>
ValuesIndices<T> Tensor<T>::max(int64_t dim, bool keepdim) const { return tl::max(*this, dim, keepdim); }
template <class T>
ValuesIndices<T> Tensor<T>::min(int64_t dim, bool keepdim) const { return tl::min(*this, dim, keepdim); }
template <class T> Tensor<int64_t> Tensor<T>::argmax() const { return tl::argmax(*this); }
template <class T> Tensor<int64_t> Tensor<T>::argmin() const { return tl::argmin(*this); }
template <class T>
Tensor<int64_t> Tensor<T>::argmax(int64_t dim, bool keepdim) const { return tl::argmax(*this, dim, keepdim); }
template <class T>
Tensor<int64_t> Tensor<T>::argmin(int64_t dim, bool keepdim) const { return tl::argmin(*this, dim, keepdim); }
template <class T>
Tensor<T> Tensor<T>::var(const Shape& dims, int64_t correction, bool keepdim) const {
  return tl::var(*this, dims, correction, keepdim);
}
template <class T>
Tensor<T> Tensor<T>::std(const Shape& dims, int64_t correction, bool keepdim) const {
  return tl::std(*this, dims, correction, keepdim);
}
template <class T>
Tensor<T> Tensor<T>::logsumexp(int64_t dim, bool keepdim) const { return tl::logsumexp(*this, dim, keepdim); }

}  // namespace tl
