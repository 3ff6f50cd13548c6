#pragma once
// Copies and zero-fills of short runs (one image row, tens of values), inline: the padded-window
// copies make thousands of them per image, where a libc call per run cost more than the data
// (a 34 x 34 window of 16 channels: 3.7 us through memcpy/memset calls, 2.6 us with these).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/lane_mask.hpp"

TL_KERNELS_BEGIN

/// dst[i] = src[i] for i < n (the ranges do not overlap).
template <class T>
inline void copy_run(T* __restrict dst, const T* __restrict src, int64_t n) {
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
      _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
    return;
  }
#endif
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
}

/// dst[i] = src[i * stride] for i < n: one phase of an image row (the phase-split windows of
/// strided layers, conv2d_implicit_geometry.hpp). Stride 2 in AVX-512 float picks the even lanes of
/// two loaded vectors (a scalar loop was 16% of a 3x3 stride-2 layer's forward in perf).
template <class T>
inline void copy_strided_run(T* __restrict dst, const T* __restrict src, int64_t n, int64_t stride) {
  if (stride == 1) return copy_run(dst, src, n);
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    if (stride == 2) {
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      int64_t i = 0;
      for (; i + 16 < n; i += 16)  // reads src[2i + 31]: inside only when another output follows
        _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * i), even,
                                                         _mm512_loadu_ps(src + 2 * i + 16)));
      if (i < n) {  // the last r <= 16 outputs read 2r - 1 values: masked loads stop there
        const int64_t reads = 2 * (n - i) - 1;
        const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lane_mask(reads), src + 2 * i), even,
                                                _mm512_maskz_loadu_ps(lane_mask(reads - 16), src + 2 * i + 16));
        _mm512_mask_storeu_ps(dst + i, lane_mask(n - i), v);
      }
      return;
    }
  }
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i * stride];
}

/// dst[i] = 0 for i < n.
template <class T>
inline void zero_run(T* dst, int64_t n) {
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_setzero_ps());
    if (i < n) _mm512_mask_storeu_ps(dst + i, static_cast<__mmask16>((1u << (n - i)) - 1), _mm512_setzero_ps());
    return;
  }
#endif
  if (n > 0) std::fill(dst, dst + n, T(0));
}

TL_KERNELS_END
