#pragma once
// AVX-512 lane masks for partial vectors: the first n of 16 float lanes.
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"

TL_KERNELS_BEGIN

#if defined(TL_KERNELS_ISA_AVX512)
/// Lanes 0 .. n-1 of 16 (n clamped to [0, 16]): the mask of a vector's first n floats.
[[gnu::always_inline]] inline __mmask16 lane_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
#endif

TL_KERNELS_END
