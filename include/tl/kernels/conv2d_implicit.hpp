#pragma once
// Convolution as an implicit GEMM: the micro-kernel reads the im2col matrix straight from the
// (zero-padded; when strided, phase-split) image instead of from a packed copy.
//
// The flat-position view of the image it reads is in conv2d_implicit_geometry.hpp; a tile of NR
// positions is one contiguous load per tap (gemm_ukernel_offsets.hpp).
//
// Against the packed GEMM (conv2d_gemm.hpp) this trades R*S packing copies of the image per pass
// for one padding (or phase-split) copy, none when unpadded at stride 1, plus the Wf - Q wasted
// columns per row: 2/58 on a 56x56 map, 2/9 on a 7x7 map. See docs/performance.md for where it wins.
// A 1x1 layer has no wrap columns, but its maps may end in a partial tile (4 pixels past 6 tiles on
// 14x14): those pixels of all the images are gathered and share tiles (pointwise_tail).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tl/kernels/conv2d_implicit_geometry.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_ukernel_offsets.hpp"

TL_KERNELS_BEGIN

/// The pixels of each map that an unpadded stride-1 1x1 layer leaves past its last whole tile of nr,
/// when conv2d_forward_implicit should gather them from all the images into tiles of their own: 4
/// of the 196 pixels of a 14x14 map would otherwise fill (and cost) a whole 32-wide tile each, 12.5%
/// of the products. 0 when not worth it: whole tiles, or too few pixels to fill a tile together.
inline int64_t pointwise_tail(const Conv2dParams& p, int64_t nr) {
  const int64_t PQ = p.P() * p.Q(), tail = PQ % nr;
  return is_pointwise(p) && PQ > nr && p.N * tail >= nr ? tail : 0;
}

/// Whether the implicit GEMM should replace the packed one for p, with tiles nr positions wide.
/// Measured (docs/performance.md, 2 threads, AVX-512): 0.99-1.29x of the packed GEMM where few of
/// the computed positions are dropped (14x14 to 56x56 maps), 1.05-1.15x on 3x3 layers over 7x7 maps
/// (where the packed GEMM has only 392 columns); 0.70-0.79x on 8x8 maps (96 positions computed
/// per 64 kept) and 0.89-0.98x on 1x1 layers over 7x7 maps, which keep the packed GEMM.
/// Strided (phase-split image): 1.08-1.28x on the 7x7 stem and 1.06-1.18x on ResNet's 3x3 stride-2
/// layers with 77% or more of the positions kept; 0.83-1.13x on 1x1 stride-2 layers (whose packing
/// is a plain subsampling copy), 0.26-0.63x on 8x8 and 4x4 maps. 1x1 layers whose maps end in a
/// partial tile gather those pixels (pointwise_tail): 1.08-1.29x on 9x9 to 10x10 maps (where the
/// packed GEMM ran before) and 1.01x on 11x11; 0.89-0.95x on 7x7 maps, which keep the indirect GEMM.
inline bool conv2d_implicit_preferred(const Conv2dParams& p, int64_t nr) {
  if (!conv2d_implicit_applies(p)) return false;
  if (pointwise_tail(p, nr) > 0) return p.P() * p.Q() > 64;
  const double kept = ImplicitGeometry(p).kept(nr);
  if (p.stride_h > 1 || p.stride_w > 1) return p.R * p.S > 1 && kept >= 0.75;
  return kept >= 0.85 || (p.R * p.S > 1 && kept >= 0.75);
}

/// Copies flat positions [l0, l0+n) of row `src` (positions p*Wf + q) to the output row `dst`
/// (P x Q), dropping the wrap columns q >= Q, and applies ep's row r to what it copied.
template <class T>
void compact_row(const T* src, int64_t l0, int64_t n, int64_t Wf, int64_t Q, T* dst, const Epilogue<T>& ep, int64_t r) {
  for (int64_t l = l0; l < l0 + n;) {
    const int64_t p = l / Wf, q = l - p * Wf, len = std::min(Wf - q, l0 + n - l);
    const int64_t keep = std::clamp<int64_t>(Q - q, 0, len);
    if (keep > 0) {
      T* d = dst + p * Q + q;
      std::memcpy(d, src + (l - l0), static_cast<size_t>(keep) * sizeof(T));
      if (ep.active()) ep.apply(d, keep, r);
    }
    l += len;
  }
}

/// The number of kept positions (q < Q) among flat positions [0, l), rows Wf wide: where flat
/// position l lands in the compacted P x Q output when kept.
inline int64_t kept_before(int64_t l, int64_t Wf, int64_t Q) { return (l / Wf) * Q + std::min(l % Wf, Q); }

/// Bit j set for the kept positions l + j, j < cols.
inline uint32_t kept_lanes(int64_t l, int64_t cols, int64_t Wf, int64_t Q) {
  uint32_t keep = 0;
  for (int64_t j = 0, q = l % Wf; j < cols; ++j, q = q + 1 == Wf ? 0 : q + 1)
    if (q < Q) keep |= uint32_t(1) << j;
  return keep;
}

/// Computes output channels [i0, i0+mc) of group g over the gathered tail pixels xt (C x cols: the
/// last `tail` pixels of each image, image after image) into yt (K x cols), then moves them into y
/// and applies ep there (where a residual epilogue finds its operand).
template <class UK, class T>
void implicit_tail_rows(const Conv2dParams& p, const T* apre, const T* xt, int64_t tail, int64_t g, int64_t i0,
                        int64_t mc, const Epilogue<T>& ep, T* yt, T* y) {
  constexpr int64_t MR = UK::mr, NR = UK::nr, KC = GemmBlocking::KC_IMPLICIT;
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, Mpad = round_up(Kg, MR);
  const int64_t PQ = p.P() * p.Q(), cols = p.N * tail;
  int64_t* off = scratch<int64_t>(Scratch::Offsets, Cg);  // the thread's main tasks are done with theirs
  for (int64_t c = 0; c < Cg; ++c) off[c] = c * cols;
  const T* xg = xt + g * Cg * cols;
  T* yb = yt + (g * Kg + i0) * cols;
  for (int64_t d0 = 0; d0 < Cg; d0 += KC) {
    const int64_t kc = std::min(KC, Cg - d0);
    const T* ablk = apre + g * Mpad * Cg + d0 * Mpad + i0 * kc;
    for (int64_t jt = 0; jt < cols; jt += NR)
      for (int64_t it = 0; it < mc; it += MR)
        UK::run(kc, ablk + it * kc, xg + jt, off + d0, std::min(MR, mc - it), std::min(NR, cols - jt),
                yb + it * cols + jt, cols, d0 > 0);
  }
  for (int64_t i = 0; i < mc; ++i) {
    const int64_t k = g * Kg + i0 + i;
    for (int64_t n = 0; n < p.N; ++n) {
      T* out = y + (n * p.K + k) * PQ + PQ - tail;
      copy_run(out, yb + i * cols + n * tail, tail);
      if (ep.active()) ep.apply(out, tail, k);
    }
  }
}

/// Whether the implicit forward copies each whole tile's B (its kc rows of NR values, one per tap
/// and channel, a plane apart) into a contiguous panel before its row panels read it: with AVX2,
/// for tasks of 16 row panels (96 output channels) or more. On Zen 3 (32 KiB L1) the rows read in
/// place cost 17-30% of the micro-kernel's rate against a packed panel (1 thread, 22 row panels per
/// tile, 256-512 deep). A/B in bench_conv, medians of 7 rounds: 1.08-1.18x on ResNet-50's 1x1
/// forwards with 128 or more outputs, 1.13-1.16x on 8x128x56x56 k128 3x3 stride 2 but 0.95x on
/// 8x256x28x28 k256 3x3 stride 2; with 64 outputs (11 panels) 0.93x, so not there.
inline constexpr bool implicit_packs_b_tiles() {
#if defined(TL_KERNELS_ISA_AVX2)
  return true;
#else
  return false;
#endif
}

/// Copies the rows b + off[k] (NR values each, k < kc) of a tile's B into bt, row k at bt + k * NR.
template <int64_t NR, class T>
void pack_b_tile(const T* b, const int64_t* off, int64_t kc, T* bt) {
  for (int64_t k = 0; k < kc; ++k) {
    const T* src = b + off[k];
#pragma omp simd
    for (int64_t j = 0; j < NR; ++j) bt[k * NR + j] = src[j];
  }
}

/// y = ep(conv(x, w)) (conv2d_implicit_applies: any geometry); ep per output channel. The last
/// pointwise_tail(p, nr) pixels of each map are gathered from all the images and computed apart.
template <class T>
void conv2d_forward_implicit(const Conv2dParams& p, const T* x, const T* w, T* y, const Epilogue<T>& ep = {}) {
  using UK = OffsetMicroKernel<T>;
  constexpr int64_t MR = UK::mr, NR = UK::nr, KC = GemmBlocking::KC_IMPLICIT;
  static_assert(MR == MicroKernel<T>::mr, "A is packed for MicroKernel<T>'s row count");
  const ImplicitGeometry geo(p);
  const int64_t G = p.groups, Cg = geo.Cg, Kg = p.K / G, D = Cg * p.R * p.S;
  const int64_t Q = p.Q(), PQ = p.P() * Q, Wf = geo.Wf;
  const int64_t tail = pointwise_tail(p, NR), L = geo.L - tail;  // the tail pixels are computed apart
  const bool in_place = Wf == Q;  // no wrap columns: tiles are written straight into y
  const bool compact = UK::compacts && !in_place;  // tiles written into y without their wrap columns
  const int64_t Mpad = round_up(Kg, MR);
  T* apre = scratch<T>(Scratch::SharedA, G * Mpad * D);
  const int threads = kernel_threads();
  const ImplicitTasks plan = plan_implicit_tasks(p.N, L, Kg, geo.planes(), G, threads, MR, NR);
  T* xt = tail ? scratch<T>(Scratch::Columns, p.C * p.N * tail) : nullptr;  // the tail pixels, gathered
  T* yt = tail ? scratch<T>(Scratch::Partial, p.K * p.N * tail) : nullptr;  // and their outputs
  const int64_t tail_rows = std::max(MR, round_up(ceil_div(Kg, 4 * threads), MR)), tail_tasks = ceil_div(Kg, tail_rows);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    if (tail) {  // before the prepack's barrier
#pragma omp for schedule(static) nowait
      for (int64_t c = 0; c < p.C; ++c)
        for (int64_t n = 0; n < p.N; ++n) copy_run(xt + (c * p.N + n) * tail, x + ((n * p.C + c) + 1) * PQ - tail, tail);
    }
    for (int64_t g = 0; g < G; ++g) prepack_a_shared(Kg, D, w + g * Kg * D, D, 1, apre + g * Mpad * D, KC);
    constexpr int64_t packed_rows = implicit_packs_b_tiles() ? KC : 0;
    int64_t* off = scratch<int64_t>(Scratch::Offsets, D + packed_rows);
    if (!geo.copied) geo.tap_offsets(p.H * p.W, off);
    int64_t* packed_off = off + D;  // row k of a packed tile at k * NR
    for (int64_t k = 0; k < packed_rows; ++k) packed_off[k] = k * NR;
    T* bt = packed_rows ? scratch<T>(Scratch::PackedB, packed_rows * NR) : nullptr;
#pragma omp for schedule(dynamic) nowait
    for (int64_t t = 0; t < G * plan.per_group(); ++t) {
      const int64_t g = t / plan.per_group(), tg = t % plan.per_group();
      const int64_t n0 = (tg / (plan.col_tasks * plan.row_tasks)) * plan.images;
      const int64_t j0 = ((tg / plan.row_tasks) % plan.col_tasks) * plan.cols, i0 = (tg % plan.row_tasks) * plan.rows;
      const int64_t ni = std::min(plan.images, p.N - n0), nc = std::min(plan.cols, L - j0);
      const int64_t mc = std::min(plan.rows, Kg - i0);
      if (ni <= 0 || nc <= 0 || mc <= 0) continue;
      // B: the image itself, or (padded) the padded rows this task reads, copied into a window
      // that stays in L2, image after image.
      const T* src = x + g * Cg * p.H * p.W;
      int64_t image_stride = p.C * p.H * p.W, base = j0;
      if (geo.copied) {
        const ImplicitWindow win = geo.window(j0, nc);
        T* buf = scratch<T>(Scratch::Padded, ni * win.size + geo.slack(NR));
        for (int64_t e = 0; e < ni; ++e) geo.copy_window(x + ((n0 + e) * p.C + g * Cg) * p.H * p.W, win, buf + e * win.size);
        geo.clear_slack(buf + ni * win.size, NR);
        geo.tap_offsets(win.plane, off);
        src = buf;
        image_stride = win.size;
        base = win.base;
      }
      // C of image n0 + e: y itself (in place, or through the micro-kernel's compacting store), or a
      // local block [e][mc][nc] compacted into y at the end
      T* local = in_place || compact ? nullptr : scratch<T>(Scratch::Local, ni * mc * nc);
      auto c_block = [&](int64_t e, int64_t& ldc) {
        ldc = local ? nc : PQ;
        return local ? local + e * mc * nc : y + ((n0 + e) * p.K + g * Kg + i0) * PQ + (in_place ? j0 : 0);
      };
      for (int64_t d0 = 0; d0 < D; d0 += KC) {
        const int64_t kc = std::min(KC, D - d0);
        const T* ablk = apre + g * Mpad * D + d0 * Mpad + i0 * kc;
        for (int64_t e = 0; e < ni; ++e) {
          const T* xb = src + (geo.copied ? e : n0 + e) * image_stride + base;
          int64_t ldc = 0;
          T* cb = c_block(e, ldc);
          for (int64_t jt = 0; jt < nc; jt += NR) {
            const int64_t cols = std::min(NR, nc - jt);
            if constexpr (UK::compacts) {
              if (compact) {
                const uint32_t keep = kept_lanes(j0 + jt, cols, Wf, Q);
                T* dst = cb + kept_before(j0 + jt, Wf, Q);
                for (int64_t it = 0; it < mc; it += MR)
                  UK::run_compact(kc, ablk + it * kc, xb + jt, off + d0, std::min(MR, mc - it), cols, keep,
                                  dst + it * ldc, ldc, d0 > 0, it == 0 && jt + 2 * NR <= nc);
                continue;
              }
            }
            const T* b = xb + jt;
            const int64_t* boff = off + d0;
            if (implicit_packs_b_tiles() && cols == NR && mc >= 16 * MR) {
              pack_b_tile<NR>(b, boff, kc, bt);
              b = bt;
              boff = packed_off;
            }
            for (int64_t it = 0; it < mc; it += MR)
              UK::run(kc, ablk + it * kc, b, boff, std::min(MR, mc - it), cols, cb + it * ldc + jt, ldc, d0 > 0,
                      it == 0 && jt + 2 * NR <= nc);
          }
        }
      }
      const Epilogue<T> eg = ep.from_row(g * Kg + i0);
      const int64_t y0 = kept_before(j0, Wf, Q), yn = kept_before(j0 + nc, Wf, Q) - y0;  // this task's run of y
      for (int64_t e = 0; e < ni; ++e) {
        int64_t ldc = 0;
        T* cb = c_block(e, ldc);
        T* yb = y + ((n0 + e) * p.K + g * Kg + i0) * PQ;
        for (int64_t i = 0; i < mc; ++i) {
          if (local) {
            compact_row(cb + i * ldc, j0, nc, Wf, Q, yb + i * PQ, eg, i);
          } else if (ep.active()) {
            eg.apply(yb + i * PQ + y0, yn, i);
          }
        }
      }
    }
    if (tail) {
#pragma omp for schedule(dynamic) nowait
      for (int64_t t = 0; t < G * tail_tasks; ++t) {
        const int64_t g = t / tail_tasks, i0 = (t % tail_tasks) * tail_rows;
        implicit_tail_rows<UK>(p, apre, xt, tail, g, i0, std::min(tail_rows, Kg - i0), ep, yt, y);
      }
    }
  }
}

TL_KERNELS_END
