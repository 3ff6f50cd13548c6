#pragma once
// Weight gradient as an implicit GEMM, the counterpart of conv2d_implicit.hpp:
//   dW_g^T (taps x Kg) = X_win (taps x positions) * dY_g^T (positions x Kg)
// over the flat positions l = p*Wf + q of the zero-padded (when strided, phase-split) image. Row
// d = (c, r, s) of X_win is a plane of channel c shifted by off[d] (conv2d_implicit_geometry.hpp),
// read in place by the row-pointer micro-kernel (gemm_ukernel_rows.hpp); dY^T is packed with zeros
// at the wrap positions q >= Q, so they add nothing. Only dY is packed (Kg values per position)
// instead of the R*S-times larger transposed im2col matrix.
//
// Two ways to share the work between threads:
//   split positions (large maps): each task owns (group, image, chunk of positions), copies the
//     padded rows it reads into a window and adds into its thread's private dW^T; the copies are
//     summed (and transposed into dW) at the end;
//   split outputs (small maps, few positions per thread: a private dW^T per thread would cost more
//     than the products): the padded image and dY^T are prepared once, and each task owns a block
//     of dW over all positions, written straight into dW.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tl/kernels/conv2d_implicit_geometry.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_ukernel_rows.hpp"
#include "tl/kernels/transpose_block.hpp"

TL_KERNELS_BEGIN

/// Packs dY^T for flat positions [j0, j0+nc) of one image as panels [Kpad/NR][nc][NR]:
/// dst[(kp*nc + l - j0)*NR + j] = dY[kp*NR + j, p, q] for l = p*Wf + q with q < Q and kp*NR + j < Kg,
/// else 0. dyn points at the group's channel 0 in the image (channels P*Q apart).
template <int NR, class T>
void pack_dy_t(const T* dyn, int64_t Kg, int64_t P, int64_t Q, int64_t Wf, int64_t j0, int64_t nc, T* dst) {
  const int64_t PQ = P * Q;
  for (int64_t kp = 0; kp < Kg; kp += NR) {
    T* panel = dst + kp * nc;
    const int64_t rows = std::min<int64_t>(NR, Kg - kp);
    for (int64_t l = j0; l < j0 + nc;) {  // runs along one output row, then its wrap positions
      const int64_t p = l / Wf, q = l - p * Wf, len = std::min(Wf - q, j0 + nc - l);
      const int64_t keep = std::clamp<int64_t>(Q - q, 0, len);
      // Prefetch the next output row of every channel while this one is transposed: runs of Q
      // values P*Q apart, too short for the hardware prefetcher (perf: 17% of the stem's weight
      // gradient in these transposes, waiting on memory).
      if (l + len < j0 + nc)
        for (int64_t j = 0; j < rows; ++j) {
          const T* next = dyn + (kp + j) * PQ + (p + 1) * Q;
          for (int64_t e = 0; e < Q; e += 64 / static_cast<int64_t>(sizeof(T))) __builtin_prefetch(next + e, 0, 3);
        }
      T* out = panel + (l - j0) * NR;
      pack_rows_transposed<NR>(dyn + kp * PQ + p * Q + q, PQ, rows, keep, out);
      std::fill(out + keep * NR, out + len * NR, T(0));  // the wrap positions: whole lines of zeros
      l += len;
    }
  }
}

/// Whether the implicit weight gradient should replace the packed one for p (tiles nr wide).
/// Measured (docs/performance.md, 2 threads, AVX-512): 1.12-1.34x on 3x3 layers over maps of 14x14
/// and more; 0.66-0.94x over 7x7, 4x4 and most 8x8 maps; on 1x1 layers (whose im2col is the image
/// itself, so the packed GEMM copies little) 1.23x only for 256 -> 64 channels at 56x56, 0.41-0.86x
/// on the others but 512 -> 128 at 28x28 (1.05x). Strided (phase-split image), where the packed
/// GEMM's transposed im2col copy is large against its products (64 outputs or fewer): 1.5-2.0x on
/// the 7x7 stem at 32x32 to 224x224, 1.2-1.9x on 3x3 stride-2 layers with 2048 positions or more
/// in the batch; 0.69-0.82x with fewer (8 images of 14x14), and 0.49-0.96x on ResNet's stride-2
/// layers, which have 128 outputs or more.
inline bool conv2d_implicit_weight_grad_preferred(const Conv2dParams& p, int64_t nr) {
  if (!conv2d_implicit_applies(p)) return false;
  const ImplicitGeometry geo(p);
  const double kept = geo.kept(nr);
  const int64_t D = (p.C / p.groups) * p.R * p.S, Kg = p.K / p.groups;
  if (p.stride_h > 1 || p.stride_w > 1) return p.R * p.S > 1 && Kg <= 64 && p.N * geo.L >= 2048;
  return p.R * p.S > 1 ? kept >= 0.85 : kept >= 0.95 && D >= 2 * Kg;
}

/// conv2d_backward_weight_implicit with the micro-kernel UK.
template <class UK, class T>
void conv2d_backward_weight_implicit_with(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  constexpr int64_t MR = UK::mr, NR = UK::nr, KC = GemmBlocking::KC;
  const ImplicitGeometry geo(p);
  const int64_t G = p.groups, Cg = geo.Cg, Kg = p.K / G, D = Cg * p.R * p.S;
  const int64_t P = p.P(), Q = p.Q(), PQ = P * Q, HW = p.H * p.W, Wf = geo.Wf, L = geo.L;
  const int64_t Kpad = round_up(Kg, NR), kpanels = Kpad / NR, tpanels = ceil_div(D, MR);
  const int threads = kernel_threads();
  const bool split_outputs = threads > 1 && p.N * L < 1024 * threads && G * kpanels * tpanels >= 4 * threads;
  // One micro-tile: dW^T rows [d0, d0+MR) x columns [kp*NR, +NR) over `depth` positions starting at
  // `base` of the planes at `src`, with B = the packed dY^T panel.
  auto tile = [&](const T* src, int64_t base, const int64_t* off, int64_t d0, const T* bpanel, int64_t depth, T* c,
                  int64_t ldc, bool accumulate) {
    const T* rows[MR];
    const int64_t n = std::min(MR, D - d0);
    for (int64_t i = 0; i < MR; ++i) rows[i] = src + off[d0 + std::min(i, n - 1)] + base;  // surplus rows repeat the last
    UK::run(depth, rows, bpanel, n, c, ldc, accumulate);
  };

  if (split_outputs) {  // the whole padded image (a window of every row) and dY^T, prepared once
    const ImplicitWindow all = geo.window(0, L);
    const int64_t plane = geo.copied ? all.plane : HW;
    T* xp = geo.copied ? scratch<T>(Scratch::Padded, p.N * G * all.size + geo.slack(NR)) : nullptr;
    T* bt = scratch<T>(Scratch::SharedA, G * p.N * Kpad * L);  // [g][n][kpanel][L][NR]
    int64_t* off = scratch<int64_t>(Scratch::Offsets, D);
    geo.tap_offsets(plane, off);
    const int64_t tblock = std::max<int64_t>(1, ceil_div(G * kpanels * tpanels, 8 * threads));
    const int64_t tblocks = ceil_div(tpanels, tblock);
#pragma omp parallel num_threads(threads)
    {
      if (geo.copied) {
#pragma omp for schedule(static) nowait
        for (int64_t ng = 0; ng < p.N * G; ++ng) geo.copy_window(x + ng * Cg * HW, all, xp + ng * all.size);
#pragma omp single nowait
        geo.clear_slack(xp + p.N * G * all.size, NR);
      }
#pragma omp for schedule(static)
      for (int64_t gn = 0; gn < G * p.N; ++gn) {
        const int64_t g = gn / p.N, n = gn % p.N;
        pack_dy_t<NR>(dy + (n * p.K + g * Kg) * PQ, Kg, P, Q, Wf, 0, L, bt + gn * Kpad * L);
      }
      alignas(64) T c[MR * NR];
#pragma omp for schedule(dynamic)
      for (int64_t t = 0; t < G * kpanels * tblocks; ++t) {
        const int64_t g = t / (kpanels * tblocks), kp = (t / tblocks) % kpanels, tb = t % tblocks;
        const int64_t k0 = kp * NR, kn = std::min(NR, Kg - k0);
        for (int64_t tp = tb * tblock; tp < std::min(tpanels, (tb + 1) * tblock); ++tp) {
          const int64_t d0 = tp * MR, dn = std::min(MR, D - d0);
          for (int64_t n = 0; n < p.N; ++n) {
            const T* src = geo.copied ? xp + (n * G + g) * all.size : x + (n * p.C + g * Cg) * HW;
            tile(src, 0, off, d0, bt + ((g * p.N + n) * Kpad + k0) * L, L, c, NR, n > 0);
          }
          for (int64_t i = 0; i < dn; ++i)
            for (int64_t j = 0; j < kn; ++j) dw[(g * Kg + k0 + j) * D + d0 + i] = c[i * NR + j];
        }
      }
      if (db) conv2d_bias_grad(p, dy, db);
    }
    return;
  }

  // Split positions: chunks sized like the forward's (window + output block about 512 KiB).
  const ImplicitTasks plan = plan_implicit_tasks(1, L, Kpad, geo.planes(), 1, threads, MR, NR);
  const int64_t cols = plan.cols, col_tasks = ceil_div(L, cols);
  T** partials = scratch<T*>(Scratch::Columns, threads);  // not Partial: the master's own dW^T uses that
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int nt = 1;
    T* part = private_sums(Scratch::Partial, G * D * Kpad, partials, nt);  // this thread's dW^T: [g][d][Kpad]
    int64_t* off = scratch<int64_t>(Scratch::Offsets, D);
    if (!geo.copied) geo.tap_offsets(HW, off);
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < G * p.N * col_tasks; ++t) {
      const int64_t g = t / (p.N * col_tasks), n = (t / col_tasks) % p.N, j0 = (t % col_tasks) * cols;
      const int64_t nc = std::min(cols, L - j0);
      int64_t base = 0;
      const T* src = geo.task_source(x + (n * p.C + g * Cg) * HW, j0, nc, NR, off, base);
      T* bt = scratch<T>(Scratch::PackedB, Kpad * nc);
      pack_dy_t<NR>(dy + (n * p.K + g * Kg) * PQ, Kg, P, Q, Wf, j0, nc, bt);
      T* pg = part + g * D * Kpad;
      for (int64_t l0 = 0; l0 < nc; l0 += KC) {  // depth blocks keep a B panel (KC x NR) in L1
        const int64_t kc = std::min(KC, nc - l0);
        for (int64_t kp = 0; kp < kpanels; ++kp)
          for (int64_t tp = 0; tp < tpanels; ++tp)
            tile(src, base + l0, off, tp * MR, bt + (kp * nc + l0) * NR, kc, pg + tp * MR * Kpad + kp * NR, Kpad, true);
      }
    }
    // dw[g, k, d] = sum over threads of part[g, d, k]
#pragma omp for schedule(static) nowait
    for (int64_t gd = 0; gd < G * D; ++gd) {
      const int64_t g = gd / D, d = gd % D;
      for (int64_t k = 0; k < Kg; ++k) {
        T s = partials[0][gd * Kpad + k];
        for (int u = 1; u < nt; ++u) s += partials[u][gd * Kpad + k];
        dw[(g * Kg + k) * D + d] = s;
      }
    }
    if (db) conv2d_bias_grad(p, dy, db);
  }
}

/// dw (and db when not null) (conv2d_implicit_applies: any geometry), overwritten. Layers with 16
/// outputs per group or fewer use tiles 16 wide (NarrowRowsMicroKernel).
template <class T>
void conv2d_backward_weight_implicit(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  using Narrow = NarrowRowsMicroKernel<T>;
  if constexpr (Narrow::nr < RowsMicroKernel<T>::nr) {
    if (p.K / p.groups <= Narrow::nr) return conv2d_backward_weight_implicit_with<Narrow>(p, x, dy, dw, db);
  }
  conv2d_backward_weight_implicit_with<RowsMicroKernel<T>>(p, x, dy, dw, db);
}

TL_KERNELS_END
