#pragma once
// Walking the elements of a strided view in row-major order.
#include <cstdint>
#include <vector>

#include "tl/core/shape.hpp"

namespace tl::detail {

/// Calls f(offset) for every element of a view with this shape and these strides,
/// in row-major order of the shape. The innermost dim is a plain loop.
template <class F>
void for_each_offset(const Shape& shape, const Shape& strides, F&& f) {
  const size_t nd = shape.size();
  for (int64_t d : shape)
    if (d == 0) return;
  if (nd == 0) {
    f(int64_t{0});
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  int64_t base = 0;
  while (true) {
    for (int64_t i = 0; i < inner; ++i) f(base + i * inner_stride);
    // advance the outer index
    size_t d = nd - 1;
    while (true) {
      if (d == 0) return;
      --d;
      if (++idx[d] < shape[d]) {
        base += strides[d];
        break;
      }
      base -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

/// Copies a strided view into a dense row-major buffer.
template <class T, class U = T>
void gather_strided(const T* src, const Shape& shape, const Shape& strides, U* dst) {
  int64_t k = 0;
  for_each_offset(shape, strides, [&](int64_t off) { dst[k++] = static_cast<U>(src[off]); });
}

}  // namespace tl::detail

namespace tl::detail {

/// Like for_each_offset, for two views of one shape: calls f(offset_a, offset_b).
template <class F>
void for_each_offset2(const Shape& shape, const Shape& sa, const Shape& sb, F&& f) {
  const size_t nd = shape.size();
  for (int64_t d : shape)
    if (d == 0) return;
  if (nd == 0) {
    f(int64_t{0}, int64_t{0});
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  const int64_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
  int64_t a = 0, b = 0;
  while (true) {
    for (int64_t i = 0; i < inner; ++i) f(a + i * ia, b + i * ib);
    size_t d = nd - 1;
    while (true) {
      if (d == 0) return;
      --d;
      if (++idx[d] < shape[d]) {
        a += sa[d];
        b += sb[d];
        break;
      }
      a -= sa[d] * (shape[d] - 1);
      b -= sb[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace tl::detail
