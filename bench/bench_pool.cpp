// Max pooling forward (values and argmax indices, as training needs them): the kernel the op runs
// ("fast": AVX-512 when compiled for it), the AVX-512 tap kernel that visits every window's taps
// ("taps", which the row-maxima kernel replaced where it applies) and the scalar one, on the pools
// of ResNet and a CIFAR-sized one. Names "pool/<kernel>/<shape>", shape
// "planes x H x W _k<k>_s<stride>_p<pad>" as bench/compare_pytorch.py --pool prints them.
// Counter GBps: input read + output and indices written.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "tl/kernels/pooling.hpp"

namespace {

struct PoolShape {
  int64_t planes, H, k, stride, pad;
};

tl::kernels::Pool2dParams params(const PoolShape& s) {
  tl::kernels::Pool2dParams p;
  p.planes = s.planes, p.H = p.W = s.H, p.kh = p.kw = s.k, p.sh = p.sw = s.stride, p.ph = p.pw = s.pad;
  p.P = p.Q = tl::kernels::pool_output_size(s.H, s.k, s.stride, s.pad, 1, false);
  return p;
}

enum class Kernel { Fast, Taps, Scalar };

void run_pool(benchmark::State& state, PoolShape s, Kernel kernel) {
  const auto p = params(s);
  std::vector<float> x(static_cast<size_t>(p.planes * p.H * p.W)), y(static_cast<size_t>(p.planes * p.P * p.Q));
  std::vector<int64_t> idx(y.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i * 7919 % 1000) * 1e-3f;
  for (auto _ : state) {
    if (kernel == Kernel::Fast) {
      tl::kernels::max_pool2d_forward(p, x.data(), y.data(), idx.data());
    } else if (kernel == Kernel::Scalar) {
      tl::kernels::max_pool2d_forward_scalar(p, x.data(), y.data(), idx.data());
    } else {
#if defined(TL_KERNELS_ISA_AVX512)
      tl::kernels::max_pool2d_by_taps_avx512(p, x.data(), y.data(), idx.data());
#endif
    }
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(x.size()) * 4 + static_cast<double>(y.size()) * (4 + 8);
  state.counters["GBps"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  const PoolShape shapes[] = {
      {8 * 64, 112, 3, 2, 1},   // ResNet's pool after the stem, batch 8 at 224x224
      {32 * 64, 32, 3, 2, 1},   // the same pool on 32x32 maps, batch 32
      {8 * 64, 56, 2, 2, 0},    // 2x2 stride 2
      {8 * 64, 56, 3, 1, 1},    // 3x3 stride 1
  };
  std::vector<std::pair<Kernel, const char*>> kernels = {{Kernel::Fast, "fast/"}, {Kernel::Scalar, "scalar/"}};
#if defined(TL_KERNELS_ISA_AVX512)
  kernels.insert(kernels.begin() + 1, {Kernel::Taps, "taps/"});
#endif
  for (const auto& s : shapes)
    for (const auto& [kernel, kernel_name] : kernels) {
      const std::string name = std::string("pool/") + kernel_name + std::to_string(s.planes) + "x" +
                               std::to_string(s.H) + "x" + std::to_string(s.H) + "_k" + std::to_string(s.k) + "_s" +
                               std::to_string(s.stride) + "_p" + std::to_string(s.pad);
      benchmark::RegisterBenchmark(name.c_str(), run_pool, s, kernel)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.2);
    }
  if (!tl_bench::run_registered(argc, argv)) return 1;
  benchmark::Shutdown();
}
