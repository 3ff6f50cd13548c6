# test_conv2d_avx2.cpp runs the kernel tests with AVX-512 disabled (AVX2+FMA micro-kernel when the
# compiler targets a CPU that has it, the portable one otherwise).
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_conv2d_avx2.cpp PROPERTIES COMPILE_OPTIONS "-mno-avx512f")
# Each conv test file defines the ISA macros before including conv_cases.hpp: never batched together.
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_conv2d_avx2.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_conv2d_generic.cpp ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_conv2d_native.cpp
  PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
