#pragma once
// Shared by the benchmarks: a short FMA-peak probe (the machine's fp32 peak with the benchmark's
// thread count, measured rather than assumed), the ResNet convolution shapes of issue #4, and the
// runner every main() ends with.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_winograd.hpp"

namespace tl_bench {

/// Parses Google Benchmark's flags and runs the registered benchmarks; false (nothing run) on a
/// flag it does not know. The caller may report more, then calls benchmark::Shutdown().
inline bool run_registered(int& argc, char** argv) {
  // TL_WINOGRAD=0 runs the 3x3 layers on the direct kernels: A/B runs of one binary.
  if (const char* wg = std::getenv("TL_WINOGRAD")) tl::kernels::set_winograd_enabled(std::atoi(wg) != 0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return false;
  benchmark::RunSpecifiedBenchmarks();
  return true;
}

/// CPU seconds used by the whole process (all threads) so far. On a shared host, work divided by
/// CPU time measures how well the kernels use the cycles they get, independently of time slicing.
inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Peak {
  double wall_gflops = 0;     // all threads, by wall clock (what a quiet machine gives)
  double per_cpu_gflops = 0;  // per CPU-second, i.e. one core's peak
};

/// fp32 GFLOPS of independent FMA chains on all OpenMP threads, best of a few short runs.
inline Peak fma_peak(int reps = 5) {
  Peak best;
  for (int rep = 0; rep < reps; ++rep) {
    const double c0 = process_cpu_seconds();
    const int64_t iters = 2000000;
    int threads = 1;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
    {
#ifdef _OPENMP
#pragma omp single
      threads = omp_get_num_threads();
#endif
      float sink = 0;
#if defined(__AVX512F__)
      __m512 a[12];
      const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
      for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(static_cast<float>(i));
      for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
      alignas(64) float tmp[16];
      for (int i = 0; i < 12; ++i) {
        _mm512_store_ps(tmp, a[i]);
        for (float v : tmp) sink += v;
      }
      constexpr int lanes = 16;
#elif defined(__AVX2__) && defined(__FMA__)
      __m256 a[12];
      const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
      for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(static_cast<float>(i));
      for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
      float tmp[8];
      for (int i = 0; i < 12; ++i) {
        _mm256_storeu_ps(tmp, a[i]);
        for (float v : tmp) sink += v;
      }
      constexpr int lanes = 8;
#else
      float a[12][4];
      for (int i = 0; i < 12; ++i)
        for (int l = 0; l < 4; ++l) a[i][l] = static_cast<float>(i);
      for (int64_t k = 0; k < iters; ++k)
        for (int i = 0; i < 12; ++i)
          for (int l = 0; l < 4; ++l) a[i][l] = a[i][l] * 0.999999f + 1e-7f;
      for (int i = 0; i < 12; ++i)
        for (int l = 0; l < 4; ++l) sink += a[i][l];
      constexpr int lanes = 4;
#endif
      benchmark::DoNotOptimize(sink);
      (void)lanes;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#if defined(__AVX512F__)
    const double lanes = 16;
#elif defined(__AVX2__) && defined(__FMA__)
    const double lanes = 8;
#else
    const double lanes = 4;
#endif
    const double flop = 2.0 * lanes * 12 * static_cast<double>(iters) * threads, cpu = process_cpu_seconds() - c0;
    best.wall_gflops = std::max(best.wall_gflops, flop / s / 1e9);
    best.per_cpu_gflops = std::max(best.per_cpu_gflops, flop / cpu / 1e9);
  }
  return best;
}

/// Sets the GFLOPS counters of a benchmark that did `flop_per_iter` per iteration and used `cpu_s`
/// process CPU seconds in total: GFLOPS / pct_peak (wall clock, vs the all-thread peak) and
/// GFLOPS_cpu / pct_peak_cpu (per CPU-second, vs one core's peak: robust to a loaded host).
inline void set_flop_counters(benchmark::State& state, double flop_per_iter, double cpu_s, const Peak& peak) {
  const double gflop = flop_per_iter / 1e9;
  using C = benchmark::Counter;
  state.counters["GFLOPS"] = C(gflop, C::kIsIterationInvariantRate);
  state.counters["pct_peak"] = C(gflop * 100.0 / peak.wall_gflops, C::kIsIterationInvariantRate);
  const double per_cpu = gflop * static_cast<double>(state.iterations()) / std::max(cpu_s, 1e-9);
  state.counters["GFLOPS_cpu"] = per_cpu;
  state.counters["pct_peak_cpu"] = 100.0 * per_cpu / peak.per_cpu_gflops;
}

struct ConvShape {
  int64_t N, C, H, W, K, R, S, stride, pad;
};

/// The shapes of issue #4: ResNet-18 on CIFAR (first four) and ResNet-18/50 on ImageNet.
inline const std::vector<ConvShape>& resnet_conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {32, 16, 32, 32, 16, 3, 3, 1, 1},  {32, 64, 32, 32, 64, 3, 3, 1, 1},  {32, 128, 16, 16, 128, 3, 3, 1, 1},
      {32, 256, 8, 8, 256, 3, 3, 1, 1},  {8, 3, 224, 224, 64, 7, 7, 2, 3},  {8, 64, 56, 56, 64, 3, 3, 1, 1},
      {8, 256, 56, 56, 64, 1, 1, 1, 0},  {8, 512, 28, 28, 128, 1, 1, 1, 0}, {8, 256, 14, 14, 256, 3, 3, 1, 1},
      {8, 512, 7, 7, 512, 3, 3, 1, 1}};
  return shapes;
}

/// The distinct conv layers of ResNet-18 (torchvision) on 32x32 images at batch 32: after the stem
/// and max-pool the maps are 8x8, 4x4, 2x2 and 1x1, so these GEMMs are short and weight-bound.
/// Selected with TL_BENCH_SHAPES=resnet18_32 (bench/compare.py --shapes resnet18_32).
inline const std::vector<ConvShape>& resnet18_32_conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {32, 3, 32, 32, 64, 7, 7, 2, 3},   {32, 64, 8, 8, 64, 3, 3, 1, 1},    {32, 64, 8, 8, 128, 3, 3, 2, 1},
      {32, 128, 4, 4, 128, 3, 3, 1, 1},  {32, 64, 8, 8, 128, 1, 1, 2, 0},   {32, 128, 4, 4, 256, 3, 3, 2, 1},
      {32, 256, 2, 2, 256, 3, 3, 1, 1},  {32, 128, 4, 4, 256, 1, 1, 2, 0},  {32, 256, 2, 2, 512, 3, 3, 2, 1},
      {32, 512, 1, 1, 512, 3, 3, 1, 1},  {32, 256, 2, 2, 512, 1, 1, 2, 0}};
  return shapes;
}

/// The distinct conv layers of ResNet-50 (torchvision) at batch 8 on 224x224 images, in network
/// order; the comment after each says how many of the model's 53 convolutions have that shape.
/// Selected with TL_BENCH_SHAPES=resnet50_224 (bench/compare.py --shapes resnet50_224, which also
/// sums the layers' times weighted by these counts; bench/model_shapes.py holds the same list).
inline const std::vector<ConvShape>& resnet50_224_conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {8, 3, 224, 224, 64, 7, 7, 2, 3},     // 1: the stem
      {8, 64, 56, 56, 64, 1, 1, 1, 0},      // 1
      {8, 64, 56, 56, 64, 3, 3, 1, 1},      // 3
      {8, 64, 56, 56, 256, 1, 1, 1, 0},     // 4 (with the downsample)
      {8, 256, 56, 56, 64, 1, 1, 1, 0},     // 2
      {8, 256, 56, 56, 128, 1, 1, 1, 0},    // 1
      {8, 128, 56, 56, 128, 3, 3, 2, 1},    // 1
      {8, 128, 28, 28, 512, 1, 1, 1, 0},    // 4
      {8, 256, 56, 56, 512, 1, 1, 2, 0},    // 1: downsample
      {8, 512, 28, 28, 128, 1, 1, 1, 0},    // 3
      {8, 128, 28, 28, 128, 3, 3, 1, 1},    // 3
      {8, 512, 28, 28, 256, 1, 1, 1, 0},    // 1
      {8, 256, 28, 28, 256, 3, 3, 2, 1},    // 1
      {8, 256, 14, 14, 1024, 1, 1, 1, 0},   // 6
      {8, 512, 28, 28, 1024, 1, 1, 2, 0},   // 1: downsample
      {8, 1024, 14, 14, 256, 1, 1, 1, 0},   // 5
      {8, 256, 14, 14, 256, 3, 3, 1, 1},    // 5
      {8, 1024, 14, 14, 512, 1, 1, 1, 0},   // 1
      {8, 512, 14, 14, 512, 3, 3, 2, 1},    // 1
      {8, 512, 7, 7, 2048, 1, 1, 1, 0},     // 3
      {8, 1024, 14, 14, 2048, 1, 1, 2, 0},  // 1: downsample
      {8, 2048, 7, 7, 512, 1, 1, 1, 0},     // 2
      {8, 512, 7, 7, 512, 3, 3, 1, 1}};     // 2
  return shapes;
}

/// The distinct conv layers of ResNet-18 (torchvision) at batch 8 on 224x224 images; the comment
/// says how many of its 20 convolutions have that shape. TL_BENCH_SHAPES=resnet18_224.
inline const std::vector<ConvShape>& resnet18_224_conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {8, 3, 224, 224, 64, 7, 7, 2, 3},    // 1: the stem
      {8, 64, 56, 56, 64, 3, 3, 1, 1},     // 4
      {8, 64, 56, 56, 128, 3, 3, 2, 1},    // 1
      {8, 64, 56, 56, 128, 1, 1, 2, 0},    // 1: downsample
      {8, 128, 28, 28, 128, 3, 3, 1, 1},   // 3
      {8, 128, 28, 28, 256, 3, 3, 2, 1},   // 1
      {8, 128, 28, 28, 256, 1, 1, 2, 0},   // 1: downsample
      {8, 256, 14, 14, 256, 3, 3, 1, 1},   // 3
      {8, 256, 14, 14, 512, 3, 3, 2, 1},   // 1
      {8, 256, 14, 14, 512, 1, 1, 2, 0},   // 1: downsample
      {8, 512, 7, 7, 512, 3, 3, 1, 1}};    // 3
  return shapes;
}

/// Shapes written out, "N,C,H,W,K,R,S,stride,pad" separated by ';'. Anything else (a field
/// missing or extra, a size below 1, a negative padding, no output pixel) stops the benchmark with
/// a message: a mistyped shape must not quietly run some other set.
inline std::vector<ConvShape> parse_conv_shapes(const std::string& text) {
  std::vector<ConvShape> shapes;
  for (size_t at = 0; at < text.size() || shapes.empty();) {  // a trailing ";" is allowed
    const size_t end = std::min(text.find(';', at), text.size());
    const std::string one = text.substr(at, end - at);
    ConvShape s{};
    int used = 0;
    const bool read = std::sscanf(one.c_str(), "%" SCNd64 ",%" SCNd64 ",%" SCNd64 ",%" SCNd64 ",%" SCNd64
                                  ",%" SCNd64 ",%" SCNd64 ",%" SCNd64 ",%" SCNd64 "%n",
                                  &s.N, &s.C, &s.H, &s.W, &s.K, &s.R, &s.S, &s.stride, &s.pad, &used) == 9 &&
                      used == static_cast<int>(one.size());
    const bool valid = read && std::min({s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.stride}) >= 1 && s.pad >= 0 &&
                       s.H + 2 * s.pad >= s.R && s.W + 2 * s.pad >= s.S;
    if (!valid) {
      std::fprintf(stderr,
                   "TL_BENCH_SHAPES: \"%s\" is not a shape N,C,H,W,K,R,S,stride,pad (sizes >= 1, padding >= 0, "
                   "at least one output pixel), nor resnet, resnet18_32, resnet50_224 or resnet18_224\n",
                   one.c_str());
      std::exit(2);
    }
    shapes.push_back(s);
    at = end + 1;
  }
  return shapes;
}

/// The shape set named by the environment variable TL_BENCH_SHAPES: "resnet" (the default),
/// "resnet18_32", "resnet50_224", "resnet18_224", or shapes written out for parse_conv_shapes,
/// e.g. TL_BENCH_SHAPES="1,64,56,56,64,3,3,1,1;4,128,28,28,128,3,3,1,1".
inline const std::vector<ConvShape>& selected_conv_shapes() {
  const char* e = std::getenv("TL_BENCH_SHAPES");
  const std::string name = e && *e ? e : "resnet";  // unset or empty: the default
  if (name == "resnet") return resnet_conv_shapes();
  if (name == "resnet18_32") return resnet18_32_conv_shapes();
  if (name == "resnet50_224") return resnet50_224_conv_shapes();
  if (name == "resnet18_224") return resnet18_224_conv_shapes();
  static const std::vector<ConvShape> written = parse_conv_shapes(name);
  return written;
}

inline tl::kernels::Conv2dParams to_params(const ConvShape& s) {
  tl::kernels::Conv2dParams p;
  p.N = s.N, p.C = s.C, p.H = s.H, p.W = s.W, p.K = s.K, p.R = s.R, p.S = s.S;
  p.stride_h = p.stride_w = s.stride;
  p.pad_h = p.pad_w = s.pad;
  return p;
}

inline std::string shape_name(const ConvShape& s) {
  return std::to_string(s.N) + "x" + std::to_string(s.C) + "x" + std::to_string(s.H) + "x" + std::to_string(s.W) +
         "_k" + std::to_string(s.K) + "_" + std::to_string(s.R) + "x" + std::to_string(s.S) + "_s" +
         std::to_string(s.stride) + "_p" + std::to_string(s.pad);
}

}  // namespace tl_bench
