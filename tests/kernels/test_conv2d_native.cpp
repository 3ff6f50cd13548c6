// Convolution kernels compiled with the build's instruction set (AVX-512 on -march=native here).
#define TL_TEST_ISA "[native]"
#include "conv_cases.hpp"

TEST_CASE("[native] kernel set reported") {
#if defined(__AVX512F__)
  CHECK(std::string(tl::kernels::kernel_isa_name()) == "avx512");
#elif defined(__AVX2__) && defined(__FMA__)
  CHECK(std::string(tl::kernels::kernel_isa_name()) == "avx2");
#else
  CHECK(std::string(tl::kernels::kernel_isa_name()) == "generic");
#endif
}
