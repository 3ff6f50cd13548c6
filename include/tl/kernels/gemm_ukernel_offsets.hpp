#pragma once
// Micro-kernels whose B operand is not packed: row k of the kc x nr B panel is the nr consecutive
// values at b + off[k]. The implicit-GEMM convolution (conv2d_implicit.hpp) points them straight at
// the image: off[k] is the shift of tap k, so no im2col copy is made. A is packed as for the GEMM
// micro-kernels (gemm_pack.hpp: kc groups of MR values).
//   run(kc, a, b, off, mr, nr, c, ldc, accumulate):  C[mr x nr] (+)= A_panel * B(b, off)
// mr <= MR rows and nr <= NR columns of C are written; columns past nr are never read from B.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_ukernel.hpp"
#include "tl/kernels/lane_mask.hpp"

TL_KERNELS_BEGIN

/// Portable version: copies each B row into a zero-padded NR-wide line, then the same loops as
/// GenericMicroKernel. Used for double, and for float without AVX-512/AVX2.
template <class T, int MR, int NR>
struct GenericOffsetMicroKernel {
  static constexpr int mr = MR, nr = NR;
  static constexpr bool compacts = false;  // no run_compact: the caller compacts its tiles
  static void run(int64_t kc, const T* __restrict a, const T* b, const int64_t* __restrict off, int64_t rows,
                  int64_t cols, T* __restrict c, int64_t ldc, bool accumulate,
                  bool = false) {
    T acc[MR][NR] = {};
    T line[NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      const T* bk = b + off[k];
      for (int64_t j = 0; j < cols; ++j) line[j] = bk[j];
      for (int i = 0; i < MR; ++i) {
        const T ai = a[i];
#pragma omp simd
        for (int j = 0; j < NR; ++j) acc[i][j] += ai * line[j];
      }
      a += MR;
    }
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 float, 8 x 32 like Avx512MicroKernelF32. Full-width tiles use plain loads (a masked
/// load costs an extra uop on the FMA ports); tiles narrower than 32 use masked loads and stores,
/// which never touch memory past column nr.
///   run_compact(kc, a, b, off, rows, cols, keep, c, ldc, accumulate, prefetch_next): as run, but
///   row i goes to c + i*ldc with only the lanes set in `keep` (of the first cols), stored one after
///   the other: the implicit GEMM writes its tiles into y without the wrap columns.
struct Avx512OffsetMicroKernelF32 {
  static constexpr int mr = 8, nr = 32;
  static constexpr bool compacts = true;
  static void run(int64_t kc, const float* __restrict a, const float* b, const int64_t* __restrict off,
                  int64_t rows, int64_t cols, float* __restrict c, int64_t ldc, bool accumulate,
                  bool prefetch_next = false) {
    __m512 c0[8], c1[8];
    const __mmask16 m0 = lane_mask(cols), m1 = lane_mask(cols - 16);
    products(kc, a, b, off, cols, m0, m1, prefetch_next, c0, c1);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      if (i >= rows) break;
      float* ci = c + i * ldc;
      if (cols == 32) {
        store_row_avx512(ci, c0[i], c1[i], accumulate);
      } else {
        if (accumulate) {
          c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, ci));
          c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        _mm512_mask_storeu_ps(ci, m0, c0[i]);
        _mm512_mask_storeu_ps(ci + 16, m1, c1[i]);
      }
    }
  }
  static void run_compact(int64_t kc, const float* __restrict a, const float* b, const int64_t* __restrict off,
                          int64_t rows, int64_t cols, uint32_t keep, float* __restrict c, int64_t ldc, bool accumulate,
                          bool prefetch_next = false) {
    __m512 c0[8], c1[8];
    products(kc, a, b, off, cols, lane_mask(cols), lane_mask(cols - 16), prefetch_next, c0, c1);
    const __mmask16 k0 = __mmask16(keep), k1 = __mmask16(keep >> 16);
    const int n0 = __builtin_popcount(k0);
    const __mmask16 s0 = lane_mask(n0), s1 = lane_mask(__builtin_popcount(k1));
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      if (i >= rows) break;
      float* ci = c + i * ldc;
      __m512 v0 = _mm512_maskz_compress_ps(k0, c0[i]), v1 = _mm512_maskz_compress_ps(k1, c1[i]);
      if (accumulate) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(s0, ci));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(s1, ci + n0));
      }
      _mm512_mask_storeu_ps(ci, s0, v0);
      _mm512_mask_storeu_ps(ci + n0, s1, v1);
    }
  }

 private:
  /// c0/c1[i] = row i of A_panel * B(b, off), columns 0-15 and 16-31 (masked loads when cols < 32).
  [[gnu::always_inline]] static void products(int64_t kc, const float* __restrict a, const float* b, const int64_t* __restrict off,
                       int64_t cols, __mmask16 m0, __mmask16 m1, bool prefetch_next, __m512* c0, __m512* c1) {
    if (cols == 32) {
      if (prefetch_next) return loop<true, true>(kc, a, b, off, m0, m1, c0, c1);
      return loop<true, false>(kc, a, b, off, m0, m1, c0, c1);
    }
    loop<false, false>(kc, a, b, off, m0, m1, c0, c1);
  }
  template <bool Full, bool Prefetch>
  [[gnu::always_inline]] static void loop(int64_t kc, const float* __restrict a, const float* b,
                                          const int64_t* __restrict off, __mmask16 m0, __mmask16 m1, __m512* c0,
                                          __m512* c1) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const float* bk = b + off[k];
      const __m512 b0 = Full ? _mm512_loadu_ps(bk) : _mm512_maskz_loadu_ps(m0, bk);
      const __m512 b1 = Full ? _mm512_loadu_ps(bk + 16) : _mm512_maskz_loadu_ps(m1, bk + 16);
      if (Prefetch) {  // the next tile's lines of this row (3 when unaligned)
        _mm_prefetch(reinterpret_cast<const char*>(bk + 32), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(bk + 48), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(bk + 63), _MM_HINT_T0);
      }
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m512 ai = _mm512_set1_ps(a[i]);
        c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
      }
      a += 8;
    }
  }
};
#endif

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 float for GEMMs with very few rows (the backward data of a stem, whose dX has 3
/// channels): MR rows x NV vectors of 16 columns. An 8 x 32 tile would leave 5 of its 8 rows
/// empty; here MR*NV accumulators (24 for 3 x 8) share each broadcast of A over NV loads of B.
/// Same interface as Avx512OffsetMicroKernelF32::run (no run_compact); A packed in MR-row panels.
template <int MR, int NV>
struct Avx512FewRowsOffsetMicroKernelF32 {
  static_assert(MR * NV + MR + 1 <= 32, "accumulators, broadcasts and one B vector in 32 registers");
  static constexpr int mr = MR, nr = 16 * NV;
  static constexpr bool compacts = false;
  static void run(int64_t kc, const float* __restrict a, const float* b, const int64_t* __restrict off,
                  int64_t rows, int64_t cols, float* __restrict c, int64_t ldc, bool accumulate, bool = false) {
    __m512 acc[MR][NV];
    __mmask16 m[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) m[v] = lane_mask(cols - 16 * v);
    if (cols == nr) {
      loop<true>(kc, a, b, off, m, acc);
    } else {
      loop<false>(kc, a, b, off, m, acc);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      if (i >= rows) break;
      float* ci = c + i * ldc;
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) {
        if (accumulate) acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_maskz_loadu_ps(m[v], ci + 16 * v));
        _mm512_mask_storeu_ps(ci + 16 * v, m[v], acc[i][v]);
      }
    }
  }

 private:
  template <bool Full>
  [[gnu::always_inline]] static void loop(int64_t kc, const float* __restrict a, const float* b,
                                          const int64_t* __restrict off, const __mmask16* m, __m512 (*acc)[NV]) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const float* bk = b + off[k];
      __m512 ai[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) ai[i] = _mm512_set1_ps(a[i]);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) {
        __m512 bv = Full ? _mm512_loadu_ps(bk + 16 * v) : _mm512_maskz_loadu_ps(m[v], bk + 16 * v);
        // Keep bv in a register: GCC otherwise folds the load into each of the MR FMAs (MR loads
        // of the same, usually line-splitting, vector: 45% of peak in L1 instead of 90%+)
        asm("" : "+v"(bv));
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_fmadd_ps(ai[i], bv, acc[i][v]);
      }
      a += MR;
    }
  }
};
#endif

#if defined(TL_KERNELS_ISA_AVX2)
/// AVX2+FMA float, 6 x 16 like Avx2MicroKernelF32; narrow tiles use vmaskmov loads and stores.
struct Avx2OffsetMicroKernelF32 {
  static constexpr int mr = 6, nr = 16;
  static constexpr bool compacts = false;
  static void run(int64_t kc, const float* __restrict a, const float* b, const int64_t* __restrict off,
                  int64_t rows, int64_t cols, float* __restrict c, int64_t ldc, bool accumulate, bool = false) {
    if (cols == 16) return loop<true>(kc, a, b, off, rows, _mm256_setzero_si256(), _mm256_setzero_si256(), c, ldc,
                                      accumulate);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(cols)), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(cols) - 8), lane);
    loop<false>(kc, a, b, off, rows, m0, m1, c, ldc, accumulate);
  }

 private:
  template <bool Full>
  static void loop(int64_t kc, const float* __restrict a, const float* b, const int64_t* __restrict off,
                   int64_t rows, __m256i m0, __m256i m1, float* __restrict c, int64_t ldc, bool accumulate) {
    __m256 c0[6], c1[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const float* bk = b + off[k];
      const __m256 b0 = Full ? _mm256_loadu_ps(bk) : _mm256_maskload_ps(bk, m0);
      const __m256 b1 = Full ? _mm256_loadu_ps(bk + 8) : _mm256_maskload_ps(bk + 8, m1);
#pragma GCC unroll 6
      for (int i = 0; i < 6; ++i) {
        const __m256 ai = _mm256_broadcast_ss(a + i);
        c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
      }
      a += 6;
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
      if (i >= rows) break;
      float* ci = c + i * ldc;
      if (Full) {
        store_row_avx2(ci, c0[i], c1[i], accumulate);
      } else {
        if (accumulate) {
          c0[i] = _mm256_add_ps(c0[i], _mm256_maskload_ps(ci, m0));
          c1[i] = _mm256_add_ps(c1[i], _mm256_maskload_ps(ci + 8, m1));
        }
        _mm256_maskstore_ps(ci, m0, c0[i]);
        _mm256_maskstore_ps(ci + 8, m1, c1[i]);
      }
    }
  }
};
#endif

/// The offset micro-kernel for T; its tile (mr x nr) equals MicroKernel<T>'s, so A packed for
/// one serves the other.
template <class T>
struct OffsetMicroKernel : GenericOffsetMicroKernel<T, 4, 8> {};

#if defined(TL_KERNELS_ISA_AVX512)
template <>
struct OffsetMicroKernel<float> : Avx512OffsetMicroKernelF32 {};
template <>
struct OffsetMicroKernel<double> : GenericOffsetMicroKernel<double, 8, 16> {};
#elif defined(TL_KERNELS_ISA_AVX2)
template <>
struct OffsetMicroKernel<float> : Avx2OffsetMicroKernelF32 {};
template <>
struct OffsetMicroKernel<double> : GenericOffsetMicroKernel<double, 4, 8> {};
#else
template <>
struct OffsetMicroKernel<float> : GenericOffsetMicroKernel<float, 6, 16> {};
#endif

TL_KERNELS_END
