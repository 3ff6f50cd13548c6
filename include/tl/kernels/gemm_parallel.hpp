#pragma once
// How a GEMM (or a batch of independent GEMMs, e.g. convolution groups) is cut into OpenMP tasks.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_scratch.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

TL_KERNELS_BEGIN

inline int kernel_threads() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

/// Inside a parallel region: the calling thread's zeroed private block of n values (in scratch
/// `slot`), published as shared[thread] so that after the next barrier any thread can sum every
/// thread's block; `team` is set to the number of threads.
template <class T>
T* private_sums(Scratch slot, int64_t n, T** shared, int& team) {
  int thread = 0;
  team = 1;
#ifdef _OPENMP
  thread = omp_get_thread_num();
  team = omp_get_num_threads();
#endif
  T* part = scratch<T>(slot, n);
  std::fill(part, part + n, T(0));
  shared[thread] = part;
  return part;
}

/// Tasks over an M x N output (depth D): column chunks (multiples of NR) times row chunks (multiples
/// of MR). Each task packs its own B block and streams its rows of the shared packed A, so splitting
/// columns multiplies the A traffic and splitting rows multiplies the B packing. A small cost model
/// (in cycles, roughly: FMA tiles + A reads + B packing, and the busiest thread's share of the
/// tasks) picks the split; e.g. 512 rows x 392 columns (a 7x7 layer) splits rows, a 64-row layer
/// over 32768 columns splits columns.
struct GemmTasks {
  int64_t col_chunk = 1, col_tasks = 1, row_chunk = 1, row_tasks = 1;
  int64_t per_batch() const { return col_tasks * row_tasks; }
};

inline GemmTasks plan_gemm_tasks(int64_t M, int64_t N, int64_t batches, int threads, int64_t MR, int64_t NR,
                                 int64_t D = GemmBlocking::KC) {
  const int64_t rp = std::max<int64_t>(1, ceil_div(M, MR)), cp = std::max<int64_t>(1, ceil_div(N, NR));
  const int64_t T = std::max(threads, 1), B = std::max<int64_t>(batches, 1);
  const double d = static_cast<double>(std::max<int64_t>(D, 1));
  // Two passes: the cheapest cost, then among plans within 3% of it the one with the most tasks (up
  // to 16 per thread), since more tasks balance better when the host steals a core for a while.
  double best = -1;
  int64_t best_tasks = 0;
  GemmTasks t;
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t r = 1; r <= std::min<int64_t>(rp, 8 * T); ++r) {
      const int64_t rows = ceil_div(rp, r);
      if (r > 1 && ceil_div(rp, r - 1) == rows) continue;  // same chunking as r - 1
      for (int64_t c = 1; c <= std::min<int64_t>(cp, 64 * T); ++c) {
        const int64_t cols = ceil_div(cp, c);
        if (c > 1 && ceil_div(cp, c - 1) == cols) continue;
        const int64_t tasks = ceil_div(rp, rows) * ceil_div(cp, cols) * B;
        const double fma = static_cast<double>(rows * cols * MR * NR) * d / 32.0;  // 2 x 16-lane FMA per cycle
        const double a_reads =
            static_cast<double>(rows * MR) * d * static_cast<double>(ceil_div(cols * NR, GemmBlocking::NC)) * 0.25;
        const double b_pack = static_cast<double>(cols * NR) * d * 1.0;
        double cost = static_cast<double>(ceil_div(tasks, T)) * (fma + a_reads + b_pack);
        if (tasks < 2 * T) cost *= 1.1;  // a shared host steals cores: a few spare tasks even the load out
        const bool take = pass == 0 ? (best < 0 || cost < best)
                                    : (cost <= 1.03 * best && tasks > best_tasks && tasks <= 16 * T * B);
        if (pass == 0 && take) best = cost;
        if (take) {
          best_tasks = pass == 1 ? tasks : 0;
          t.row_chunk = rows * MR;
          t.row_tasks = ceil_div(rp, rows);
          t.col_chunk = cols * NR;
          t.col_tasks = ceil_div(cp, cols);
        }
      }
    }
  }
  return t;
}

TL_KERNELS_END
