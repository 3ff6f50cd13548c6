// Whole models: ResNet-18/50 (torchvision architecture, tl::models), images per second for inference
// (eval, no grad) and for a training step (forward, cross entropy, backward, SGD step), 2 threads by
// OMP_NUM_THREADS (TL_WINOGRAD=0: no Winograd convolution, bench_util.hpp). Counters images_per_s
// and images_per_cpu_s; peak RSS of the process and tl::memory_stats() are printed at the end.
// PyTorch's numbers for the same cases: bench/compare_pytorch.py --models.
// GCC 12 reports false "maybe uninitialized" warnings inside Eigen's AVX-512 intrinsics wrappers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <tl/models/models.hpp>
#include <tl/optim/optim.hpp>
#include <tl/tl.hpp>

#include "bench_util.hpp"

namespace {

namespace F = tl::nn::functional;

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

void run_model(benchmark::State& state, int depth, bool train, int64_t batch, int64_t size) {
  tl::manual_seed(0);
  auto model = depth == 18 ? tl::models::resnet18<float>(1000) : tl::models::resnet50<float>(1000);
  auto x = tl::randn<float>({batch, 3, size, size});
  auto target = tl::randint<int64_t>(0, 1000, {batch});
  tl::optim::SGD<float> opt(model->parameters(), {.lr = 0.01, .momentum = 0.9});
  auto step = [&] {
    if (train) {
      model->train();
      auto loss = F::cross_entropy(model->forward(x), target);
      opt.zero_grad();
      loss.backward();
      opt.step();
    } else {
      model->eval();
      tl::NoGradGuard ng;
      auto y = model->forward(x);
      benchmark::DoNotOptimize(y.data());
    }
  };
  step();  // warm-up: scratch buffers, optimizer state
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) step();
  const double cpu = process_cpu_seconds() - cpu0;
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  // Per CPU-second of the whole process (all threads, user + system): steadier on a shared host.
  state.counters["images_per_cpu_s"] = static_cast<double>(batch * state.iterations()) / (cpu > 0 ? cpu : 1e-9);
}

}  // namespace

int main(int argc, char** argv) {
  struct Case {
    int depth;
    bool train;
    int64_t batch, size;
  };
  const Case cases[] = {{18, true, 32, 32}, {18, true, 8, 224}, {18, false, 8, 224}, {18, false, 32, 32},
                        {50, false, 8, 224}, {50, false, 32, 32}, {50, true, 8, 224}};
  const char* mt = std::getenv("TL_BENCH_MIN_TIME");  // seconds per model (default 1), e.g. for profiling
  const double min_time = mt ? std::atof(mt) : 1.0;
  for (const auto& c : cases) {
    const std::string name = "resnet" + std::to_string(c.depth) + (c.train ? "/train/" : "/infer/") +
                             std::to_string(c.batch) + "x" + std::to_string(c.size);
    benchmark::RegisterBenchmark(name.c_str(), run_model, c.depth, c.train, c.batch, c.size)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(min_time);
  }
  if (!tl_bench::run_registered(argc, argv)) return 1;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "peak_rss_mib %.1f\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  const auto ms = tl::memory_stats();  // tensor storage only (tl/core/memory.hpp)
  std::fprintf(stderr,
               "tensor_memory_mib peak_in_use %.1f peak_reserved %.1f cached %.1f; cache hits %zu misses %zu "
               "releases %zu\n",
               static_cast<double>(ms.peak_in_use) / 1048576.0, static_cast<double>(ms.peak_reserved) / 1048576.0,
               static_cast<double>(ms.cached) / 1048576.0, ms.cache_hits, ms.cache_misses, ms.cache_releases);
  std::fprintf(stderr, "kernel_scratch_mib %.1f\n", static_cast<double>(tl::kernels::scratch_bytes()) / 1048576.0);
  benchmark::Shutdown();
}
