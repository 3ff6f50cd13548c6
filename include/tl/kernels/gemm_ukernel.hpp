#pragma once
// GEMM micro-kernels: C[MR x NR] (+)= A_panel * B_panel over a depth kc, where the panels are
// packed (gemm_pack.hpp): A as kc groups of MR values (one per row), B as kc groups of NR values.
// The accumulators live in registers for the whole depth; C is touched once, at the end.
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"

TL_KERNELS_BEGIN

/// Portable micro-kernel: plain loops over a small accumulator array; with -O3 the compiler keeps it
/// in registers and vectorises the NR loop. Used for double, and for float on TL_KERNELS_GENERIC.
template <class T, int MR, int NR>
struct GenericMicroKernel {
  static constexpr int mr = MR, nr = NR;
  static void run(int64_t kc, const T* __restrict a, const T* __restrict b, T* __restrict c, int64_t ldc,
                  bool accumulate) {
    T acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      for (int i = 0; i < MR; ++i) {
        const T ai = a[i];
#pragma omp simd
        for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
      }
      a += MR;
      b += NR;
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};

#if defined(TL_KERNELS_ISA_AVX512)
/// Writes one 32-float row of a finished tile (two accumulators) to c, or adds it to c.
inline void store_row_avx512(float* c, __m512 lo, __m512 hi, bool accumulate) {
  if (accumulate) {
    lo = _mm512_add_ps(lo, _mm512_loadu_ps(c));
    hi = _mm512_add_ps(hi, _mm512_loadu_ps(c + 16));
  }
  _mm512_storeu_ps(c, lo);
  _mm512_storeu_ps(c + 16, hi);
}
#endif

#if defined(TL_KERNELS_ISA_AVX2)
/// Writes one 16-float row of a finished tile (two accumulators) to c, or adds it to c.
inline void store_row_avx2(float* c, __m256 lo, __m256 hi, bool accumulate) {
  if (accumulate) {
    lo = _mm256_add_ps(lo, _mm256_loadu_ps(c));
    hi = _mm256_add_ps(hi, _mm256_loadu_ps(c + 8));
  }
  _mm256_storeu_ps(c, lo);
  _mm256_storeu_ps(c + 8, hi);
}
#endif

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 float: 8 rows x 32 columns = 16 zmm accumulators, 2 zmm for B, A broadcast from memory
/// (folded into the FMA). 16 independent FMA chains cover 2 FMA pipes x 4 cycles latency twice, and
/// 8 rows divide every ResNet channel count (16..2048), so no rows of a tile are wasted (12 rows
/// would leave 11% of the tiles empty on K = 64).
struct Avx512MicroKernelF32 {
  static constexpr int mr = 8, nr = 32;
  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, bool accumulate) {
    __m512 c0[8], c1[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      _mm_prefetch(reinterpret_cast<const char*>(b + 8 * 32), _MM_HINT_T0);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m512 ai = _mm512_set1_ps(a[i]);
        c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
      }
      a += 8;
      b += 32;
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) store_row_avx512(c + i * ldc, c0[i], c1[i], accumulate);
  }
};
#endif

#if defined(TL_KERNELS_ISA_AVX2)
/// AVX2+FMA float: 6 rows x 16 columns = 12 ymm accumulators, 2 for B, 1 broadcast (15 of 16 regs).
struct Avx2MicroKernelF32 {
  static constexpr int mr = 6, nr = 16;
  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, bool accumulate) {
    __m256 c0[6], c1[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
      for (int i = 0; i < 6; ++i) {
        const __m256 ai = _mm256_broadcast_ss(a + i);
        c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
      }
      a += 6;
      b += 16;
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) store_row_avx2(c + i * ldc, c0[i], c1[i], accumulate);
  }
};
#endif

/// The micro-kernel used for element type T with the compiled-in instruction set.
template <class T>
struct MicroKernel : GenericMicroKernel<T, 4, 8> {};

#if defined(TL_KERNELS_ISA_AVX512)
template <>
struct MicroKernel<float> : Avx512MicroKernelF32 {};
template <>
struct MicroKernel<double> : GenericMicroKernel<double, 8, 16> {};
#elif defined(TL_KERNELS_ISA_AVX2)
template <>
struct MicroKernel<float> : Avx2MicroKernelF32 {};
template <>
struct MicroKernel<double> : GenericMicroKernel<double, 4, 8> {};
#else
template <>
struct MicroKernel<float> : GenericMicroKernel<float, 6, 16> {};
#endif

TL_KERNELS_END
