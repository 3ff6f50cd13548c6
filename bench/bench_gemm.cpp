// GEMM: tl::kernels::gemm (packed AVX-512/AVX2 micro-kernels) against Eigen's product, float,
// on square sizes and on Linear-layer shapes (batch x in -> batch x out).
// GCC 12 reports false "maybe uninitialized" warnings inside Eigen's AVX-512 intrinsics wrappers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>
#include <vector>

#include "bench_util.hpp"
#include "tl/kernels/gemm.hpp"

namespace {

tl_bench::Peak g_peak;
using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void run_gemm(benchmark::State& state, int64_t M, int64_t N, int64_t D, bool eigen) {
  Mat a = Mat::Random(M, D), b = Mat::Random(D, N), c(M, N);
  const double c0 = tl_bench::process_cpu_seconds();
  for (auto _ : state) {
    if (eigen) {
      c.noalias() = a * b;
    } else {
      tl::kernels::gemm<float>(M, N, D, a.data(), D, 1, b.data(), N, 1, c.data(), N);
    }
    benchmark::ClobberMemory();
  }
  tl_bench::set_flop_counters(state, 2.0 * M * N * D, tl_bench::process_cpu_seconds() - c0, g_peak);
}

}  // namespace

int main(int argc, char** argv) {
  g_peak = tl_bench::fma_peak();
  benchmark::AddCustomContext("fma_peak_gflops_before", std::to_string(g_peak.wall_gflops));
  benchmark::AddCustomContext("kernel_isa", tl::kernels::kernel_isa_name());
  const int64_t shapes[][3] = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {32, 1000, 512}, {32, 1000, 2048},
                               {256, 4096, 1024}};
  for (const auto& s : shapes)
    for (int eigen = 0; eigen < 2; ++eigen) {
      const std::string name = std::string(eigen ? "gemm/eigen/" : "gemm/tl/") + std::to_string(s[0]) + "x" +
                               std::to_string(s[1]) + "x" + std::to_string(s[2]);
      benchmark::RegisterBenchmark(name.c_str(), run_gemm, s[0], s[1], s[2], eigen == 1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.2);
    }
  if (!tl_bench::run_registered(argc, argv)) return 1;
  benchmark::Shutdown();
}
