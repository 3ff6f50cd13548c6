#pragma once
// How a GEMM (or a batch of independent GEMMs, e.g. convolution groups) is cut into OpenMP tasks.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_core.hpp"

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

/// Tasks over an M x N output: column chunks (at most NC wide, multiples of NR) and, when there are
/// too few of those to keep every thread busy, row chunks (multiples of MR). Each task packs its own
/// B block, so splitting rows repacks B: it is only done when columns run out.
struct GemmTasks {
  int64_t col_chunk = 1, col_tasks = 1, row_chunk = 1, row_tasks = 1;
  int64_t per_batch() const { return col_tasks * row_tasks; }
};

inline GemmTasks plan_gemm_tasks(int64_t M, int64_t N, int64_t batches, int threads, int64_t MR, int64_t NR) {
  GemmTasks t;
  // About 4 tasks per thread: dynamic scheduling then evens out a core that the shared host steals.
  const int64_t want = std::max<int64_t>(1, ceil_div(4 * threads, std::max<int64_t>(batches, 1)));
  const int64_t panels = std::max<int64_t>(1, ceil_div(N, NR));
  const int64_t per_task = std::clamp<int64_t>(ceil_div(panels, want), 1, GemmBlocking::NC / NR);
  t.col_chunk = per_task * NR;
  t.col_tasks = ceil_div(panels, per_task);
  const int64_t row_panels = std::max<int64_t>(1, ceil_div(M, MR));
  t.row_tasks = t.col_tasks >= want ? 1 : std::min(row_panels, ceil_div(want, t.col_tasks));
  t.row_chunk = ceil_div(row_panels, t.row_tasks) * MR;
  t.row_tasks = ceil_div(row_panels * MR, t.row_chunk);
  return t;
}

TL_KERNELS_END
