#pragma once
// General matrix multiply on the packed micro-kernels, parallel with OpenMP:
//   C (M x N, row stride ldc) = A (M x D) * B (D x N)   (+ C when accumulate)
// A and B are strided views: A(i, d) = a[i*rsa + d*csa], B(d, j) = b[d*rsb + j*csb], so transposed
// operands need no copy. A is packed once (shared by all threads); each task packs its B block.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_pack.hpp"
#include "tl/kernels/gemm_parallel.hpp"

TL_KERNELS_BEGIN

/// Packs all of A (M x D) block by block: depth block d0 starts at dst + d0 * round_up(M, MR), and
/// inside it row panel i0 (a multiple of MR) starts at + i0 * kc. Called inside a parallel region.
/// Depth blocks of KC: the packed GEMM's by default, the implicit forward passes its own.
template <class T>
void prepack_a_shared(int64_t M, int64_t D, const T* a, int64_t rsa, int64_t csa, T* dst,
                      int64_t KC = GemmBlocking::KC) {
  constexpr int MR = MicroKernel<T>::mr;
  const int64_t Mpad = round_up(M, MR), blocks = ceil_div(D, KC) * ceil_div(M, MR);
#pragma omp for schedule(static)
  for (int64_t t = 0; t < blocks; ++t) {
    const int64_t d0 = (t / ceil_div(M, MR)) * KC, i0 = (t % ceil_div(M, MR)) * MR;
    const int64_t kc = std::min(KC, D - d0);
    pack_a_strided<MR>(a, rsa, csa, i0, std::min<int64_t>(MR, M - i0), d0, kc, dst + d0 * Mpad + i0 * kc);
  }
}

template <class T>
void gemm(int64_t M, int64_t N, int64_t D, const T* a, int64_t rsa, int64_t csa, const T* b, int64_t rsb,
          int64_t csb, T* c, int64_t ldc, bool accumulate = false) {
  using UK = MicroKernel<T>;
  if (M <= 0 || N <= 0) return;
  const int64_t Mpad = round_up(M, UK::mr);
  T* apre = scratch<T>(Scratch::SharedA, Mpad * std::max<int64_t>(D, 1));
  const int threads = kernel_threads();
  const GemmTasks plan = plan_gemm_tasks(M, N, 1, threads, UK::mr, UK::nr, D);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    prepack_a_shared(M, D, a, rsa, csa, apre);  // ends with the implicit barrier of its omp for
#pragma omp for schedule(dynamic) nowait
    for (int64_t t = 0; t < plan.per_batch(); ++t) {
      const int64_t j0 = (t % plan.col_tasks) * plan.col_chunk, i0 = (t / plan.col_tasks) * plan.row_chunk;
      const int64_t nc = std::min(plan.col_chunk, N - j0), mc = std::min(plan.row_chunk, M - i0);
      if (nc <= 0 || mc <= 0) continue;
      auto pack_a = [&](int64_t ii, int64_t, int64_t d0, int64_t kc) { return apre + d0 * Mpad + (i0 + ii) * kc; };
      auto pack_b = [&](int64_t jj, int64_t ncc, int64_t d0, int64_t kc, T* dst) {
        pack_b_strided<UK::nr>(b, rsb, csb, j0 + jj, ncc, d0, kc, dst);
      };
      gemm_blocked<T>(mc, nc, D, pack_a, pack_b, CView<T>{c + i0 * ldc + j0, ldc}, accumulate);
    }
  }
}

TL_KERNELS_END
