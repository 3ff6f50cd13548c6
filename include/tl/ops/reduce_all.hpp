#pragma once
// Full reductions to a 0-d tensor: sum() and mean(). (Reductions over dims: ops/reduce.hpp.)
#include "tl/ops/view.hpp"

namespace tl {

namespace detail {

template <class T>
struct SumAllBackward : Node<T> {
  Shape in_shape;
  T scale;  // 1 for sum, 1/numel for mean
  SumAllBackward(Shape s, T sc) : in_shape(std::move(s)), scale(sc) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override { return {full<T>(in_shape, g.item() * scale)}; }
  std::string name() const override { return "SumBackward"; }
};

/// Sum of all elements; floats accumulate in double.
template <class T>
T sum_all_values(const Tensor<T>& x) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  Acc acc = 0;
  if (x.is_contiguous()) {
    const T* p = x.data();
    const int64_t n = x.numel();
#pragma omp parallel for reduction(+ : acc) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; ++i) acc += p[i];
  } else {
    detail::for_each_offset(x.shape(), x.strides(), [&](int64_t o) { acc += x.data()[o]; });
  }
  return static_cast<T>(acc);
}

}  // namespace detail

template <class T>
Tensor<T> Tensor<T>::sum() const {
  auto out = scalar_tensor<T>(detail::sum_all_values(*this));
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::SumAllBackward<T>>(shape(), T(1)), *this);
  return out;
}

template <class T>
Tensor<T> Tensor<T>::mean() const {
  TL_CHECK(numel() > 0, "mean: empty tensor of shape ", shape_str(shape()));
  T inv = T(1) / static_cast<T>(numel());
  auto out = scalar_tensor<T>(detail::sum_all_values(*this) * inv);
  if (needs_grad(*this)) record<T>(out, std::make_shared<detail::SumAllBackward<T>>(shape(), inv), *this);
  return out;
}

template <class T> Tensor<T> sum(const Tensor<T>& x) { return x.sum(); }
template <class T> Tensor<T> mean(const Tensor<T>& x) { return x.mean(); }

}  // namespace tl
