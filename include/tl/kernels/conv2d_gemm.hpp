#pragma once
// Convolution as GEMM on the packed micro-kernels (NCHW in and out, see docs/performance.md).
//   forward:          Y_g  (Kg x N*PQ)  = W_g (Kg x CgRS)   * X_col_g (CgRS x N*PQ); in float,
//                     3x3 stride-1 layers with enough channels and tiles as Winograd F(4x4, 3x3)
//                     (conv2d_winograd.hpp; with AVX-512 or AVX2, unless set_winograd_enabled(false)),
//                     on small maps (4x4 to 13x13) with many channels as F(2x2, 3x3)
//                     (conv2d_winograd_small.hpp), output maps of 64 positions or fewer run as an
//                     indirect GEMM instead
//                     (conv2d_indirect.hpp: Y_g^T with positions as rows), and layers on larger
//                     maps where it measured faster as an implicit GEMM (conv2d_implicit.hpp:
//                     X_col read in place, not packed; strided ones over a phase-split image);
//                     strided 1x1 layers as a stride-1 one over the subsampled image
//                     (conv2d_subsample.hpp)
//   backward data:    stride 1: dX = conv(dY, W~) with W~ the channel-transposed, tap-flipped
//                     weights (a forward convolution, no col2im; F(2x2, 3x3) reads W~ from W);
//                     1x1 stride 1 unpadded is the special case dX_g = W_g^T * dY_g; strided
//                     float layers where it measured faster: one stride-1 convolution per phase
//                     of dX (conv2d_phased_backward_data.hpp);
//                     otherwise (stride > 1) dX_col_g (CgRS x N*PQ) = W_g^T * dY_g (Kg x N*PQ), then col2im
//   backward weight:  dW_g (Kg x CgRS)  = dY_g (Kg x N*PQ)  * X_col_g^T (N*PQ x CgRS); float layers
//                     where it measured faster: Winograd (conv2d_winograd_weight_grad.hpp, or
//                     F(2x2, 3x3) in conv2d_winograd_small_weight_grad.hpp), or
//                     dW_g^T = X_col_g * dY_g^T with X_col read in place
//                     (conv2d_indirect.hpp on small maps, conv2d_implicit_weight_grad.hpp on others);
//                     with few outputs per group, dot products along the positions
//                     (conv2d_dot_weight_grad.hpp)
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "tl/kernels/conv2d_bias_grad.hpp"
#include "tl/kernels/conv2d_dot_weight_grad.hpp"
#include "tl/kernels/conv2d_im2col.hpp"
#include "tl/kernels/conv2d_implicit.hpp"
#include "tl/kernels/conv2d_indirect.hpp"
#include "tl/kernels/conv2d_implicit_weight_grad.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_phased_backward_data.hpp"
#include "tl/kernels/conv2d_subsample.hpp"
#include "tl/kernels/conv2d_winograd.hpp"
#include "tl/kernels/conv2d_winograd_small.hpp"
#include "tl/kernels/conv2d_winograd_small_weight_grad.hpp"
#include "tl/kernels/conv2d_winograd_weight_grad.hpp"
#include "tl/kernels/gemm.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_pack.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/transpose_block.hpp"

TL_KERNELS_BEGIN

/// out[n, g*M + i, pq] = sum_d A_g(i, d) * X_col_g(src)[d, (n, pq)] for the geometry p (src is
/// N x p.C x H x W, out is N x G*M x P x Q). A_g(i, d) = a[g*a_gs + i*a_rs + d*a_cs].
/// The forward convolution, and (through a transposed 1x1 geometry) the pointwise backward-data.
/// ep's rows are output channels (g*M + i).
template <class T>
void conv_as_gemm(const Conv2dParams& p, const T* src, const T* a, int64_t a_gs, int64_t a_rs, int64_t a_cs,
                  int64_t M, T* out, const Epilogue<T>& ep = {}) {
  using UK = MicroKernel<T>;
  const int64_t G = p.groups, Cg = p.C / G, PQ = p.P() * p.Q(), D = Cg * p.R * p.S, Ncol = p.N * PQ;
  const int64_t HW = p.H * p.W, Mpad = round_up(M, UK::mr), outC = G * M;
  T* apre = scratch<T>(Scratch::SharedA, G * Mpad * D);
  const int threads = kernel_threads();
  const GemmTasks plan = plan_gemm_tasks(M, Ncol, G, threads, UK::mr, UK::nr, D);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    for (int64_t g = 0; g < G; ++g) prepack_a_shared(M, D, a + g * a_gs, a_rs, a_cs, apre + g * Mpad * D);
    int64_t* coloff = scratch<int64_t>(Scratch::Columns, plan.col_chunk);
#pragma omp for schedule(dynamic) nowait  // the region's end is the only barrier needed
    for (int64_t t = 0; t < G * plan.per_batch(); ++t) {
      const int64_t g = t / plan.per_batch(), tb = t % plan.per_batch();
      const int64_t j0 = (tb % plan.col_tasks) * plan.col_chunk, i0 = (tb / plan.col_tasks) * plan.row_chunk;
      const int64_t nc = std::min(plan.col_chunk, Ncol - j0), mc = std::min(plan.row_chunk, M - i0);
      if (nc <= 0 || mc <= 0) continue;
      for (int64_t j = 0; j < nc; ++j) coloff[j] = ((j0 + j) / PQ) * outC * PQ + (j0 + j) % PQ;
      const T* ag = apre + g * Mpad * D;
      const T* xg = src + g * Cg * HW;
      auto pack_a = [&](int64_t ii, int64_t, int64_t d0, int64_t kc) { return ag + d0 * Mpad + (i0 + ii) * kc; };
      auto pack_b = [&](int64_t jj, int64_t ncc, int64_t d0, int64_t kc, T* dst) {
        pack_b_im2col<UK::nr>(p, xg, j0 + jj, ncc, d0, kc, dst);
      };
      gemm_blocked<T>(mc, nc, D, pack_a, pack_b, CView<T>{out + (g * M + i0) * PQ, PQ, coloff}, false,
                      ep.from_row(g * M + i0));
    }
  }
}

/// y = conv(x, w), then ep per output channel (bias, inference BN, ReLU) applied while each output
/// block is in cache (no extra pass over y). In float, small output maps run as an indirect GEMM
/// (conv2d_indirect.hpp), layers whose maps suit it as an implicit GEMM (conv2d_implicit.hpp), the
/// others as the packed GEMM with im2col in the packing; strided 1x1 layers first subsample the
/// image (conv2d_subsample.hpp).
template <class T>
void conv2d_forward_gemm_ep(const Conv2dParams& p0, const T* x, const T* w, T* y, const Epilogue<T>& ep) {
  if (std::is_same_v<T, float> && conv2d_subsample_preferred(p0)) {
    const Conv2dParams q = subsampled(p0);
    T* xs = scratch<T>(Scratch::Subsampled, q.N * q.C * q.H * q.W);
    subsample_image(p0, x, xs);
    return conv2d_forward_gemm_ep(q, xs, w, y, ep);
  }
  if (std::is_same_v<T, float> && conv2d_winograd_preferred(p0)) return conv2d_forward_winograd(p0, x, w, y, ep);
  if (std::is_same_v<T, float> && conv2d_winograd_small_preferred(p0))
    return conv2d_forward_winograd_small(p0, x, w, y, ep);
  if (std::is_same_v<T, float> && conv2d_indirect_preferred(p0)) return conv2d_forward_indirect(p0, x, w, y, ep);
  if (std::is_same_v<T, float> && conv2d_implicit_preferred(p0, OffsetMicroKernel<T>::nr))
    return conv2d_forward_implicit(p0, x, w, y, ep);
  const Conv2dParams p = flatten_pointwise(p0);
  const int64_t Kg = p.K / p.groups, D = (p.C / p.groups) * p.R * p.S;
  conv_as_gemm(p, x, w, Kg * D, D, 1, Kg, y, ep);
}

template <class T>
void conv2d_forward_gemm(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  conv2d_forward_gemm_ep(p, x, w, y, Epilogue<T>{nullptr, b, false});
}

/// Channel blocks of the backward-data tasks: whole groups unless there are too few (image chunk,
/// group) pairs for the threads; a block's dX_col rows start on a micro-tile row panel (multiple of MR).
inline int64_t bwd_data_channel_block(int64_t pairs, int64_t Cg, int64_t RS, int threads, int64_t MR) {
  if (pairs >= 2 * threads) return Cg;
  int64_t unit = MR;
  for (int64_t a = MR, b = RS; b;) {  // unit = MR / gcd(MR, RS) channels = lcm(MR, RS) rows
    const int64_t t = a % b;
    a = b;
    b = t;
    unit = MR / a;
  }
  const int64_t blocks = ceil_div(2 * threads, pairs);
  return std::min(Cg, std::max<int64_t>(unit, round_up(ceil_div(Cg, blocks), unit)));
}

/// Images per backward-data task: small images (P*Q below the GEMM's column block) are batched so
/// that one GEMM sees about NC columns, e.g. 32 images of 1x1 pixels become one 32-column GEMM
/// instead of 32 one-column GEMMs that each stream the whole weight; but keep at least one task per
/// thread when the images alone can provide it.
inline int64_t bwd_data_image_chunk(int64_t N, int64_t PQ, int threads) {
  const int64_t by_cols = std::max<int64_t>(1, GemmBlocking::NC / std::max<int64_t>(PQ, 1));
  const int64_t by_threads = std::max<int64_t>(1, N / std::max(threads, 1));
  return std::min({N, by_cols, PQ * by_threads >= 64 ? by_threads : by_cols});
}

/// Stride-1 backward data as a forward convolution of dY (backward_data_as_forward) with W~ written
/// out, or read from W in place by F(2x2, 3x3) where that runs. Returns false (nothing done) when
/// the geometry does not allow it.
template <class T>
bool conv2d_backward_data_direct(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  Conv2dParams t;
  if (!backward_data_as_forward(p, t)) return false;
  if (std::is_same_v<T, float> && conv2d_winograd_small_preferred(t, true)) {  // reads W~ from W: no flip
    conv2d_forward_winograd_small(t, dy, w, dx, Epilogue<T>{}, WinogradWeights::Flipped);
    return true;
  }
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, RS = p.R * p.S;
  T* wt = scratch<T>(Scratch::Flipped, p.C * Kg * RS);
  // In parallel: every stride-1 3x3 layer's backward passes through here (ResNet-18 at 32x32: ~1%
  // of a training step's samples on one thread while the other waited).
#pragma omp parallel for collapse(2) schedule(static) if (p.C * Kg * RS > 65536)
  for (int64_t g = 0; g < G; ++g)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t c = 0; c < Cg; ++c) {
        const T* src = w + ((g * Kg + k) * Cg + c) * RS;
        T* d = wt + ((g * Cg + c) * Kg + k) * RS;
        for (int64_t i = 0; i < RS; ++i) d[i] = src[RS - 1 - i];
      }
  conv2d_forward_gemm(t, dy, wt, static_cast<const T*>(nullptr), dx);
  return true;
}

template <class T>
void conv2d_backward_data_gemm(const Conv2dParams& p0, const T* dy, const T* w, T* dx) {
  using UK = MicroKernel<T>;
  if (std::is_same_v<T, float> &&
      conv2d_phased_backward_data_preferred(p0, phased_tile_width<T>(p0.C / p0.groups)))
    return conv2d_backward_data_phased(p0, dy, w, dx);
  if (Conv2dParams t; std::is_same_v<T, float> && conv2d_indirect_backward_data_preferred(p0) &&
                      backward_data_as_forward(p0, t))  // a 1x1 layer's W (K x C) is W~^T: read as it is
    return conv2d_forward_indirect(t, dy, w, dx, Epilogue<T>{}, IndirectWeights::Transposed);
  const Conv2dParams p = flatten_pointwise(p0);
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, RS = p.R * p.S, D = Cg * RS;
  const int64_t P = p.P(), Q = p.Q(), PQ = P * Q, HW = p.H * p.W;
  if (p.R == 1 && p.S == 1 && p.H == 1 && p.stride_w == 1 && p.pad_w == 0 && p.pad_h == 0) {
    // Pointwise: dX = W^T dY, a forward "convolution" of dY (K channels) with the transposed weights.
    Conv2dParams t = p;
    t.C = p.K;
    t.K = p.C;
    conv_as_gemm(t, dy, w, Kg * Cg, 1, Cg, Cg, dx);
    return;
  }
  if (conv2d_backward_data_direct(p0, dy, w, dx)) return;
  const int64_t Mpad = round_up(D, UK::mr);
  T* apre = scratch<T>(Scratch::SharedA, G * Mpad * Kg);
  const int threads = kernel_threads();
  const int64_t ichunk = bwd_data_image_chunk(p.N, PQ, threads), ichunks = ceil_div(p.N, ichunk);
  const int64_t cblock = bwd_data_channel_block(ichunks * G, Cg, RS, threads, UK::mr);
  const int64_t cblocks = ceil_div(Cg, cblock), NC = GemmBlocking::NC;
  // dY seen as the input of a 1x1 convolution with K channels over 1 x PQ images: its X_col is dY_g.
  Conv2dParams dyp;
  dyp.N = p.N;
  dyp.C = p.K;
  dyp.H = 1;
  dyp.W = PQ;
  dyp.K = p.C;
  dyp.groups = G;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    for (int64_t g = 0; g < G; ++g) prepack_a_shared(D, Kg, w + g * Kg * D, 1, D, apre + g * Mpad * Kg);
    // Each task owns dX[images n0..n1, channels c0..c1 of group g]: zero it, then scatter-add into it.
#pragma omp for schedule(dynamic) nowait
    for (int64_t t = 0; t < ichunks * G * cblocks; ++t) {
      const int64_t n0 = (t / (G * cblocks)) * ichunk, g = (t / cblocks) % G, c0 = (t % cblocks) * cblock;
      const int64_t n1 = std::min(p.N, n0 + ichunk), c1 = std::min(Cg, c0 + cblock), rows = (c1 - c0) * RS;
      T* dxg = dx + g * Cg * HW;
      for (int64_t n = n0; n < n1; ++n) std::fill(dxg + n * p.C * HW + c0 * HW, dxg + n * p.C * HW + c1 * HW, T(0));
      const T* ag = apre + g * Mpad * Kg;
      const T* dyg = dy + g * Kg * PQ;
      for (int64_t j0 = n0 * PQ; j0 < n1 * PQ; j0 += NC) {
        const int64_t nc = std::min(NC, n1 * PQ - j0);
        T* dcol = scratch<T>(Scratch::Local, rows * nc);
        auto pack_a = [&](int64_t ii, int64_t, int64_t d0, int64_t kc) {
          return ag + d0 * Mpad + (c0 * RS + ii) * kc;
        };
        auto pack_b = [&](int64_t jj, int64_t ncc, int64_t d0, int64_t kc, T* dst) {
          pack_b_im2col<UK::nr>(dyp, dyg, j0 + jj, ncc, d0, kc, dst);
        };
        gemm_blocked<T>(rows, nc, Kg, pack_a, pack_b, CView<T>{dcol, nc}, false);
        col2im_add(p, dcol, nc, c0, c1, j0, nc, dxg);
      }
    }
  }
}

/// Packs rows [i0, i0+mc) of dY_g (K x pixels) over pixels [j0, j0+kc) as MR-row panels [kc][MR]:
/// the A operand of the weight gradient. dyg points at channel 0 of the group in image 0.
template <int MR, class T>
void pack_a_dy(const T* dyg, int64_t K, int64_t PQ, int64_t i0, int64_t mc, int64_t j0, int64_t kc, T* dst) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    T* panel = dst + ip * kc;
#if defined(TL_KERNELS_ISA_AVX512)
    if constexpr (std::is_same_v<T, float> && MR == 8) {
      if (ip + 8 <= mc) {  // a full panel: 8 x 16 blocks transposed in registers, scalar tails
        int64_t n = j0 / PQ, pq = j0 % PQ;
        for (int64_t k = 0; k < kc;) {  // runs of pixels inside one image are contiguous in dY
          const int64_t len = std::min(kc - k, PQ - pq);
          const float* rows[8];
          for (int i = 0; i < 8; ++i) rows[i] = dyg + (n * K + i0 + ip + i) * PQ + pq;
          int64_t t = 0;
          for (; t + 16 <= len; t += 16) {
            transpose_8x16(rows, panel + (k + t) * 8, 8);
            for (auto& r : rows) r += 16;
          }
          for (; t < len; ++t)
            for (int i = 0; i < 8; ++i) panel[(k + t) * 8 + i] = *rows[i]++;
          k += len;
          pq = 0;
          ++n;
        }
        continue;
      }
    }
#endif
    for (int64_t i = 0; i < MR; ++i) {
      if (ip + i >= mc) {
        for (int64_t k = 0; k < kc; ++k) panel[k * MR + i] = T(0);
        continue;
      }
      int64_t n = j0 / PQ, pq = j0 % PQ;
      for (int64_t k = 0; k < kc;) {  // runs of pixels inside one image are contiguous in dY
        const int64_t len = std::min(kc - k, PQ - pq);
        const T* src = dyg + (n * K + i0 + ip + i) * PQ + pq;
        for (int64_t t = 0; t < len; ++t) panel[(k + t) * MR + i] = src[t];
        k += len;
        pq = 0;
        ++n;
      }
    }
  }
}

/// dW_g[i0:i0+mc, e0:e0+nc] (+)= dY_g[i0:i0+mc, pixels lo:hi] * X_col_g^T[pixels lo:hi, e0:e0+nc]
/// (row stride of dw: the full CgRS), one thread.
template <class T>
void conv_weight_grad_block(const Conv2dParams& p, const T* xg, const T* dyg, int64_t i0, int64_t mc, int64_t e0,
                            int64_t nc, int64_t lo, int64_t hi, T* dw, bool accumulate) {
  using UK = MicroKernel<T>;
  const int64_t D = (p.C / p.groups) * p.R * p.S, PQ = p.P() * p.Q(), KC = GemmBlocking::KC;
  T* apack = scratch<T>(Scratch::PackedA, round_up(std::min(mc, GemmBlocking::MC), UK::mr) * KC);
  for (int64_t j0 = lo; j0 < hi; j0 += KC) {
    const int64_t kc = std::min(KC, hi - j0);
    int64_t packed_i0 = -1;
    auto pack_a = [&](int64_t ii, int64_t mcc, int64_t, int64_t) -> const T* {
      if (ii != packed_i0) pack_a_dy<UK::mr>(dyg, p.K, PQ, i0 + ii, mcc, j0, kc, apack);  // else reuse
      packed_i0 = ii;
      return apack;
    };
    auto pack_b = [&](int64_t ee, int64_t ncc, int64_t, int64_t kcc, T* dst) {
      pack_b_im2col_t<UK::nr>(p, xg, j0, kcc, e0 + ee, ncc, dst);
    };
    gemm_blocked<T>(mc, nc, kc, pack_a, pack_b, CView<T>{dw + i0 * D + e0, D}, accumulate || j0 > lo);
  }
  if (lo == hi && !accumulate)
    for (int64_t i = 0; i < mc; ++i) std::fill(dw + (i0 + i) * D + e0, dw + (i0 + i) * D + e0 + nc, T(0));
}

/// dw (and db) of conv(x, w): the packed GEMM below, or for float layers where it measured faster
/// Winograd (conv2d_winograd_weight_grad.hpp), the indirect or the implicit GEMM
/// (conv2d_implicit_weight_grad.hpp: no transposed im2col copy), or with few outputs per group dot
/// products along the positions (conv2d_dot_weight_grad.hpp).
template <class T>
void conv2d_backward_weight_gemm(const Conv2dParams& p0, const T* x, const T* dy, T* dw, T* db) {
  if (std::is_same_v<T, float> && conv2d_winograd_weight_grad_preferred(p0))
    return conv2d_backward_weight_winograd(p0, x, dy, dw, db);
  if (std::is_same_v<T, float> && conv2d_winograd_small_weight_grad_preferred(p0))
    return conv2d_backward_weight_winograd_small(p0, x, dy, dw, db);
  if (std::is_same_v<T, float> && conv2d_dot_weight_grad_preferred(p0))
    return conv2d_backward_weight_dot(p0, x, dy, dw, db);
  if (std::is_same_v<T, float> && conv2d_indirect_weight_grad_preferred(p0))
    return conv2d_backward_weight_indirect(p0, x, dy, dw, db);
  if (std::is_same_v<T, float> && conv2d_implicit_weight_grad_preferred(p0, RowsMicroKernel<T>::nr))
    return conv2d_backward_weight_implicit(p0, x, dy, dw, db);
  using UK = MicroKernel<T>;
  const Conv2dParams p = flatten_pointwise(p0);
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, D = Cg * p.R * p.S;
  const int64_t PQ = p.P() * p.Q(), depth = p.N * PQ, HW = p.H * p.W;
  const int threads = kernel_threads();
  // Usually each thread sums over its share of the pixels into a private dW and the copies are added
  // (cost ~threads*K*D, small next to K*D*pixels). With few pixels per thread (7x7 layers) the
  // private copies would dominate: then split dW itself, if it has enough column panels to share.
  const bool split_output =
      threads == 1 || (depth < threads * GemmBlocking::KC && ceil_div(D, UK::nr) * G >= 4 * threads);
  const GemmTasks plan = plan_gemm_tasks(Kg, D, G, threads, UK::mr, UK::nr, depth);
  T** partials = scratch<T*>(Scratch::Partial, threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    if (split_output) {
#pragma omp for schedule(dynamic) nowait  // db below does not read dw
      for (int64_t t = 0; t < G * plan.per_batch(); ++t) {
        const int64_t g = t / plan.per_batch(), tb = t % plan.per_batch();
        const int64_t e0 = (tb % plan.col_tasks) * plan.col_chunk, i0 = (tb / plan.col_tasks) * plan.row_chunk;
        const int64_t nc = std::min(plan.col_chunk, D - e0), mc = std::min(plan.row_chunk, Kg - i0);
        if (nc <= 0 || mc <= 0) continue;
        conv_weight_grad_block(p, x + g * Cg * HW, dy + g * Kg * PQ, i0, mc, e0, nc, 0, depth, dw + g * Kg * D, false);
      }
    } else {
      int tid = 0, nt = 1;
#ifdef _OPENMP
      tid = omp_get_thread_num();
      nt = omp_get_num_threads();
#endif
      // Thread 0 sums its share of the pixels straight into dw, the others into private copies.
      T* part = tid == 0 ? dw : scratch<T>(Scratch::Partial, p.K * D);
      partials[tid] = part;
      const int64_t lo = depth * tid / nt, hi = depth * (tid + 1) / nt;
      for (int64_t g = 0; g < G; ++g)
        conv_weight_grad_block(p, x + g * Cg * HW, dy + g * Kg * PQ, 0, Kg, 0, D, lo, hi, part + g * Kg * D, false);
#pragma omp barrier
#pragma omp for schedule(static) nowait
      for (int64_t e = 0; e < p.K * D; ++e) {
        T s = dw[e];
        for (int t = 1; t < nt; ++t) s += partials[t][e];
        dw[e] = s;
      }
    }
    if (db) conv2d_bias_grad(p, dy, db);
  }
}

TL_KERNELS_END
