#pragma once
// tl::Tensor<T>: an n-d view (shape, strides, offset) on shared storage, plus autograd state.
//
// Copying a Tensor copies a handle: both refer to the same data (like torch.Tensor).
// Core members are defined here; differentiable members (views, math) are declared here and
// defined in tl/ops/*.hpp, and backward() in tl/autograd/engine.hpp: include <tl/tl.hpp>.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <type_traits>
#include <vector>

#include "tl/core/dtype.hpp"
#include "tl/core/error.hpp"
#include "tl/core/generator.hpp"
#include "tl/core/shape.hpp"
#include "tl/core/storage.hpp"
#include "tl/core/strided.hpp"

namespace tl {

template <class T>
struct Node;  // autograd/node.hpp
template <class T>
class Tensor;
/// What max(dim)/min(dim) return, like torch.max(x, dim): `auto [values, indices] = x.max(1);`
template <class T>
struct ValuesIndices;  // ops/reduce.hpp

template <class T>
struct TensorImpl {
  std::shared_ptr<Storage<T>> storage;
  int64_t offset = 0;
  Shape shape, strides;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl<T>> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node<T>> grad_fn;     // the op that made this tensor (null for leaves)
};

template <class T>
class Tensor {
 public:
  using value_type = T;

  /// An undefined tensor (like a default-constructed torch::Tensor).
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl<T>> impl) : impl_(std::move(impl)) {}

  /// A contiguous tensor holding a copy of `values`, which must have numel(shape) elements.
  Tensor(const std::vector<T>& values, const Shape& shape) : Tensor(uninitialized(shape)) {
    TL_CHECK(static_cast<int64_t>(values.size()) == numel(), "Tensor: ", values.size(),
             " values given for shape ", shape_str(shape), " (", numel(), " elements)");
    std::copy(values.begin(), values.end(), data());
  }

  /// A new contiguous tensor whose values are not initialised.
  static Tensor uninitialized(const Shape& shape) {
    auto impl = std::make_shared<TensorImpl<T>>();
    impl->storage = std::make_shared<Storage<T>>(static_cast<size_t>(shape_numel(shape)));
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    return Tensor(std::move(impl));
  }

  /// A view of the same storage with another shape/strides/offset (no autograd link).
  Tensor as_strided_view(const Shape& shape, const Shape& strides, int64_t offset) const {
    auto impl = std::make_shared<TensorImpl<T>>();
    impl->storage = impl_->storage;
    impl->shape = shape;
    impl->strides = strides;
    impl->offset = offset;
    return Tensor(std::move(impl));
  }

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked()->shape; }
  const Shape& sizes() const { return shape(); }
  int64_t size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
  const Shape& strides() const { return checked()->strides; }
  int64_t stride(int64_t d) const { return strides()[normalize_dim(d, dim(), "stride")]; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape()) n *= d;
    return n;
  }
  int64_t storage_offset() const { return checked()->offset; }
  bool is_contiguous() const {
    const auto& s = shape();
    const auto& st = strides();
    int64_t expect = 1;
    for (size_t i = s.size(); i-- > 0;) {
      if (s[i] != 1 && st[i] != expect) return false;
      expect *= s[i];
    }
    return true;
  }
  /// Pointer to the first element (storage + offset). Dense only if is_contiguous().
  T* data() { return checked()->storage->data() + impl_->offset; }
  const T* data() const { return checked()->storage->data() + impl_->offset; }
  const std::shared_ptr<TensorImpl<T>>& impl() const { return impl_; }
  /// True when both handles refer to the same tensor object.
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- element access (no autograd) ----
  std::vector<T> to_vector() const {
    std::vector<T> out(static_cast<size_t>(numel()));
    if (is_contiguous()) std::copy(data(), data() + numel(), out.begin());
    else {
      // element-wise (not gather_strided into out.data()): std::vector<bool> has no data()
      size_t k = 0;
      const T* p = data();
      detail::for_each_offset(shape(), strides(), [&](int64_t o) { out[k++] = p[o]; });
    }
    return out;
  }
  T item() const {
    TL_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape_str(shape()));
    return *data();
  }
  /// Bounds-checked element read: t.at({i, j}).
  T at(std::initializer_list<int64_t> index) const { return *data_at(index); }
  T& at_ref(std::initializer_list<int64_t> index) { return *const_cast<T*>(data_at(index)); }

  // ---- in-place (no autograd; forbidden on leaves that require grad while grad mode is on) ----
  Tensor& fill_(T v) {
    check_inplace("fill_");
    detail::for_each_offset(shape(), strides(), [&](int64_t o) { data()[o] = v; });
    return *this;
  }
  Tensor& zero_() { return fill_(T(0)); }
  /// Copies values from src (same shape, any strides) into this tensor's storage.
  Tensor& copy_(const Tensor& src) {
    check_inplace("copy_");
    TL_CHECK(src.shape() == shape(), "copy_: source shape ", shape_str(src.shape()),
             " does not match destination shape ", shape_str(shape()));
    if (is_contiguous() && src.is_contiguous()) {
      std::memmove(static_cast<void*>(data()), src.data(), sizeof(T) * static_cast<size_t>(numel()));
      return *this;
    }
    auto vals = src.to_vector();
    int64_t k = 0;
    detail::for_each_offset(shape(), strides(), [&](int64_t o) { data()[o] = vals[k++]; });
    return *this;
  }

  /// A converted copy with element type U (not differentiable).
  template <class U>
  Tensor<U> to() const {
    auto out = Tensor<U>::uninitialized(shape());
    detail::gather_strided(data(), shape(), strides(), out.data());
    return out;
  }

  // ---- autograd (see tl/autograd) ----
  bool requires_grad() const { return checked()->requires_grad; }
  /// Marks a leaf as needing a gradient (like tensor.requires_grad_()).
  Tensor& requires_grad_(bool r = true) {
    if (r) static_assert_floating();
    TL_CHECK(!impl_->grad_fn || r, "requires_grad_: cannot turn off requires_grad of a non-leaf; use detach()");
    checked()->requires_grad = r;
    return *this;
  }
  bool is_leaf() const { return checked()->grad_fn == nullptr; }
  const std::shared_ptr<Node<T>>& grad_fn() const { return checked()->grad_fn; }
  /// The accumulated gradient (undefined until a backward reaches this leaf).
  Tensor grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
  void set_grad(const Tensor& g) { checked()->grad = g.impl_; }
  /// Drops the gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad() { checked()->grad.reset(); }
  /// A tensor sharing this one's data, cut from the graph.
  Tensor detach() const {
    auto t = as_strided_view(shape(), strides(), storage_offset());
    return t;
  }
  void backward() const;                                               // autograd/engine.hpp
  void backward(const Tensor& grad, bool retain_graph = false) const;  // autograd/engine.hpp

  // ---- views (differentiable; tl/ops/view.hpp) ----
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor permute(const Shape& dims) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor contiguous() const;
  Tensor clone() const;

  // ---- math (differentiable; tl/ops/*.hpp) ----
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  // unary (tl/ops/unary.hpp)
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor square() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor pow(T exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor clamp(std::optional<T> min, std::optional<T> max = std::nullopt) const;
  Tensor clamp_min(T min) const;
  Tensor clamp_max(T max) const;
  // reductions (tl/ops/reduce.hpp); dims may be negative, {} means all dims
  Tensor max() const;
  Tensor min() const;
  ValuesIndices<T> max(int64_t dim, bool keepdim = false) const;
  ValuesIndices<T> min(int64_t dim, bool keepdim = false) const;
  Tensor<int64_t> argmax() const;
  Tensor<int64_t> argmax(int64_t dim, bool keepdim = false) const;
  Tensor<int64_t> argmin() const;
  Tensor<int64_t> argmin(int64_t dim, bool keepdim = false) const;
  Tensor var(const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor std(const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor logsumexp(int64_t dim, bool keepdim = false) const;
  // matrix products (tl/ops/matmul.hpp)
  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const;
  Tensor bmm(const Tensor& other) const;
  // comparisons (tl/ops/compare.hpp)
  Tensor<bool> eq(const Tensor& other) const;
  Tensor<bool> ne(const Tensor& other) const;
  Tensor<bool> lt(const Tensor& other) const;
  Tensor<bool> le(const Tensor& other) const;
  Tensor<bool> gt(const Tensor& other) const;
  Tensor<bool> ge(const Tensor& other) const;
  Tensor<bool> eq(T other) const;
  Tensor<bool> ne(T other) const;
  Tensor<bool> lt(T other) const;
  Tensor<bool> le(T other) const;
  Tensor<bool> gt(T other) const;
  Tensor<bool> ge(T other) const;
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  // indexing (tl/ops/index.hpp)
  Tensor gather(int64_t dim, const Tensor<int64_t>& index) const;
  Tensor index_select(int64_t dim, const Tensor<int64_t>& index) const;

 private:
  const std::shared_ptr<TensorImpl<T>>& checked() const {
    TL_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return impl_;
  }
  const T* data_at(std::initializer_list<int64_t> index) const {
    TL_CHECK(static_cast<int64_t>(index.size()) == dim(), "at: ", index.size(), " indices for a tensor of shape ",
             shape_str(shape()));
    int64_t off = 0, d = 0;
    for (int64_t i : index) {
      int64_t n = shape()[d];
      TL_CHECK(i >= -n && i < n, "at: index ", i, " is out of range for dim ", d, " of size ", n);
      off += (i < 0 ? i + n : i) * strides()[d];
      ++d;
    }
    return data() + off;
  }
  void check_inplace(const char* op) const;  // autograd/grad_mode.hpp
  static void static_assert_floating() {
    static_assert(std::is_floating_point_v<T>, "only floating-point tensors can require gradients");
  }

  std::shared_ptr<TensorImpl<T>> impl_;
};

// ---- factories (like torch.zeros etc.) ----
template <class T>
Tensor<T> empty(const Shape& shape) { return Tensor<T>::uninitialized(shape); }
template <class T>
Tensor<T> full(const Shape& shape, T value) {
  auto t = Tensor<T>::uninitialized(shape);
  std::fill(t.data(), t.data() + t.numel(), value);
  return t;
}
template <class T>
Tensor<T> zeros(const Shape& shape) { return full<T>(shape, T(0)); }
template <class T>
Tensor<T> ones(const Shape& shape) { return full<T>(shape, T(1)); }
/// A 0-d tensor holding v.
template <class T>
Tensor<T> scalar_tensor(T v) { return full<T>({}, v); }
template <class T>
Tensor<T> empty_like(const Tensor<T>& t) { return empty<T>(t.shape()); }
template <class T>
Tensor<T> zeros_like(const Tensor<T>& t) { return zeros<T>(t.shape()); }
template <class T>
Tensor<T> ones_like(const Tensor<T>& t) { return ones<T>(t.shape()); }
template <class T>
Tensor<T> full_like(const Tensor<T>& t, std::type_identity_t<T> v) { return full<T>(t.shape(), v); }

/// [start, end) in steps of step (like torch.arange).
template <class T>
Tensor<T> arange(T start, T end, T step = T(1)) {
  TL_CHECK(step != T(0), "arange: step must be non-zero");
  double n = std::ceil((static_cast<double>(end) - static_cast<double>(start)) / static_cast<double>(step));
  int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
  auto t = Tensor<T>::uninitialized({count});
  for (int64_t i = 0; i < count; ++i) t.data()[i] = static_cast<T>(start + static_cast<T>(i) * step);
  return t;
}
template <class T>
Tensor<T> arange(T end) { return arange<T>(T(0), end, T(1)); }

/// Uniform in [0, 1).
template <class T>
Tensor<T> rand(const Shape& shape, Generator& gen = default_generator()) {
  auto t = Tensor<T>::uninitialized(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(gen.uniform());
  return t;
}
/// Standard normal.
template <class T>
Tensor<T> randn(const Shape& shape, Generator& gen = default_generator()) {
  auto t = Tensor<T>::uninitialized(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(gen.normal());
  return t;
}
/// Uniform integers in [low, high).
template <class T>
Tensor<T> randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator()) {
  TL_CHECK(high > low, "randint: high (", high, ") must be greater than low (", low, ")");
  auto t = Tensor<T>::uninitialized(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(low + gen.randint(high - low));
  return t;
}
template <class T>
Tensor<T> rand_like(const Tensor<T>& t, Generator& gen = default_generator()) { return rand<T>(t.shape(), gen); }
template <class T>
Tensor<T> randn_like(const Tensor<T>& t, Generator& gen = default_generator()) { return randn<T>(t.shape(), gen); }

// ---- printing ----
namespace detail {
template <class T>
void print_rec(std::ostream& os, const T* p, const Shape& sh, const Shape& st, size_t d, int indent) {
  if (d == sh.size()) {
    if constexpr (std::is_same_v<T, bool>) os << (*p ? "True" : "False");
    else if constexpr (std::is_integral_v<T>) os << static_cast<int64_t>(*p);
    else os << *p;
    return;
  }
  os << '[';
  const int64_t n = sh[d];
  const bool cut = n > 6;
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == 3) {
      os << (d + 1 == sh.size() ? "..., " : "...,\n" + std::string(static_cast<size_t>(indent + 1), ' '));
      i = n - 3;
    }
    print_rec(os, p + i * st[d], sh, st, d + 1, indent + 1);
    if (i + 1 < n) os << (d + 1 == sh.size() ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
  }
  os << ']';
}
}  // namespace detail

/// Prints like PyTorch: tensor([[1, 2], [3, 4]], shape=[2, 2], dtype=float32)
template <class T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  os << "tensor(";
  detail::print_rec(os, t.data(), t.shape(), t.strides(), 0, 7);
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name<T>();
  if (t.requires_grad()) os << ", requires_grad=True";
  return os << ')';
}

}  // namespace tl
