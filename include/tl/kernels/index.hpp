#pragma once
// Row selection along one dim of a dense tensor seen as [outer, n, inner]: index_select and its
// adjoint index_add. Indices must already be checked to lie in [0, n).
#include <algorithm>
#include <cstdint>

namespace tl::kernels {

/// out[o, j, :] = x[o, idx[j], :] for x dense [outer, n, inner], out dense [outer, m, inner].
template <class T>
void index_select_dim(const T* x, int64_t outer, int64_t n, int64_t inner, const int64_t* idx, int64_t m, T* out) {
  const int64_t work = outer * m * inner;
#pragma omp parallel for if (work > 65536) schedule(static)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < m; ++j) std::copy_n(x + (o * n + idx[j]) * inner, inner, out + (o * m + j) * inner);
}

/// dst[o, idx[j], :] += src[o, j, :] (repeated indices accumulate).
template <class T>
void index_add_dim(const T* src, int64_t outer, int64_t m, int64_t inner, const int64_t* idx, T* dst, int64_t n) {
  const int64_t work = outer * m * inner;
  // Parallel over outer only: different o never write the same row.
#pragma omp parallel for if (work > 65536 && outer > 1) schedule(static)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < m; ++j) {
      const T* s = src + (o * m + j) * inner;
      T* d = dst + (o * n + idx[j]) * inner;
      for (int64_t i = 0; i < inner; ++i) d[i] += s[i];
    }
}

}  // namespace tl::kernels
