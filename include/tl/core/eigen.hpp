#pragma once
// The one place tl includes Eigen. GCC 12 at -O2/-O3 with AVX-512 reports a false
// "may be used uninitialized" deep inside Eigen's float GEMM; the diagnostic is tied to the
// location in Eigen's headers, so silencing it around the (first) include covers every later
// instantiation without hiding warnings in tl's or the user's code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
