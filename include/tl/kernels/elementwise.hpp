#pragma once
// Element-wise loops on raw pointers: dense fast paths, and a strided/broadcast general path.
#include <cstdint>

#include "tl/core/shape.hpp"
#include "tl/core/strided.hpp"

namespace tl::kernels {

/// out[i] = f(a[i]) for n dense elements.
template <class T, class U, class F>
void unary_dense(int64_t n, const T* a, U* out, F f) {
#pragma omp parallel for simd if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
}

/// out (dense, shape `shape`) = f(a, b), where a and b are read through (broadcast) strides.
template <class T, class U, class F>
void binary_strided(const Shape& shape, const T* a, const Shape& sa, const T* b, const Shape& sb, U* out, F f) {
  const Shape dense = contiguous_strides(shape);
  const int64_t n = shape_numel(shape);
  bool a_dense = sa == dense, b_dense = sb == dense;
  bool b_scalar = true, a_scalar = true;
  for (int64_t s : sb) b_scalar = b_scalar && s == 0;
  for (int64_t s : sa) a_scalar = a_scalar && s == 0;
  if (a_dense && b_dense) {
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (a_dense && b_scalar) {
    const T bv = *b;
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else if (a_scalar && b_dense) {
    const T av = *a;
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else {
    int64_t k = 0;
    detail::for_each_offset2(shape, sa, sb, [&](int64_t oa, int64_t ob) { out[k++] = f(a[oa], b[ob]); });
  }
}

/// out (shape `out_shape`, dense, zero-filled here) = sum of g over the dims where out is broadcast.
template <class T>
void sum_to(const T* g, const Shape& g_shape, const Shape& g_strides, T* out, const Shape& out_shape) {
  const int64_t n = shape_numel(out_shape);
  for (int64_t i = 0; i < n; ++i) out[i] = T(0);
  const Shape os = broadcast_strides(out_shape, contiguous_strides(out_shape), g_shape);
  detail::for_each_offset2(g_shape, g_strides, os, [&](int64_t og, int64_t oo) { out[oo] += g[og]; });
}

}  // namespace tl::kernels
