#pragma once
// Max pooling by row maxima in plain C++ (any T, written for the compiler to vectorise): for the
// pools max_pool2d_by_row_maxima_applies accepts, each input row's maxima over the window columns
// first, kept for every output row that uses the row, then the maxima of those down the window
// rows. The AVX2 build's max pooling (the AVX-512 build has max_pool2d_avx512.hpp's kernels).
#include <algorithm>
#include <cstdint>
#include <limits>

#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/max_pool2d_avx512.hpp"
#include "tl/kernels/pool2d_params.hpp"

TL_KERNELS_BEGIN

/// The scalar kernel's rule for a running maximum: a later value replaces it when greater, or NaN.
template <class T, class I>
inline void take_max(T v, I v_at, T& m, I& at) {
  const bool take = (v > m) | (v != v);  // selects, not branches
  m = take ? v : m;
  at = take ? v_at : at;
}

/// The maxima of one input row over each output column's taps, columns q*SW - pw + t for t < kw
/// (kw <= 3, the taps inside the row; max_pool2d_by_row_maxima_applies): hv[q] = the maximum, hi[q]
/// = its flat index row_at + column, or the first column inside the row when nothing beats
/// -infinity, as in the scalar kernel. The columns whose taps all lie inside the row run in one
/// loop without bounds, the few at the edges in a loop with them.
template <class T, int SW>
void row_maxima(const T* row, int64_t W, int64_t Q, int64_t kw, int64_t pw, int32_t row_at, T* hv, int32_t* hi) {
  const int64_t inner_begin = std::min(Q, (pw + SW - 1) / SW);
  const int64_t inner_end = W - kw + pw < 0 ? inner_begin : std::clamp((W - kw + pw) / SW + 1, inner_begin, Q);
  const auto edge = [&](int64_t q) {
    const int64_t c = q * SW - pw, c0 = std::max<int64_t>(c, 0), c1 = std::min(c + kw, W);
    T m = -std::numeric_limits<T>::infinity();
    int32_t at = static_cast<int32_t>(row_at + c0);
    for (int64_t j = c0; j < c1; ++j) take_max(row[j], static_cast<int32_t>(row_at + j), m, at);
    hv[q] = m;
    hi[q] = at;
  };
  for (int64_t q = 0; q < inner_begin; ++q) edge(q);
#pragma omp simd
  for (int64_t q = inner_begin; q < inner_end; ++q) {
    const int64_t c = q * SW - pw;
    T m = row[c];
    int32_t at = static_cast<int32_t>(row_at + c);
    if (kw >= 2) take_max(row[c + 1], static_cast<int32_t>(row_at + c + 1), m, at);
    if (kw >= 3) take_max(row[c + 2], static_cast<int32_t>(row_at + c + 2), m, at);
    hv[q] = m;
    hi[q] = at;
  }
  for (int64_t q = inner_end; q < Q; ++q) edge(q);
}

/// One plane: the row maxima of each input row once (into hv, hi: H rows of Q values), then per
/// output row the maximum of its window rows' maxima, in the scalar kernel's order (rows, then
/// columns, greater or NaN replaces), so values and argmax are identical to it.
template <class T>
void max_pool2d_plane_by_row_maxima(const Pool2dParams& p, const T* xp, T* yp, int64_t* ip, T* hv, int32_t* hi) {
  const auto maxima = p.sw == 2 ? row_maxima<T, 2> : row_maxima<T, 1>;
  int64_t done = 0;  // rows [0, done) have their maxima in hv, hi
  for (int64_t i = 0; i < p.P; ++i) {
    // Named fields, not a structured binding: clang 14 rejects one used inside an OpenMP region.
    const PoolTaps rows = pool_taps(i, p.sh, p.ph, p.dh, p.kh, p.H);
    const int64_t h0 = rows.first, h1 = rows.end;
    for (; done < h1; ++done)
      maxima(xp + done * p.W, p.W, p.Q, p.kw, p.pw, static_cast<int32_t>(done * p.W), hv + done * p.Q,
             hi + done * p.Q);
    T* y = yp + i * p.Q;
    int64_t* idx = ip + i * p.Q;
    if (h0 >= h1) {  // dilation steps over every row: -infinity, at the scalar kernel's default offset
      for (int64_t q = 0; q < p.Q; ++q) {
        y[q] = -std::numeric_limits<T>::infinity();
        idx[q] = h0 * p.W + std::max<int64_t>(q * p.sw - p.pw, 0);
      }
      continue;
    }
    // Row by row, so that each loop over the columns is one the compiler vectorises.
#pragma omp simd
    for (int64_t q = 0; q < p.Q; ++q) {
      y[q] = hv[h0 * p.Q + q];
      idx[q] = hi[h0 * p.Q + q];
    }
    for (int64_t ih = h0 + p.dh; ih < h1; ih += p.dh) {
      const T* m = hv + ih * p.Q;
      const int32_t* at = hi + ih * p.Q;
#pragma omp simd
      for (int64_t q = 0; q < p.Q; ++q) take_max(m[q], int64_t{at[q]}, y[q], idx[q]);
    }
  }
}

/// Max pooling for max_pool2d_by_row_maxima_applies(p) (planes of fewer than 2^30 values): the
/// planes in parallel, each thread with its own row maxima.
template <class T>
void max_pool2d_by_row_maxima(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
#pragma omp parallel if (p.planes * p.P * p.Q > 16384)
  {
    T* hv = scratch<T>(Scratch::Local, p.H * p.Q);
    int32_t* hi = scratch<int32_t>(Scratch::Offsets, p.H * p.Q);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < p.planes; ++pl)
      max_pool2d_plane_by_row_maxima(p, x + pl * p.H * p.W, y + pl * p.P * p.Q, idx + pl * p.P * p.Q, hv, hi);
  }
}

TL_KERNELS_END
