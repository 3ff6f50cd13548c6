#pragma once
// Lane masks for partial vectors: the first n of 16 float lanes (AVX-512), and lanes in a range
// of 8 (AVX2, as the vector masks of maskload and maskstore).
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"

TL_KERNELS_BEGIN

#if defined(TL_KERNELS_ISA_AVX512)
/// Lanes 0 .. n-1 of 16 (n clamped to [0, 16]): the mask of a vector's first n floats.
[[gnu::always_inline]] inline __mmask16 lane_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
#elif defined(TL_KERNELS_ISA_AVX2)
/// Lanes l of 8 with begin <= l < end (all bits set in them, none elsewhere).
[[gnu::always_inline]] inline __m256i lane_range_mask8(int64_t begin, int64_t end) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i lo = _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(begin, -1, 8)) - 1);
  const __m256i hi = _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(end, -1, 8)));
  return _mm256_and_si256(_mm256_cmpgt_epi32(lane, lo), _mm256_cmpgt_epi32(hi, lane));
}
/// Lanes 0 .. n-1 of 8.
[[gnu::always_inline]] inline __m256i lane_mask8(int64_t n) { return lane_range_mask8(0, n); }
#endif

TL_KERNELS_END
