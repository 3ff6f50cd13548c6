// The same convolution tests compiled without AVX-512 (extra.cmake adds -mno-avx512f), so the
// AVX2+FMA micro-kernel runs too when the build machine has AVX2.
#define TL_TEST_ISA "[avx2]"
#include "conv_cases.hpp"

TEST_CASE("[avx2] kernel set reported") {
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
  CHECK(std::string(tl::kernels::kernel_isa_name()) == "avx2");
#endif
}
