#pragma once
// Reductions along one dim of a dense tensor viewed as [outer, r, inner] (the reduced dim in the
// middle): sums (floats accumulate in double) and arg-max/min. Plain loops on raw pointers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace tl::kernels {

/// out[o, i] = sum_k x[o, k, i] for x dense [outer, r, inner], out dense [outer, inner].
template <class T>
void sum_dim(const T* x, int64_t outer, int64_t r, int64_t inner, T* out) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  const int64_t work = outer * r * inner;
  if (inner == 1) {
#pragma omp parallel for if (work > 65536) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = x + o * r;
      Acc acc = 0;
      // simd reduction: lets the compiler keep several partial sums (no serial add chain)
#pragma omp simd reduction(+ : acc)
      for (int64_t k = 0; k < r; ++k) acc += p[k];
      out[o] = static_cast<T>(acc);
    }
    return;
  }
  // Blocks of the inner dim keep a small accumulator row in cache while k walks the reduced dim.
  constexpr int64_t B = 256;
  const int64_t nblk = (inner + B - 1) / B;
#pragma omp parallel for if (work > 65536) schedule(static)
  for (int64_t job = 0; job < outer * nblk; ++job) {
    const int64_t o = job / nblk, i0 = (job % nblk) * B, len = std::min(B, inner - i0);
    Acc acc[B];
    for (int64_t i = 0; i < len; ++i) acc[i] = 0;
    for (int64_t k = 0; k < r; ++k) {
      const T* p = x + (o * r + k) * inner + i0;
      for (int64_t i = 0; i < len; ++i) acc[i] += p[i];
    }
    T* q = out + o * inner + i0;
    for (int64_t i = 0; i < len; ++i) q[i] = static_cast<T>(acc[i]);
  }
}

/// For x dense [outer, r, inner] (r >= 1): val[o, i] = max_k (or min_k) x[o, k, i] and idx the
/// first k attaining it. NaN wins (propagates), like PyTorch.
template <bool IsMax, class T>
void arg_reduce_dim(const T* x, int64_t outer, int64_t r, int64_t inner, T* val, int64_t* idx) {
  const int64_t work = outer * r * inner;
#pragma omp parallel for if (work > 65536) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * r * inner + i;
      T best = p[0];
      int64_t bi = 0;
      for (int64_t k = 1; k < r; ++k) {
        const T v = p[k * inner];
        bool better = IsMax ? v > best : v < best;
        if constexpr (std::is_floating_point_v<T>) better = better || (std::isnan(v) && !std::isnan(best));
        if (better) {
          best = v;
          bi = k;
        }
      }
      val[o * inner + i] = best;
      idx[o * inner + i] = bi;
    }
  }
}

/// out[o, i] = log(sum_k exp(x[o, k, i])) for x dense [outer, r, inner], computed stably as
/// m + log(sum_k exp(x - m)) with m the row max (m = 0 when it is not finite, so that all -inf
/// gives -inf and +inf gives +inf).
template <class T>
void logsumexp_dim(const T* x, int64_t outer, int64_t r, int64_t inner, T* out) {
  const int64_t work = outer * r * inner;
#pragma omp parallel for if (work > 65536) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * r * inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t k = 0; k < r; ++k) m = std::max(m, p[k * inner]);
      if (!std::isfinite(m)) m = T(0);
      T s = 0;
      for (int64_t k = 0; k < r; ++k) s += std::exp(p[k * inner] - m);
      out[o * inner + i] = m + std::log(s);
    }
  }
}

/// gx[o, k, i] = g[o, i] * exp(x[o, k, i] - lse[o, i]) (softmax times the incoming gradient).
template <class T>
void logsumexp_dim_backward(const T* x, const T* lse, const T* g, int64_t outer, int64_t r, int64_t inner, T* gx) {
  const int64_t work = outer * r * inner;
#pragma omp parallel for if (work > 65536) schedule(static)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < r; ++k) {
      const int64_t base = (o * r + k) * inner;
      for (int64_t i = 0; i < inner; ++i) gx[base + i] = g[o * inner + i] * std::exp(x[base + i] - lse[o * inner + i]);
    }
}

/// dst[o, idx[o, j, i], i] += src[o, j, i] for idx/src dense [outer, m, inner], dst dense [outer, r, inner].
/// Indices must already be checked to lie in [0, r).
template <class T>
void scatter_add_dim(const T* src, const int64_t* idx, int64_t outer, int64_t m, int64_t inner, T* dst, int64_t r) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < m; ++j) {
      const int64_t base = (o * m + j) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[(o * r + idx[base + i]) * inner + i] += src[base + i];
    }
}

}  // namespace tl::kernels
