#pragma once
// Compile-time choice of the instruction set the fast kernels use, and the inline namespace that
// keeps each choice's definitions apart.
//
//   __AVX512F__                  -> isa_avx512 (16-float vectors, 8x32 micro-tile)
//   __AVX2__ && __FMA__          -> isa_avx2   (8-float vectors, 6x16 micro-tile)
//   otherwise / TL_KERNELS_GENERIC -> isa_generic (plain C++ loops the compiler may vectorise)
//
// Why an inline namespace: a program may compile one translation unit with TL_KERNELS_GENERIC (or
// different -m flags) and another without. The same template (e.g. conv2d_forward<float>) would then
// have two different bodies under one mangled name, an ODR violation where the linker silently keeps
// one. Putting every ISA-dependent definition in tl::kernels::isa_<name> gives each its own symbols.
#include <cstdint>

#if defined(TL_KERNELS_GENERIC)
#define TL_KERNELS_ISA_GENERIC 1
#define TL_KERNELS_ISA_NS isa_generic
#elif defined(__AVX512F__)
#define TL_KERNELS_ISA_AVX512 1
#define TL_KERNELS_ISA_NS isa_avx512
#elif defined(__AVX2__) && defined(__FMA__)
#define TL_KERNELS_ISA_AVX2 1
#define TL_KERNELS_ISA_NS isa_avx2
#else
#define TL_KERNELS_ISA_GENERIC 1
#define TL_KERNELS_ISA_NS isa_generic
#endif

#if defined(TL_KERNELS_ISA_AVX512) || defined(TL_KERNELS_ISA_AVX2)
#include <immintrin.h>
#endif

// Open/close the ISA namespace inside tl::kernels.
#define TL_KERNELS_BEGIN namespace tl::kernels { inline namespace TL_KERNELS_ISA_NS {
#define TL_KERNELS_END } }

TL_KERNELS_BEGIN

/// Name of the compiled-in kernel set ("avx512", "avx2" or "generic"), for tests and benchmarks.
inline const char* kernel_isa_name() {
#if defined(TL_KERNELS_ISA_AVX512)
  return "avx512";
#elif defined(TL_KERNELS_ISA_AVX2)
  return "avx2";
#else
  return "generic";
#endif
}

/// Cache blocking of the packed GEMM (see docs/performance.md): a KC x NR panel of B stays in L1,
/// an MC x KC block of A and a KC x NC block of B in L2 (1 MiB on the reference machine).
struct GemmBlocking {
  static constexpr int64_t KC = 256;  // depth of one packed block
  static constexpr int64_t MC = 576;  // rows of A per block (multiple of every MR)
  static constexpr int64_t NC = 256;  // columns of B per block (multiple of every NR)
  // Depth of one block of the implicit forward (conv2d_implicit.hpp), whose B is read in place, not
  // packed into an L1 panel: a deeper block writes its C tiles fewer times (1.02-1.05x on the 3x3
  // layers against KC, docs/performance.md). 1152 = 128 channels of a 3x3 kernel.
  static constexpr int64_t KC_IMPLICIT = 1152;
};

TL_KERNELS_END
