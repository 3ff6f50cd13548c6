// Batch norm (train forward, backward, eval forward, fused eval BN+ReLU) and ReLU: the vectorised
// kernels against the reference ones, on ResNet activation shapes. Counter GBps = bytes the kernel
// must move (reads + writes of the N*C*HW tensors) per second: these kernels are memory bound.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "bench_util.hpp"
#include "tl/kernels/batch_norm_fast.hpp"
#include "tl/kernels/batch_norm_ref.hpp"

namespace {

enum class Op { TrainFwd, Bwd, EvalFwd, EvalFwdRelu, Relu };
const char* op_name(Op op) {
  switch (op) {
    case Op::TrainFwd: return "train_fwd";
    case Op::Bwd: return "train_bwd";
    case Op::EvalFwd: return "eval_fwd";
    case Op::EvalFwdRelu: return "eval_fwd_relu";
    case Op::Relu: return "relu";
  }
  return "?";
}

void run_bn(benchmark::State& state, int64_t N, int64_t C, int64_t HW, Op op, bool fast) {
  const int64_t n = N * C * HW;
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> u(-1, 1);
  auto fill = [&](int64_t m) {
    std::vector<float> v(static_cast<size_t>(m));
    for (auto& e : v) e = u(rng);
    return v;
  };
  auto x = fill(n), dy = fill(n), g = fill(C), b = fill(C), mean = fill(C), var = fill(C);
  for (auto& v : var) v = v * v + 0.5f;
  std::vector<float> y(n), dx(n), dg(C), db(C), sm(C), si(C, 1.f);
  namespace k = tl::kernels;
  double tensors = 2;  // tensor-sized reads + writes per call
  for (auto _ : state) {
    switch (op) {
      case Op::TrainFwd:
        if (fast) k::batch_norm_forward_train_fast(N, C, HW, x.data(), g.data(), b.data(), 1e-5, y.data(), sm.data(), si.data());
        else k::batch_norm_forward_train_ref(N, C, HW, x.data(), g.data(), b.data(), 1e-5, y.data(), sm.data(), si.data());
        tensors = 2;
        break;
      case Op::Bwd:
        if (fast) k::batch_norm_backward_fast(N, C, HW, dy.data(), x.data(), g.data(), mean.data(), si.data(), true, dx.data(), dg.data(), db.data());
        else k::batch_norm_backward_ref(N, C, HW, dy.data(), x.data(), g.data(), mean.data(), si.data(), true, dx.data(), dg.data(), db.data());
        tensors = 3;
        break;
      case Op::EvalFwd:
        if (fast) k::batch_norm_forward_eval_fast(N, C, HW, x.data(), g.data(), b.data(), mean.data(), var.data(), 1e-5, y.data());
        else k::batch_norm_forward_eval_ref(N, C, HW, x.data(), g.data(), b.data(), mean.data(), var.data(), 1e-5, y.data());
        tensors = 2;
        break;
      case Op::EvalFwdRelu:  // reference: BN then a separate ReLU pass
        if (fast) {
          k::batch_norm_forward_eval_fast<true>(N, C, HW, x.data(), g.data(), b.data(), mean.data(), var.data(), 1e-5, y.data());
        } else {
          k::batch_norm_forward_eval_ref(N, C, HW, x.data(), g.data(), b.data(), mean.data(), var.data(), 1e-5, y.data());
          for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f;
        }
        tensors = 2;
        break;
      case Op::Relu:
        k::relu_forward_fast(n, x.data(), y.data());
        tensors = 2;
        break;
    }
    benchmark::ClobberMemory();
  }
  state.counters["GBps"] = benchmark::Counter(tensors * static_cast<double>(n) * 4.0 / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t shapes[][3] = {{32, 64, 1024}, {8, 64, 12544}, {8, 256, 3136}, {8, 512, 49}};
  for (const auto& s : shapes)
    for (Op op : {Op::TrainFwd, Op::Bwd, Op::EvalFwd, Op::EvalFwdRelu, Op::Relu})
      for (int fast = 1; fast >= 0; --fast) {
        if (op == Op::Relu && !fast) continue;
        const std::string name = std::string("bn/") + op_name(op) + (fast ? "/fast/" : "/ref/") + std::to_string(s[0]) +
                                 "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
        benchmark::RegisterBenchmark(name.c_str(), run_bn, s[0], s[1], s[2], op, fast == 1)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.2);
      }
  if (!tl_bench::run_registered(argc, argv)) return 1;
  benchmark::Shutdown();
}
