// Convolution forward / backward-data / backward-weight on the ResNet shapes of issue #4.
// Counters: GFLOPS and pct_peak (of the fp32 FMA peak measured by a probe at start-up and reported
// as fma_peak_gflops; run bench/compare.py to also get PyTorch side by side).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "bench_util.hpp"
#include "tl/kernels/conv2d.hpp"

namespace {

tl_bench::Peak g_peak;

enum class Pass { Forward, BackwardData, BackwardWeight };

void run_conv(benchmark::State& state, tl_bench::ConvShape shape, Pass pass) {
  const auto p = tl_bench::to_params(shape);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> u(-1, 1);
  auto fill = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& e : v) e = u(rng);
    return v;
  };
  auto x = fill(p.N * p.C * p.H * p.W), w = fill(p.K * p.C / p.groups * p.R * p.S), dy = fill(p.N * p.K * p.P() * p.Q());
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
  auto run = [&] {
    switch (pass) {
      case Pass::Forward:
        tl::kernels::conv2d_forward(p, x.data(), w.data(), static_cast<const float*>(nullptr), y.data());
        break;
      case Pass::BackwardData:
        tl::kernels::conv2d_backward_data(p, dy.data(), w.data(), dx.data());
        break;
      case Pass::BackwardWeight:
        tl::kernels::conv2d_backward_weight(p, x.data(), dy.data(), dw.data(), static_cast<float*>(nullptr));
        break;
    }
  };
  run();  // warm-up: the first call grows the thread-local scratch buffers
  const double c0 = tl_bench::process_cpu_seconds();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  tl_bench::set_flop_counters(state, static_cast<double>(p.flops()), tl_bench::process_cpu_seconds() - c0, g_peak);
}

}  // namespace

int main(int argc, char** argv) {
  g_peak = tl_bench::fma_peak();
  benchmark::AddCustomContext("fma_peak_gflops_before", std::to_string(g_peak.wall_gflops));
  benchmark::AddCustomContext("fma_peak_per_cpu_gflops_before", std::to_string(g_peak.per_cpu_gflops));
  benchmark::AddCustomContext("kernel_isa", tl::kernels::kernel_isa_name());
  const char* pass_names[] = {"fwd", "bwd_data", "bwd_weight"};
  for (const auto& s : tl_bench::selected_conv_shapes())
    for (int pi = 0; pi < 3; ++pi)
      benchmark::RegisterBenchmark(("conv/" + std::string(pass_names[pi]) + "/" + tl_bench::shape_name(s)).c_str(),
                                   run_conv, s, static_cast<Pass>(pi))
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3);
  if (!tl_bench::run_registered(argc, argv)) return 1;
  const tl_bench::Peak after = tl_bench::fma_peak();
  std::fprintf(stderr, "fma_peak_gflops (all threads, wall) before %.1f after %.1f; per cpu-second before %.1f after %.1f\n",
               g_peak.wall_gflops, after.wall_gflops, g_peak.per_cpu_gflops, after.per_cpu_gflops);
  benchmark::Shutdown();
}
