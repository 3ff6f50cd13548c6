#pragma once
// AVX-512 float max pooling (values and int64 argmax indices, identical to the scalar kernel in
// pooling.hpp): by row maxima for stride 1 or 2 along rows with taps at q*sw - 1 .. q*sw + 1, and
// by visiting every window's taps for the other pools. pooling.hpp's max_pool2d_forward picks one.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/lane_mask.hpp"
#include "tl/kernels/pool2d_params.hpp"

namespace tl::kernels {

/// Whether max_pool2d_by_row_maxima_avx512 handles p: stride 1 or 2 along rows, no dilation there,
/// and the taps of output column q at input columns q*sw - 1 .. q*sw + 1 (ResNet's 3x3 pool with
/// padding 1, 2x2 pools, 3x3 stride-1 pools); any kernel height, stride, padding and dilation down
/// the columns. (A geometry rule, in every build: the kernel itself is AVX-512 only.)
inline bool max_pool2d_by_row_maxima_applies(const Pool2dParams& p) {
  return (p.sw == 1 || p.sw == 2) && p.dw == 1 && (p.pw == 0 || p.pw == 1) && 2 * p.pw <= p.kw &&
         p.kw - 1 - p.pw <= 1;
}

}  // namespace tl::kernels

TL_KERNELS_BEGIN

#if defined(TL_KERNELS_ISA_AVX512)
/// Lanes j of 16 consecutive columns base + j that lie inside a row [0, W).
inline __mmask16 in_row_mask(int64_t base, int64_t W) {
  const int64_t lo = std::clamp<int64_t>(-base, 0, 16), hi = std::clamp<int64_t>(W - base, 0, 16);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/// One tap column s of a block of 16 output columns: what does not depend on the plane or the row.
struct alignas(64) PoolColumnTap {
  int32_t iw[16];              // input column per lane
  __mmask16 valid, lo, hi;     // lanes inside [0, W) (and live); stride 2: the two loads' masks
  int64_t base;                // stride 1: first lane's column; stride 2: the first load's column
};

/// Stores the first lanes (keep) of 16 pooled outputs: values to y, their int32 argmax offsets
/// widened to the int64 indices to idx.
[[gnu::always_inline]] inline void store_pooled16(float* y, int64_t* idx, __m512 m, __m512i at, __mmask16 keep) {
  _mm512_mask_storeu_ps(y, keep, m);
  // The zero-masked forms: GCC 12 warns (-Wmaybe-uninitialized) inside the unmasked intrinsics.
  const __m512i lo = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, at, 0));
  const __m512i hi = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, at, 1));
  _mm512_mask_storeu_epi64(idx, static_cast<__mmask8>(keep), lo);
  _mm512_mask_storeu_epi64(idx + 8, static_cast<__mmask8>(keep >> 8), hi);
}

/// Max pooling of up to 4 units of one plane, unit u being the block of 16 output columns
/// u % blocks of output row u / blocks (cols: the blocks' tap columns, kw per block; first: their
/// default argmax columns); StrideKind 1, 2, or 0 (gathers). Columns outside the row load as
/// -infinity, and rows outside the plane are read from `pad_row` (-infinity), so no tap needs a
/// mask of its own: -infinity never beats the running maximum. A unit's taps form one dependency
/// chain (compare, select): four units at a time keep the vector units busy.
template <int StrideKind>
inline void max_pool2d_units_avx512(const Pool2dParams& p, const float* xp, const float* pad_row, int64_t u0,
                                    int64_t units, int64_t blocks, const PoolColumnTap* cols,
                                    const PoolColumnTap* first, float* yp, int64_t* ip) {
  constexpr int NU = 4;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t h0[NU];
  const PoolColumnTap* cb[NU];  // the unit's block's tap columns
  __m512 m[NU];
  __m512i best[NU];
#pragma GCC unroll 4
  for (int g = 0; g < NU; ++g) {
    const int64_t u = u0 + std::min<int64_t>(g, units - 1);  // unused slots repeat the last unit, not stored
    cb[g] = cols + (u % blocks) * p.kw;
    h0[g] = (u / blocks) * p.sh - p.ph;
    int64_t hs = h0[g];
    while (hs < 0) hs += p.dh;
    m[g] = neg_inf;
    best[g] = _mm512_add_epi32(_mm512_load_si512(first[u % blocks].iw), _mm512_set1_epi32(static_cast<int>(hs * p.W)));
  }
  for (int64_t r = 0; r < p.kh; ++r) {
    const float* row[NU];
    __m512i row_off[NU];
#pragma GCC unroll 4
    for (int g = 0; g < NU; ++g) {
      const int64_t ih = h0[g] + r * p.dh;
      row[g] = ih >= 0 && ih < p.H ? xp + ih * p.W : pad_row;
      row_off[g] = _mm512_set1_epi32(static_cast<int>(ih * p.W));
    }
    for (int64_t t = 0; t < p.kw; ++t) {
#pragma GCC unroll 4
      for (int g = 0; g < NU; ++g) {
        const PoolColumnTap& c = cb[g][t];
        __m512 v;
        if constexpr (StrideKind == 1) {
          v = _mm512_mask_loadu_ps(neg_inf, c.valid, row[g] + c.base);
        } else if constexpr (StrideKind == 2) {
          // Lanes read columns base + 2*lane: two loads of 16, then the even elements (a gather
          // would issue 16 separate loads). Lanes past the block's outputs are never stored.
          const __m512 a = _mm512_mask_loadu_ps(neg_inf, c.lo, row[g] + c.base);
          const __m512 e = _mm512_mask_loadu_ps(neg_inf, c.hi, row[g] + c.base + 16);
          v = _mm512_permutex2var_ps(a, even, e);
        } else {
          v = _mm512_mask_i32gather_ps(neg_inf, c.valid, _mm512_load_si512(c.iw), row[g], 4);
        }
        const __mmask16 take = _mm512_cmp_ps_mask(v, m[g], _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        m[g] = _mm512_mask_mov_ps(m[g], take, v);
        best[g] = _mm512_mask_add_epi32(best[g], take, _mm512_load_si512(c.iw), row_off[g]);
      }
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < NU; ++g) {  // a constant trip count: m and best stay in registers
    if (g >= units) break;
    const int64_t u = u0 + g, b = u % blocks, o = (u / blocks) * p.Q + b * 16;
    store_pooled16(yp + o, ip + o, m[g], best[g], first[b].valid);
  }
}

/// AVX-512 float max pooling: 16 output columns at a time, the window's taps visited in the scalar
/// order (rows, then columns), padding read as -infinity, so values, argmax (first maximum wins, a
/// later NaN replaces an earlier one, the same default index when nothing beats -inf) and NaN
/// propagation are exactly the scalar kernel's.
/// Stride-1 rows are masked loads, stride-2 rows two loads and a permute, wider strides masked
/// gathers. Planes must fit 32-bit offsets. The columns, masks and default argmax column of each
/// (block of 16 outputs, tap column) are worked out once per call into `cols` (blocks * kw
/// entries) and `first` (blocks entries), not per row and plane, and blocks are pooled 4 at a time
/// (max_pool2d_units_avx512).
inline void max_pool2d_forward_avx512(const Pool2dParams& p, const float* x, float* y, int64_t* idx,
                                      PoolColumnTap* cols, PoolColumnTap* first, float* pad_row) {
  std::fill(pad_row, pad_row + p.W + 32, -std::numeric_limits<float>::infinity());
  const int64_t blocks = (p.Q + 15) / 16;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t ow0 = b * 16, n = std::min<int64_t>(p.Q - ow0, 16);
    PoolColumnTap& f = first[b];  // the scalar kernel's initial argmax column: the first tap column >= 0
    for (int j = 0; j < 16; ++j) {
      int64_t w0 = (ow0 + j) * p.sw - p.pw;
      while (w0 < 0) w0 += p.dw;
      f.iw[j] = j < n ? static_cast<int32_t>(w0) : 0;
    }
    f.valid = lane_mask(n);
    for (int64_t t = 0; t < p.kw; ++t) {
      PoolColumnTap& c = cols[b * p.kw + t];
      __mmask16 valid = 0;
      for (int j = 0; j < 16; ++j) {
        const int64_t iw = (ow0 + j) * p.sw - p.pw + t * p.dw;
        c.iw[j] = j < n ? static_cast<int32_t>(iw) : 0;
        if (j < n && iw >= 0 && iw < p.W) valid = static_cast<__mmask16>(valid | (1u << j));
      }
      c.valid = valid;
      c.base = p.sw == 2 ? 2 * ow0 - p.pw + t * p.dw : ow0 - p.pw + t * p.dw;
      c.lo = valid ? in_row_mask(c.base, p.W) : 0;
      c.hi = valid ? in_row_mask(c.base + 16, p.W) : 0;
    }
  }
  const int64_t units = p.P * blocks;  // per plane
#pragma omp parallel for schedule(static) if (p.planes * p.P * p.Q > 16384)
  for (int64_t pl = 0; pl < p.planes; ++pl) {
    const float* xp = x + pl * p.H * p.W;
    float* yp = y + pl * p.P * p.Q;
    int64_t* ip = idx + pl * p.P * p.Q;
    for (int64_t u0 = 0; u0 < units; u0 += 4) {
      const int64_t nu = std::min<int64_t>(4, units - u0);
      if (p.sw == 1) {
        max_pool2d_units_avx512<1>(p, xp, pad_row, u0, nu, blocks, cols, first, yp, ip);
      } else if (p.sw == 2) {
        max_pool2d_units_avx512<2>(p, xp, pad_row, u0, nu, blocks, cols, first, yp, ip);
      } else {
        max_pool2d_units_avx512<0>(p, xp, pad_row, u0, nu, blocks, cols, first, yp, ip);
      }
    }
  }
}

/// max_pool2d_forward_avx512 with its tables and row of -infinity in the calling thread's scratch:
/// the kernel for the pools max_pool2d_by_row_maxima_applies rejects.
inline void max_pool2d_by_taps_avx512(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
  const int64_t blocks = (p.Q + 15) / 16;
  auto* cols = scratch<PoolColumnTap>(Scratch::Local, blocks * (p.kw + 1));
  // a row of -infinity, with room before it for the (masked-off) columns left of the input
  float* pad_row = scratch<float>(Scratch::Padded, p.W + 64) + 32;
  max_pool2d_forward_avx512(p, x, y, idx, cols + blocks, cols, pad_row);
}

/// A running maximum of 16 lanes and its flat argmax, in the scalar kernel's rule: a later value
/// replaces the maximum when greater, or when NaN.
struct RunningMax16 {
  __m512 m;
  __m512i at;
  [[gnu::always_inline]] void take(__m512 v, __m512i v_at) {
    const __mmask16 t = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_mask_mov_ps(m, t, v);
    at = _mm512_mask_mov_epi32(at, t, v_at);
  }
};

/// The maximum of up to three taps per lane, in the scalar kernel's order: with pw = 1 the columns
/// left (c - 1), center (c) and right (c + 1), the first kw of them; with pw = 0 center and right.
/// at: the center's flat index; row_start: the row's column 0 (the default where column c - 1 is
/// left of the row). The taps are lambdas: a shifted vector costs a permute only when used.
template <class Left, class Right>
[[gnu::always_inline]] inline RunningMax16 max_of_three_taps(Left left, __m512 center, Right right, __m512i at,
                                                             __m512i row_start, int64_t kw, int64_t pw) {
  const __m512i one = _mm512_set1_epi32(1);
  RunningMax16 r;  // (the zero-masked intrinsics: GCC 12 warns, -Wmaybe-uninitialized, in the plain ones)
  if (pw == 1) {
    r.m = left();
    r.at = _mm512_maskz_max_epi32(0xFFFF, _mm512_sub_epi32(at, one), row_start);
    if (kw >= 2) r.take(center, at);
    if (kw >= 3) r.take(right(), _mm512_add_epi32(at, one));
  } else {
    r.m = center;
    r.at = at;
    if (kw >= 2) r.take(right(), _mm512_add_epi32(at, one));
  }
  return r;
}

/// Lane j = value j + Shift of the 32 values lo then hi: with hi holding columns c .. c + 15, Shift
/// 15 gives columns c - 1 .. c + 14; with lo holding them, Shift 1 gives columns c + 1 .. c + 16.
template <int Shift>
[[gnu::always_inline]] inline __m512 columns_from(__m512 lo, __m512 hi) {
  return _mm512_castsi512_ps(
      _mm512_maskz_alignr_epi32(0xFFFF, _mm512_castps_si512(hi), _mm512_castps_si512(lo), Shift));
}

/// The maxima of one input row over each output column's taps (max_pool2d_by_row_maxima_applies),
/// stride 2: hv[q] = the max of row[2q - pw + t], t < kw (columns outside the row count as
/// -infinity), hi[q] = its flat index row_at + column, for q < Q rounded up to 16. A block of 16
/// outputs loads its 32 columns once and splits them into even and odd columns; column 2q - 1 is
/// the odd one shifted in from the block to its left.
inline void row_maxima_s2(const float* row, int64_t W, int64_t Q, int64_t kw, int64_t pw, int32_t row_at, float* hv,
                          int32_t* hi) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1)), row_start = _mm512_set1_epi32(row_at);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 odd_left = neg_inf;  // the previous block's odd columns: its lane 15 is column 2*q0 - 1
  for (int64_t q0 = 0; q0 < Q; q0 += 16) {
    const int64_t c0 = 2 * q0;
    __m512 a, b;
    if (c0 + 32 <= W) {
      a = _mm512_loadu_ps(row + c0);
      b = _mm512_loadu_ps(row + c0 + 16);
    } else {
      a = _mm512_mask_loadu_ps(neg_inf, lane_mask(W - c0), row + c0);
      b = _mm512_mask_loadu_ps(neg_inf, lane_mask(W - c0 - 16), row + c0 + 16);
    }
    const __m512 e = _mm512_permutex2var_ps(a, even, b), o = _mm512_permutex2var_ps(a, odd, b);
    const __m512i at = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(row_at + c0)), even);
    const RunningMax16 r = max_of_three_taps([&] { return columns_from<15>(odd_left, o); }, e, [&] { return o; }, at,
                                             row_start, kw, pw);
    odd_left = o;
    _mm512_store_ps(hv + q0, r.m);
    _mm512_store_si512(hi + q0, r.at);
  }
}

/// row_maxima_s2 for stride 1: hv[q] = the max of row[q - pw + t], t < kw. Each block of 16 columns
/// is loaded once; columns q - 1 and q + 1 are shifted in from the blocks to its left and right.
inline void row_maxima_s1(const float* row, int64_t W, int64_t Q, int64_t kw, int64_t pw, int32_t row_at, float* hv,
                          int32_t* hi) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i row_start = _mm512_set1_epi32(row_at);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const auto load = [&](int64_t c0) {  // columns c0 .. c0 + 15, -infinity outside the row
    return c0 + 16 <= W ? _mm512_loadu_ps(row + c0) : _mm512_mask_loadu_ps(neg_inf, lane_mask(W - c0), row + c0);
  };
  __m512 left = neg_inf, cur = load(0);  // left: columns q0 - 16 .. q0 - 1
  for (int64_t q0 = 0; q0 < Q; q0 += 16) {
    const __m512 right = load(q0 + 16);
    const __m512i at = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(row_at + q0)), lanes);
    const RunningMax16 r = max_of_three_taps([&] { return columns_from<15>(left, cur); }, cur,
                                             [&] { return columns_from<1>(cur, right); }, at, row_start, kw, pw);
    left = cur;
    cur = right;
    _mm512_store_ps(hv + q0, r.m);
    _mm512_store_si512(hi + q0, r.at);
  }
}

/// AVX-512 float max pooling for max_pool2d_by_row_maxima_applies: each input row's maxima over the
/// window columns (row_maxima_s2, row_maxima_s1) first, computed once and kept for every output
/// row that uses the row, then the maxima of those down the window rows. The order of visits is
/// the scalar kernel's (rows, then columns, greater or NaN replaces), so values and argmax are
/// identical to it: a row's first maximum (or last NaN) wins within the row, and an earlier row's
/// wins over a later row's equal one. ResNet's 3x3 stride-2 pool over 112x112 maps reduces, per
/// output row, 2 new input rows over 3 columns and then 3 rows: 1.9-3.7x faster than visiting the
/// 9 taps of each window (A/B runs on 1 and 2 threads; 3x3 stride-1 pools 1.7-2.2x).
/// hv, hi: H rows of Q rounded up to 16 values each, the calling thread's.
inline void max_pool2d_plane_by_row_maxima_avx512(const Pool2dParams& p, const float* xp, float* yp, int64_t* ip,
                                                  float* hv, int32_t* hi) {
  const int64_t Qp = (p.Q + 15) / 16 * 16;
  const __m512i lane_col = p.sw == 2  // lane j's first column, relative to the block's
                               ? _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
                               : _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const auto row_maxima = p.sw == 2 ? row_maxima_s2 : row_maxima_s1;
  int64_t done = 0;  // rows [0, done) have their maxima in hv, hi
  for (int64_t i = 0; i < p.P; ++i) {
    // Named fields, not a structured binding: clang 14 rejects one used inside an OpenMP region.
    const PoolTaps rows = pool_taps(i, p.sh, p.ph, p.dh, p.kh, p.H);
    const int64_t h0 = rows.first, h1 = rows.end;
    for (; done < h1; ++done)
      row_maxima(xp + done * p.W, p.W, p.Q, p.kw, p.pw, static_cast<int32_t>(done * p.W), hv + done * Qp,
                 hi + done * Qp);
    for (int64_t q0 = 0; q0 < p.Q; q0 += 16) {
      RunningMax16 r;
      if (h0 < h1) {
        r = {_mm512_load_ps(hv + h0 * Qp + q0), _mm512_load_si512(hi + h0 * Qp + q0)};
        for (int64_t ih = h0 + p.dh; ih < h1; ih += p.dh)
          r.take(_mm512_load_ps(hv + ih * Qp + q0), _mm512_load_si512(hi + ih * Qp + q0));
      } else {  // dilation steps over every row: -infinity, at the scalar kernel's default offset
        const __m512i col = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(q0 * p.sw - p.pw)), lane_col);
        r.m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        r.at = _mm512_add_epi32(_mm512_maskz_max_epi32(0xFFFF, col, _mm512_setzero_si512()),
                                _mm512_set1_epi32(static_cast<int32_t>(h0 * p.W)));
      }
      const int64_t o = i * p.Q + q0;
      store_pooled16(yp + o, ip + o, r.m, r.at, lane_mask(p.Q - q0));
    }
  }
}

/// max_pool2d_plane_by_row_maxima_avx512 over all planes, in parallel, each thread with its own
/// row maxima.
inline void max_pool2d_by_row_maxima_avx512(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
  const int64_t Qp = (p.Q + 15) / 16 * 16;
#pragma omp parallel if (p.planes * p.P * p.Q > 16384)
  {
    float* hv = scratch<float>(Scratch::Local, p.H * Qp);
    int32_t* hi = scratch<int32_t>(Scratch::Offsets, p.H * Qp);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < p.planes; ++pl)
      max_pool2d_plane_by_row_maxima_avx512(p, x + pl * p.H * p.W, y + pl * p.P * p.Q, idx + pl * p.P * p.Q, hv, hi);
  }
}
#endif

TL_KERNELS_END
