// The same convolution tests with the portable micro-kernel forced (TL_KERNELS_GENERIC), so the
// fallback path runs in CI on a machine whose native build would use AVX-512.
#define TL_KERNELS_GENERIC 1
#define TL_TEST_ISA "[generic]"
#include "conv_cases.hpp"

TEST_CASE("[generic] kernel set reported") { CHECK(std::string(tl::kernels::kernel_isa_name()) == "generic"); }
