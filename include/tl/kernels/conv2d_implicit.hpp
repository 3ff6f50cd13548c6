#pragma once
// Stride-1 convolution as an implicit GEMM: the micro-kernel reads the im2col matrix straight from
// the (zero-padded) image instead of from a packed copy.
//
// With the input padded into Hp x Wp planes, the window of output pixel (p, q) starts at the flat
// position l = p*Wp + q of every plane, and the im2col row of tap (c, r, s) is plane c shifted by
// off = c*Hp*Wp + r*dil_h*Wp + s*dil_w. Consecutive positions l read consecutive memory, so a tile
// of NR positions is one contiguous load per tap (gemm_ukernel_offsets.hpp). Positions with
// q >= Q (where the window wraps into the next row) are computed and dropped; an image has
// L = (P-1)*Wp + Q positions, so no read leaves its padded planes.
//
// Against the packed GEMM (conv2d_gemm.hpp) this trades R*S packing copies of the image per pass
// for one padding copy (none when unpadded) plus the Wp - Q wasted columns per row: 2/58 on a
// 56x56 map, 2/9 on a 7x7 map. See docs/performance.md for where it wins.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_ukernel_offsets.hpp"

TL_KERNELS_BEGIN

/// True when conv2d_forward_implicit handles p (stride 1; any kernel, padding, dilation, groups).
inline bool conv2d_implicit_applies(const Conv2dParams& p) { return p.stride_h == 1 && p.stride_w == 1; }

/// Whether the implicit GEMM should replace the packed one for p, with tiles nr positions wide.
/// Measured (docs/performance.md, 2 threads, AVX-512): 0.99-1.29x of the packed GEMM where few of
/// the computed positions are dropped (14x14 to 56x56 maps), 1.05-1.15x on 3x3 layers over 7x7 maps
/// (where the packed GEMM has only 392 columns); 0.70-0.79x on 8x8 maps (96 positions computed
/// per 64 kept) and 0.89-0.98x on 1x1 layers over 7x7 maps, which keep the packed GEMM.
inline bool conv2d_implicit_preferred(const Conv2dParams& p, int64_t nr) {
  if (!conv2d_implicit_applies(p)) return false;
  const int64_t Wp = p.W + 2 * p.pad_w, L = (p.P() - 1) * Wp + p.Q();
  const double kept = static_cast<double>(p.P() * p.Q()) / static_cast<double>((L + nr - 1) / nr * nr);
  return kept >= 0.85 || (p.R * p.S > 1 && kept >= 0.75);
}

/// Copies padded rows [h0, h0+rows) of one H x W plane (padding ph, pw) into a rows x Wp window:
/// padded row hr holds input row hr - ph, or zeros above and below the image.
template <class T>
void copy_padded_rows(const T* src, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t h0, int64_t rows, T* dst) {
  const int64_t Wp = W + 2 * pw;
  for (int64_t hr = h0; hr < h0 + rows; ++hr) {
    T* row = dst + (hr - h0) * Wp;
    const int64_t h = hr - ph;
    if (h < 0 || h >= H) {
      std::fill(row, row + Wp, T(0));
      continue;
    }
    std::fill(row, row + pw, T(0));
    std::memcpy(row + pw, src + h * W, static_cast<size_t>(W) * sizeof(T));
    std::fill(row + pw + W, row + Wp, T(0));
  }
}

/// Copies flat positions [l0, l0+n) of row `src` (positions p*Wp + q) to the output row `dst`
/// (P x Q), dropping the wrap columns q >= Q, and applies ep's row r to what it copied.
template <class T>
void compact_row(const T* src, int64_t l0, int64_t n, int64_t Wp, int64_t Q, T* dst, const Epilogue<T>& ep, int64_t r) {
  for (int64_t l = l0; l < l0 + n;) {
    const int64_t p = l / Wp, q = l - p * Wp, len = std::min(Wp - q, l0 + n - l);
    const int64_t keep = std::clamp<int64_t>(Q - q, 0, len);
    if (keep > 0) {
      T* d = dst + p * Q + q;
      std::memcpy(d, src + (l - l0), static_cast<size_t>(keep) * sizeof(T));
      if (ep.active()) ep.apply(d, keep, r);
    }
    l += len;
  }
}

/// How conv2d_forward_implicit cuts its work: each task owns `images` consecutive images, a chunk of
/// `cols` flat positions of each, and `rows` output channels. Small maps are batched (so a task's
/// A block is streamed once for several images: on 7x7 maps the weights outweigh the image);
/// large maps are cut into chunks of about 384 positions, so a task's output block stays in L2
/// and chunk boundaries (where two threads write the same output row) stay rare.
struct ImplicitTasks {
  int64_t images = 1, image_tasks = 1, cols = 1, col_tasks = 1, rows = 1, row_tasks = 1;
  int64_t per_group() const { return image_tasks * col_tasks * row_tasks; }
};

inline ImplicitTasks plan_implicit_tasks(int64_t N, int64_t L, int64_t M, int64_t C, int64_t G, int threads,
                                         int64_t MR, int64_t NR) {
  // about 512 KiB of window (C channels) and output block (M rows) per task: half of L2 (1 MiB)
  const int64_t target = std::clamp<int64_t>(131072 / (C + M), 128, 4096);
  ImplicitTasks t;
  t.image_tasks = ceil_div(N, std::max<int64_t>(1, target / L));
  t.images = ceil_div(N, t.image_tasks);
  t.image_tasks = ceil_div(N, t.images);
  t.col_tasks = ceil_div(L, target);
  t.cols = round_up(ceil_div(L, t.col_tasks), NR);
  t.col_tasks = ceil_div(L, t.cols);
  const int64_t panels = ceil_div(M, MR);
  int64_t split = 1;  // row chunks: only when the other splits leave a thread idle half the time
  while (G * t.image_tasks * t.col_tasks * split < 2 * threads && 2 * split <= panels) split *= 2;
  t.rows = ceil_div(panels, split) * MR;
  t.row_tasks = ceil_div(M, t.rows);
  return t;
}

/// y = ep(conv(x, w)) for a stride-1 geometry (conv2d_implicit_applies); ep per output channel.
template <class T>
void conv2d_forward_implicit(const Conv2dParams& p, const T* x, const T* w, T* y, const Epilogue<T>& ep = {}) {
  using UK = OffsetMicroKernel<T>;
  constexpr int64_t MR = UK::mr, NR = UK::nr, KC = GemmBlocking::KC;
  static_assert(MR == MicroKernel<T>::mr, "A is packed for MicroKernel<T>'s row count");
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, D = Cg * p.R * p.S;
  const int64_t P = p.P(), Q = p.Q(), PQ = P * Q;
  const bool padded = p.pad_h > 0 || p.pad_w > 0;
  const int64_t Wp = p.W + 2 * p.pad_w, reach_h = p.dil_h * (p.R - 1), reach_w = p.dil_w * (p.S - 1);
  const int64_t L = (P - 1) * Wp + Q;  // flat positions per image
  const bool in_place = Wp == Q;       // no wrap columns: tiles are written straight into y
  const int64_t Mpad = round_up(Kg, MR);
  T* apre = scratch<T>(Scratch::SharedA, G * Mpad * D);
  const int threads = kernel_threads();
  const ImplicitTasks plan = plan_implicit_tasks(p.N, L, Kg, Cg, G, threads, MR, NR);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    for (int64_t g = 0; g < G; ++g) prepack_a_shared(Kg, D, w + g * Kg * D, D, 1, apre + g * Mpad * D);
    int64_t* off = scratch<int64_t>(Scratch::Offsets, D);
    auto set_offsets = [&](int64_t plane) {
      for (int64_t c = 0, d = 0; c < Cg; ++c)
        for (int64_t r = 0; r < p.R; ++r)
          for (int64_t s = 0; s < p.S; ++s) off[d++] = c * plane + r * p.dil_h * Wp + s * p.dil_w;
    };
    if (!padded) set_offsets(p.H * p.W);
#pragma omp for schedule(dynamic) nowait
    for (int64_t t = 0; t < G * plan.per_group(); ++t) {
      const int64_t g = t / plan.per_group(), tg = t % plan.per_group();
      const int64_t n0 = (tg / (plan.col_tasks * plan.row_tasks)) * plan.images;
      const int64_t j0 = ((tg / plan.row_tasks) % plan.col_tasks) * plan.cols, i0 = (tg % plan.row_tasks) * plan.rows;
      const int64_t ni = std::min(plan.images, p.N - n0), nc = std::min(plan.cols, L - j0);
      const int64_t mc = std::min(plan.rows, Kg - i0);
      if (ni <= 0 || nc <= 0 || mc <= 0) continue;
      // B: the image itself, or (padded) the padded rows this task reads, copied into a window that
      // stays in L2: rows [h0, h0 + rows) of every channel of the group, for each image.
      const T* src = x + g * Cg * p.H * p.W;
      int64_t image_stride = p.C * p.H * p.W, base = j0;
      if (padded) {
        const int64_t h0 = j0 / Wp, rows = (j0 + nc - 1) / Wp - h0 + 1 + reach_h, plane = rows * Wp;
        // + reach_w + NR: a dropped wrap column of the window's last row reads past its end
        T* win = scratch<T>(Scratch::Padded, ni * Cg * plane + reach_w + NR);
        for (int64_t e = 0; e < ni; ++e)
          for (int64_t c = 0; c < Cg; ++c)
            copy_padded_rows(x + ((n0 + e) * p.C + g * Cg + c) * p.H * p.W, p.H, p.W, p.pad_h, p.pad_w, h0, rows,
                             win + (e * Cg + c) * plane);
        std::fill(win + ni * Cg * plane, win + ni * Cg * plane + reach_w + NR, T(0));
        set_offsets(plane);
        src = win;
        image_stride = Cg * plane;
        base = j0 - h0 * Wp;
      }
      // C of image n0 + e: in y itself, or in a local block [e][mc][nc] compacted into y at the end
      T* local = in_place ? nullptr : scratch<T>(Scratch::Local, ni * mc * nc);
      auto c_block = [&](int64_t e, int64_t& ldc) {
        ldc = in_place ? PQ : nc;
        return in_place ? y + ((n0 + e) * p.K + g * Kg + i0) * PQ + j0 : local + e * mc * nc;
      };
      for (int64_t d0 = 0; d0 < D; d0 += KC) {
        const int64_t kc = std::min(KC, D - d0);
        const T* ablk = apre + g * Mpad * D + d0 * Mpad + i0 * kc;
        for (int64_t e = 0; e < ni; ++e) {
          const T* xb = src + (padded ? e : n0 + e) * image_stride + base;
          int64_t ldc = 0;
          T* cb = c_block(e, ldc);
          for (int64_t jt = 0; jt < nc; jt += NR)
            for (int64_t it = 0; it < mc; it += MR)
              UK::run(kc, ablk + it * kc, xb + jt, off + d0, std::min(MR, mc - it), std::min(NR, nc - jt),
                      cb + it * ldc + jt, ldc, d0 > 0, it == 0 && jt + 2 * NR <= nc);
        }
      }
      const Epilogue<T> eg = ep.from_row(g * Kg + i0);
      for (int64_t e = 0; e < ni; ++e) {
        int64_t ldc = 0;
        T* cb = c_block(e, ldc);
        T* yb = y + ((n0 + e) * p.K + g * Kg + i0) * PQ;
        for (int64_t i = 0; i < mc; ++i) {
          if (!in_place) {
            compact_row(cb + i * ldc, j0, nc, Wp, Q, yb + i * PQ, eg, i);
          } else if (ep.active()) {
            eg.apply(cb + i * ldc, nc, i);
          }
        }
      }
    }
  }
}

TL_KERNELS_END
