#pragma once
// Micro-kernels whose A operand is not packed: row i of the MR x kc A panel is read through the
// pointer a[i]. B is packed (kc groups of NR).
//   run(kc, a, b, rows, c, ldc, accumulate):            A(i, k) = a[i][k]
//   run_indirect(kc, a, off, b, rows, c, ldc, accumulate): A(i, k) = a[i][off[k]]
//   both: C[rows x NR] (+)= A * B_panel, rows <= MR
// The implicit weight gradient (conv2d_implicit_weight_grad.hpp) points the rows at the image, one
// per kernel tap; the indirect convolution (conv2d_indirect.hpp) points them at output positions'
// windows and reads the taps through off. Either way no im2col copy is made. All MR row pointers
// must be readable where A is read; rows past `rows` are computed, not stored.
// NarrowRowsMicroKernel<T> is the same contract (run only) for B panels at most 16 wide.
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_ukernel.hpp"

TL_KERNELS_BEGIN

/// Portable version, the same loops as GenericMicroKernel.
template <class T, int MR, int NR>
struct GenericRowsMicroKernel {
  static constexpr int mr = MR, nr = NR;
  static void run(int64_t kc, const T* const* a, const T* __restrict b, int64_t rows, T* __restrict c, int64_t ldc,
                  bool accumulate) {
    loop<false>(kc, a, nullptr, b, rows, c, ldc, accumulate);
  }
  static void run_indirect(int64_t kc, const T* const* a, const int64_t* __restrict off, const T* __restrict b,
                           int64_t rows, T* __restrict c, int64_t ldc, bool accumulate) {
    loop<true>(kc, a, off, b, rows, c, ldc, accumulate);
  }

 private:
  template <bool Indirect>
  static void loop(int64_t kc, const T* const* a, const int64_t* __restrict off, const T* __restrict b, int64_t rows,
                   T* __restrict c, int64_t ldc, bool accumulate) {
    T acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      for (int i = 0; i < MR; ++i) {
        const T ai = a[i][Indirect ? off[k] : k];
#pragma omp simd
        for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
      }
      b += NR;
    }
    for (int64_t i = 0; i < rows; ++i)
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 float, 8 x 32 like Avx512MicroKernelF32, A broadcast from 8 row pointers.
struct Avx512RowsMicroKernelF32 {
  static constexpr int mr = 8, nr = 32;
  static void run(int64_t kc, const float* const* a, const float* __restrict b, int64_t rows, float* __restrict c,
                  int64_t ldc, bool accumulate) {
    loop<false>(kc, a, nullptr, b, rows, c, ldc, accumulate);
  }
  static void run_indirect(int64_t kc, const float* const* a, const int64_t* __restrict off, const float* __restrict b,
                           int64_t rows, float* __restrict c, int64_t ldc, bool accumulate) {
    loop<true>(kc, a, off, b, rows, c, ldc, accumulate);
  }

 private:
  template <bool Indirect>
  static void loop(int64_t kc, const float* const* a, const int64_t* __restrict off, const float* __restrict b,
                   int64_t rows, float* __restrict c, int64_t ldc, bool accumulate) {
    const float* r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = a[i];
    __m512 c0[8], c1[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        const __m512 ai = _mm512_set1_ps(r[i][Indirect ? off[k] : k]);
        c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
      }
      b += 32;
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      if (i < rows) store_row_avx512(c + i * ldc, c0[i], c1[i], accumulate);
  }
};
#endif

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 float, 8 x 16 (run only): for B panels 16 wide, e.g. the weight gradient of a layer with
/// 16 outputs, where the 8 x 32 tile would be half empty. Each row has two accumulators, fed from
/// depths k and k + 64 of each 128-deep step (the second address is the first plus a constant), and
/// summed at the end: 16 independent chains of multiply-adds, as in the 8 x 32 tile.
struct Avx512NarrowRowsMicroKernelF32 {
  static constexpr int mr = 8, nr = 16;
  static void run(int64_t kc, const float* const* a, const float* __restrict b, int64_t rows, float* __restrict c,
                  int64_t ldc, bool accumulate) {
    constexpr int64_t H = 64;
    const float* r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = a[i];
    __m512 c0[8], c1[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 2 * H <= kc; k += 2 * H)
      for (int64_t kk = k; kk < k + H; ++kk) {
        const __m512 b0 = _mm512_loadu_ps(b + kk * 16), b1 = _mm512_loadu_ps(b + (kk + H) * 16);
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
          c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(r[i][kk]), b0, c0[i]);
          c1[i] = _mm512_fmadd_ps(_mm512_set1_ps(r[i][kk + H]), b1, c1[i]);
        }
      }
    for (; k < kc; ++k) {
      const __m512 b0 = _mm512_loadu_ps(b + k * 16);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(r[i][k]), b0, c0[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      if (i >= rows) break;
      __m512 v = _mm512_add_ps(c0[i], c1[i]);
      if (accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(c + i * ldc));
      _mm512_storeu_ps(c + i * ldc, v);
    }
  }
};
#endif

#if defined(TL_KERNELS_ISA_AVX2)
/// AVX2+FMA float, 6 x 16 like Avx2MicroKernelF32.
struct Avx2RowsMicroKernelF32 {
  static constexpr int mr = 6, nr = 16;
  static void run(int64_t kc, const float* const* a, const float* __restrict b, int64_t rows, float* __restrict c,
                  int64_t ldc, bool accumulate) {
    loop<false>(kc, a, nullptr, b, rows, c, ldc, accumulate);
  }
  static void run_indirect(int64_t kc, const float* const* a, const int64_t* __restrict off, const float* __restrict b,
                           int64_t rows, float* __restrict c, int64_t ldc, bool accumulate) {
    loop<true>(kc, a, off, b, rows, c, ldc, accumulate);
  }

 private:
  template <bool Indirect>
  static void loop(int64_t kc, const float* const* a, const int64_t* __restrict off, const float* __restrict b,
                   int64_t rows, float* __restrict c, int64_t ldc, bool accumulate) {
    const float* r[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) r[i] = a[i];
    __m256 c0[6], c1[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
      for (int i = 0; i < 6; ++i) {
        const __m256 ai = _mm256_broadcast_ss(r[i] + (Indirect ? off[k] : k));
        c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
      }
      b += 16;
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i)
      if (i < rows) store_row_avx2(c + i * ldc, c0[i], c1[i], accumulate);
  }
};
#endif

/// The row-pointer micro-kernel for T (same tile as MicroKernel<T>).
template <class T>
struct RowsMicroKernel : GenericRowsMicroKernel<T, 4, 8> {};

#if defined(TL_KERNELS_ISA_AVX512)
template <>
struct RowsMicroKernel<float> : Avx512RowsMicroKernelF32 {};
template <>
struct RowsMicroKernel<double> : GenericRowsMicroKernel<double, 8, 16> {};
#elif defined(TL_KERNELS_ISA_AVX2)
template <>
struct RowsMicroKernel<float> : Avx2RowsMicroKernelF32 {};
template <>
struct RowsMicroKernel<double> : GenericRowsMicroKernel<double, 4, 8> {};
#else
template <>
struct RowsMicroKernel<float> : GenericRowsMicroKernel<float, 6, 16> {};
#endif

/// The row-pointer micro-kernel for B panels at most 16 wide (run only): RowsMicroKernel<T> where
/// that tile is 16 wide or less already.
template <class T>
struct NarrowRowsMicroKernel : RowsMicroKernel<T> {};
#if defined(TL_KERNELS_ISA_AVX512)
template <>
struct NarrowRowsMicroKernel<float> : Avx512NarrowRowsMicroKernelF32 {};
#endif

TL_KERNELS_END
