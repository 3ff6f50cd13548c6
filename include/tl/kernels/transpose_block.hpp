#pragma once
// Transposed packing: a block of rows (channels) laid out as NR-wide panels (pack_rows_transposed),
// and back (unpack_rows_transposed), with an in-register 8 x 16 transpose on AVX-512 and a scalar
// path elsewhere; and an 8 x 8 register transpose (transpose_8x8).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "tl/kernels/gemm_config.hpp"

TL_KERNELS_BEGIN

#if defined(TL_KERNELS_ISA_AVX512)
/// out[k*ld + i] = rows[i][k] for 8 rows and k < 16: an 8 x 16 block transposed in registers.
inline void transpose_8x16(const float* const* rows, float* out, int64_t ld) {
  __m512 r[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) r[i] = _mm512_loadu_ps(rows[i]);
  // (The zero-masked forms: GCC 12 warns inside the unmasked intrinsics, see pooling.hpp.)
  // Per 128-bit lane l: t[2j] = [r2j[4l], r2j+1[4l], r2j[4l+1], r2j+1[4l+1]], t[2j+1] the same at 4l+2, 4l+3.
  __m512 t[8];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    t[2 * j] = _mm512_maskz_unpacklo_ps(0xFFFF, r[2 * j], r[2 * j + 1]);
    t[2 * j + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[2 * j], r[2 * j + 1]);
  }
  // u[m] (rows 0-3) and u[4 + m] (rows 4-7) hold, in lane l, the 4 rows' values at k = 4l + m.
  auto lo_pd = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, _mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  auto hi_pd = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, _mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  const __m512 u[8] = {lo_pd(t[0], t[2]), hi_pd(t[0], t[2]), lo_pd(t[1], t[3]), hi_pd(t[1], t[3]),
                       lo_pd(t[4], t[6]), hi_pd(t[4], t[6]), lo_pd(t[5], t[7]), hi_pd(t[5], t[7])};
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  auto store = [&](__m512 v, int64_t k_lo, int64_t k_hi) {  // its halves go to rows k_lo and k_hi of out
    _mm256_storeu_ps(out + k_lo * ld, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(v), 0)));
    _mm256_storeu_ps(out + k_hi * ld, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(v), 1)));
  };
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {
    store(_mm512_permutex2var_ps(u[m], first, u[4 + m]), m, 4 + m);        // lanes 0, 1
    store(_mm512_permutex2var_ps(u[m], second, u[4 + m]), 8 + m, 12 + m);  // lanes 2, 3
  }
}
#endif

#if defined(TL_KERNELS_ISA_AVX512)
/// r[t] lane i = r[i] lane t: an 8 x 8 block transposed in registers.
inline void transpose_8x8(__m256 r[8]) {
  __m256 t[8], q[8];
  for (int j = 0; j < 4; ++j) {
    t[2 * j] = _mm256_unpacklo_ps(r[2 * j], r[2 * j + 1]);
    t[2 * j + 1] = _mm256_unpackhi_ps(r[2 * j], r[2 * j + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3 (h = 0) and 4-7
    q[4 * h] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    q[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
    q[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    q[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(q[j], q[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(q[j], q[4 + j], 0x31);
  }
}
#endif

/// dst[t*NR + j] = j < rows ? src[j*ld + t] : 0 for t < len, j < NR: `rows` (<= NR) rows of `len`
/// values, ld apart, packed as len lines of NR (the packed operand of a micro-kernel NR wide).
template <int NR, class T>
void pack_rows_transposed(const T* src, int64_t ld, int64_t rows, int64_t len, T* dst) {
  int64_t j = 0;
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float> && NR % 8 == 0) {
    for (; j + 8 <= rows; j += 8) {  // 8 rows x 16 values in registers
      const float* r[8];
      for (int i = 0; i < 8; ++i) r[i] = src + (j + i) * ld;
      int64_t t = 0;
      for (; t + 16 <= len; t += 16) {
        transpose_8x16(r, dst + t * NR + j, NR);
        for (auto& ri : r) ri += 16;
      }
      for (; t < len; ++t)
        for (int i = 0; i < 8; ++i) dst[t * NR + j + i] = src[(j + i) * ld + t];
    }
  }
#endif
  for (; j < rows; ++j)
    for (int64_t t = 0; t < len; ++t) dst[t * NR + j] = src[j * ld + t];
  if (rows < NR)  // the columns past `rows`: a contiguous run per line
    for (int64_t t = 0; t < len; ++t) std::fill(dst + t * NR + rows, dst + t * NR + NR, T(0));
}

/// The inverse of pack_rows_transposed: dst[j*ld + t] = src[t*NR + j] for t < len, j < cols (<= NR):
/// len lines of NR values written back as cols rows of len values, ld apart.
template <int NR, class T>
void unpack_rows_transposed(const T* src, int64_t len, int64_t cols, T* dst, int64_t ld) {
  int64_t t = 0;
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float> && NR % 16 == 0) {
    for (; t + 8 <= len; t += 8) {  // 8 lines x 16 values in registers
      int64_t j = 0;
      for (; j + 16 <= cols; j += 16) {
        const float* r[8];
        for (int i = 0; i < 8; ++i) r[i] = src + (t + i) * NR + j;
        transpose_8x16(r, dst + j * ld + t, ld);
      }
      for (; j < cols; ++j)
        for (int64_t i = 0; i < 8; ++i) dst[j * ld + t + i] = src[(t + i) * NR + j];
    }
  }
#endif
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t e = t; e < len; ++e) dst[j * ld + e] = src[e * NR + j];
}

TL_KERNELS_END
