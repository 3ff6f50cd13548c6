# test_conv2d_avx2.cpp runs the kernel tests with AVX-512 disabled (AVX2+FMA micro-kernel when the
# compiler targets a CPU that has it, the portable one otherwise).
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_conv2d_avx2.cpp PROPERTIES COMPILE_OPTIONS "-mno-avx512f")
