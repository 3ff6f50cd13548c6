// Max pooling forward (values and argmax indices, as training needs them): the kernel the op runs
// (AVX-512 when compiled for it) against the scalar one, on the pools of ResNet and a CIFAR-sized
// one. Names "pool/<kernel>/<shape>", shape "planes x H x W _k<k>_s<stride>_p<pad>" as
// bench/compare_pytorch.py --pool prints them. Counter GBps: input read + output and indices written.
#include <benchmark/benchmark.h>

#include <string>
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

void run_pool(benchmark::State& state, PoolShape s, bool fast) {
  const auto p = params(s);
  std::vector<float> x(static_cast<size_t>(p.planes * p.H * p.W)), y(static_cast<size_t>(p.planes * p.P * p.Q));
  std::vector<int64_t> idx(y.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i * 7919 % 1000) * 1e-3f;
  for (auto _ : state) {
    if (fast)
      tl::kernels::max_pool2d_forward(p, x.data(), y.data(), idx.data());
    else
      tl::kernels::max_pool2d_forward_scalar(p, x.data(), y.data(), idx.data());
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
  for (const auto& s : shapes)
    for (int fast = 1; fast >= 0; --fast) {
      const std::string name = std::string("pool/") + (fast ? "fast/" : "scalar/") + std::to_string(s.planes) + "x" +
                               std::to_string(s.H) + "x" + std::to_string(s.H) + "_k" + std::to_string(s.k) + "_s" +
                               std::to_string(s.stride) + "_p" + std::to_string(s.pad);
      benchmark::RegisterBenchmark(name.c_str(), run_pool, s, fast == 1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.2);
    }
  if (!tl_bench::run_registered(argc, argv)) return 1;
  benchmark::Shutdown();
}
