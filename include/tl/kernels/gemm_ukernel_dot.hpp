#pragma once
// Dot-product micro-kernels: DT x KT dot products of rows n values long, vectorised along the rows.
//   run(rows, n, x, xs, y, ys, out): out[(i*KT + j)*V + v] += the sum over rows r < rows and
//   l < n, l % V == v, of x[i][r*xs + l] * y[j][r*ys + l], for i < DT, j < KT; V = lanes.
// Each of the DT*KT sums stays in V lanes (reduced by the caller, once at the end), so a step is
// DT + KT loads for DT*KT multiply-adds and no broadcast.
// The weight gradient of layers with few outputs (conv2d_dot_weight_grad.hpp) runs on it: there the
// GEMM tiles, whose columns are the outputs, are narrow and need a broadcast per multiply-add.
// Rows are read exactly n values long (the AVX-512 tail is a masked load).
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"

TL_KERNELS_BEGIN

/// Portable version, the same sums in plain loops.
template <class T, int DT, int KT, int V>
struct GenericDotMicroKernel {
  static constexpr int dt = DT, kt = KT, lanes = V;
  static constexpr bool tuned = false;  // not measured against the GEMM weight gradients
  static void run(int64_t rows, int64_t n, const T* const* x, int64_t xs, const T* const* y, int64_t ys,
                  T* __restrict out) {
    T acc[DT][KT][V] = {};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t l0 = 0; l0 < n; l0 += V) {
        const int m = static_cast<int>(std::min<int64_t>(V, n - l0));
        for (int i = 0; i < DT; ++i)
          for (int j = 0; j < KT; ++j)
            for (int v = 0; v < m; ++v) acc[i][j][v] += x[i][r * xs + l0 + v] * y[j][r * ys + l0 + v];
      }
    for (int i = 0; i < DT; ++i)
      for (int j = 0; j < KT; ++j)
        for (int v = 0; v < V; ++v) out[(i * KT + j) * V + v] += acc[i][j][v];
  }
};

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 float: DT*KT accumulators, KT y vectors and one x vector in the 32 registers.
template <int DT, int KT>
struct Avx512DotMicroKernelF32 {
  static_assert(DT * KT + KT + 1 <= 32, "accumulators, y and x must fit the 32 registers");
  static constexpr int dt = DT, kt = KT, lanes = 16;
  static constexpr bool tuned = true;  // conv2d_dot_weight_grad_preferred's rule was measured with it
  static void run(int64_t rows, int64_t n, const float* const* x, int64_t xs, const float* const* y, int64_t ys,
                  float* __restrict out) {
    const float* xr[DT];
    const float* yr[KT];
#pragma GCC unroll 8
    for (int i = 0; i < DT; ++i) xr[i] = x[i];
#pragma GCC unroll 8
    for (int j = 0; j < KT; ++j) yr[j] = y[j];
    __m512 acc[DT][KT];
#pragma GCC unroll 8
    for (int i = 0; i < DT; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < KT; ++j) acc[i][j] = _mm512_setzero_ps();
    auto step = [&](int64_t lx, int64_t ly, __mmask16 m) {
      __m512 yv[KT];
#pragma GCC unroll 8
      for (int j = 0; j < KT; ++j) yv[j] = _mm512_maskz_loadu_ps(m, yr[j] + ly);
#pragma GCC unroll 8
      for (int i = 0; i < DT; ++i) {
        __m512 xv = _mm512_maskz_loadu_ps(m, xr[i] + lx);
        // Keep x in a register: GCC otherwise folds the load into each of the KT multiply-adds,
        // KT unaligned loads instead of one (0.5x the throughput).
        __asm__("" : "+v"(xv));
#pragma GCC unroll 8
        for (int j = 0; j < KT; ++j) acc[i][j] = _mm512_fmadd_ps(xv, yv[j], acc[i][j]);
      }
    };
    if (n == 32 || n == 16) {  // rows of whole vectors (output rows 16 or 32 wide): one loop, no tail
      const int64_t v = n / 16;
      for (int64_t r = 0, lx = 0, ly = 0; r < rows; ++r, lx += xs, ly += ys) {
        step(lx, ly, 0xFFFF);
        if (v == 2) step(lx + 16, ly + 16, 0xFFFF);
      }
    } else {
      const __mmask16 tail = static_cast<__mmask16>((1u << (n % 16)) - 1);
      for (int64_t r = 0, lx = 0, ly = 0; r < rows; ++r, lx += xs, ly += ys) {
        int64_t l = 0;
        for (; l + 16 <= n; l += 16) step(lx + l, ly + l, 0xFFFF);
        if (l < n) step(lx + l, ly + l, tail);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < DT; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < KT; ++j) {
        float* o = out + (i * KT + j) * 16;
        _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[i][j]));
      }
  }
};
#endif

/// The dot-product micro-kernel for T on this ISA.
template <class T>
struct DotMicroKernel : GenericDotMicroKernel<T, 4, 4, 64 / sizeof(T)> {};
#if defined(TL_KERNELS_ISA_AVX512)
template <>
struct DotMicroKernel<float> : Avx512DotMicroKernelF32<6, 4> {};
#endif

TL_KERNELS_END
