#pragma once
// Weight gradient as dot products along the positions, for layers with few outputs per group:
//   dW_g[k, d] = sum over flat positions l of X_win[d, l] * dY_g[k, l]
// over the flat positions l = p*Wf + q of the zero-padded (when strided, phase-split) image, as in
// conv2d_implicit_weight_grad.hpp: row d = (c, r, s) of X_win is a plane shifted by off[d], and dY
// is read with zeros at the wrap positions q >= Q. The difference is the vector direction: here a
// vector holds 16 positions (DotMicroKernel), not 16 or 32 outputs, so a layer with 16 outputs
// fills it and a multiply-add needs no broadcast.
//
// Each task owns (group, image, chunk of output rows) and adds into its thread's private sums,
// kept in V lanes per (d, k); the sums of all threads and lanes are written into dW at the end.
// Output rows of one or two whole vectors (16 or 32 positions) are walked row by row, reading dY
// in place and computing no wrap position (on 32x16x32x32 k16: 1.18-1.20x over the GEMM weight
// gradient, where the flat walk gave 1.09x).
#include <algorithm>
#include <cstdint>

#include "tl/kernels/conv2d_bias_grad.hpp"
#include "tl/kernels/conv2d_implicit_geometry.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/copy_run.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/gemm_ukernel_dot.hpp"

TL_KERNELS_BEGIN

/// Copies dY of one image's group for flat positions [j0, j0+nc) into Kg rows `ld` apart:
/// dst[k*ld + l - j0] = dY[k, p, q] for l = p*Wf + q with q < Q, else 0.
/// dyn points at the group's channel 0 (channels P*Q apart).
template <class T>
void pack_dy_flat(const T* dyn, int64_t Kg, int64_t P, int64_t Q, int64_t Wf, int64_t j0, int64_t nc, int64_t ld,
                  T* dst) {
  const int64_t PQ = P * Q;
  for (int64_t k = 0; k < Kg; ++k) {
    T* row = dst + k * ld;  // row[l - j0] for flat position l
    for (int64_t p = j0 / Wf; p * Wf < j0 + nc; ++p) {  // output row p: Q values, then the wrap positions
      const int64_t l0 = std::max(j0, p * Wf), l1 = std::min(j0 + nc, (p + 1) * Wf);
      const int64_t keep = std::clamp<int64_t>(p * Wf + Q, l0, l1);
      copy_run(row + (l0 - j0), dyn + k * PQ + p * Q + (l0 - p * Wf), keep - l0);
      zero_run(row + (keep - j0), l1 - keep);
    }
  }
}

/// Whether the dot-product weight gradient should replace the GEMM ones for p (float, 2 threads,
/// measured with the AVX-512 micro-kernel against what ran before; docs/performance.md):
///   8 outputs per group or fewer: 1.02-3.55x on every layer measured (ResNeXt's groups of 4
///     outputs: 1.6-3.4x);
///   1x1 layers with 32 input channels or fewer: 1.67-2.63x (0.76x with 64);
///   9 to 24 outputs, stride 1: 1.10-1.26x on 3x3 layers over maps of 28x28 and more (90% of the
///     computed positions kept), 1.21-2.13x on 5x5 layers; 0.83-0.94x on 16x16 and 8x8 maps;
///   stride 2: 0.96x with 16 outputs (1.08x on a stem).
inline bool conv2d_dot_weight_grad_preferred(const Conv2dParams& p) {
  if (!DotMicroKernel<float>::tuned || !conv2d_implicit_applies(p)) return false;
  const int64_t Kg = p.K / p.groups, D = (p.C / p.groups) * p.R * p.S;
  if (Kg <= 8) return true;
  if (p.stride_h > 1 || p.stride_w > 1) return false;
  if (p.R * p.S == 1) return D <= 32 && Kg <= 32;
  return Kg <= 24 && (p.R * p.S >= 25 || ImplicitGeometry(p).kept(DotMicroKernel<float>::lanes) >= 0.9);
}

/// dw (and db when not null) (conv2d_implicit_applies: any geometry), overwritten, with the
/// micro-kernel UK.
template <class UK, class T>
void conv2d_backward_weight_dot_with(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  constexpr int64_t DT = UK::dt, KT = UK::kt, V = UK::lanes, tile = DT * KT * V;
  const ImplicitGeometry geo(p);
  const int64_t G = p.groups, Cg = geo.Cg, Kg = p.K / G, D = Cg * p.R * p.S;
  const int64_t P = p.P(), Q = p.Q(), PQ = P * Q, HW = p.H * p.W, Wf = geo.Wf, L = geo.L;
  const int64_t dtiles = ceil_div(D, DT), ktiles = ceil_div(Kg, KT), sums = G * dtiles * ktiles * tile;
  const int threads = kernel_threads();
  // Tasks own chunks of whole output rows. Rows of one or two whole vectors (Q = 16 or 32, as in
  // CIFAR's ResNets) are walked row by row with dY read in place; other maps as one run of flat
  // positions over a copy of dY with zeros at the wrap positions.
  const bool by_rows = Q == V || Q == 2 * V;
  const ImplicitTasks plan = plan_implicit_tasks(1, L, Kg, geo.planes(), 1, threads, V, V);
  const int64_t rows = std::clamp<int64_t>(plan.cols / Wf, 1, P), row_tasks = ceil_div(P, rows);
  T** partials = scratch<T*>(Scratch::Columns, threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int nt = 1;
    T* part = private_sums(Scratch::Partial, sums, partials, nt);  // [g][dtile][ktile][DT*KT][V]
    int64_t* off = scratch<int64_t>(Scratch::Offsets, D);
    if (!geo.copied) geo.tap_offsets(HW, off);
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < G * p.N * row_tasks; ++t) {
      const int64_t g = t / (p.N * row_tasks), n = (t / row_tasks) % p.N, p0 = (t % row_tasks) * rows;
      const int64_t pn = std::min(rows, P - p0), j0 = p0 * Wf, nc = (pn - 1) * Wf + Q;  // flat positions
      int64_t base = 0;
      const T* src = geo.task_source(x + (n * p.C + g * Cg) * HW, j0, nc, V, off, base);
      const T* dyg = dy + (n * p.K + g * Kg) * PQ + p0 * Q;
      int64_t ld = PQ;
      if (!by_rows) {
        ld = round_up(nc, V);  // rows start on whole vectors
        T* buf = scratch<T>(Scratch::PackedB, Kg * ld);
        pack_dy_flat(dy + (n * p.K + g * Kg) * PQ, Kg, P, Q, Wf, j0, nc, ld, buf);
        dyg = buf;
      }
      for (int64_t kt = 0; kt < ktiles; ++kt) {
        const T* yrows[KT];
        for (int64_t j = 0; j < KT; ++j) yrows[j] = dyg + std::min(kt * KT + j, Kg - 1) * ld;  // surplus rows repeat
        for (int64_t dt = 0; dt < dtiles; ++dt) {
          const T* xrows[DT];
          for (int64_t i = 0; i < DT; ++i) xrows[i] = src + base + off[std::min(dt * DT + i, D - 1)];
          T* out = part + ((g * dtiles + dt) * ktiles + kt) * tile;
          if (by_rows)
            UK::run(pn, Q, xrows, Wf, yrows, Q, out);
          else
            UK::run(1, nc, xrows, 0, yrows, 0, out);
        }
      }
    }
    // dw[g, k, d] = the sum over threads and lanes of its (d, k) sums
#pragma omp for schedule(static) nowait
    for (int64_t gd = 0; gd < G * D; ++gd) {
      const int64_t g = gd / D, d = gd % D, dt = d / DT, i = d % DT;
      for (int64_t k = 0; k < Kg; ++k) {
        const int64_t at = ((g * dtiles + dt) * ktiles + k / KT) * tile + (i * KT + k % KT) * V;
        T s = 0;
        for (int u = 0; u < nt; ++u)
          for (int64_t v = 0; v < V; ++v) s += partials[u][at + v];
        dw[(g * Kg + k) * D + d] = s;
      }
    }
    if (db) conv2d_bias_grad(p, dy, db);
  }
}

/// dw (and db when not null) by dot products along the positions (DotMicroKernel<T>).
template <class T>
void conv2d_backward_weight_dot(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  conv2d_backward_weight_dot_with<DotMicroKernel<T>>(p, x, dy, dw, db);
}

TL_KERNELS_END
