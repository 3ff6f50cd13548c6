#pragma once
// Winograd F(4x4, 3x3) weight gradient, for the layers whose forward conv2d_winograd.hpp computes.
// The forward is Y_k = A^T [ sum_c U_kc . V_c ] A per tile (U = G g G^T, V = B^T d B, . elementwise
// over the 6x6 points), so the gradient of a weight is
//   dg_kc = G^T [ sum over images and tiles of Z_k . V_c ] G,   Z = A dY A^T (dY's 4x4 tile)
// and at each of the 36 points the sum over tiles is a GEMM, dU_pt^T (C x K) = V_pt (C x tiles) *
// Z_pt^T (tiles x K): 36 multiplies per (k, c) and tile instead of 144.
// Per task (a chunk of tile blocks): each block's V (the forward's input transform) and Z; Z is packed
// as the micro-kernel's B panels (tiles x NR output channels), V's rows are read in place through row
// pointers (RowsMicroKernel::run_indirect, the depth running over the chunk's tiles block by block).
// Each thread sums into a private dU; at the end the threads' dU are added and dg = G^T dU G.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/conv2d_bias_grad.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_winograd.hpp"
#include "tl/kernels/conv2d_winograd_transforms.hpp"
#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/gemm_ukernel_rows.hpp"
#include "tl/kernels/transpose_block.hpp"

TL_KERNELS_BEGIN

/// Whether p's weight gradient should run as Winograd: the forward's rule (conv2d_winograd_preferred)
/// and enough tiles to pay for each thread zeroing and at the end adding a private dU of 36 x C x K:
/// 256 with AVX-512, 128 with AVX2. Measured (docs/performance.md, 2 threads, Winograd off / on),
/// AVX-512 on Zen 5: 1.6-1.7x at 56x56 (batch 8) and CIFAR's 32x32 (batch 32), 1.5x at 16x16
/// (bench_conv) and 28x28 (one-off runs); 0.7x at 14x14 with 256 channels (batch 8, 128 tiles).
/// AVX2 on Zen 3, whose GEMMs run at half the rate, so the fixed cost weighs less: 1.24x on that
/// 14x14 layer.
inline bool conv2d_winograd_weight_grad_preferred(const Conv2dParams& p) {
#if defined(TL_KERNELS_ISA_AVX512)
  constexpr int64_t min_tiles = 256;
#else
  constexpr int64_t min_tiles = 128;
#endif
  return conv2d_winograd_preferred(p) && winograd_tiles(p) >= min_tiles;
}

namespace winograd {

/// z = A y for four rows of n lanes into six (A^T is output_1d's matrix).
template <class T>
inline void grad_output_1d(const T* const y[4], T* const z[6], int n) {
#pragma omp simd
  for (int j = 0; j < n; ++j) {
    const T y0 = y[0][j], y1 = y[1][j], y2 = y[2][j], y3 = y[3][j];
    z[0][j] = y0;
    z[1][j] = y0 + y1 + y2 + y3;
    z[2][j] = y0 - y1 + y2 - y3;
    z[3][j] = y0 + T(2) * y1 + T(4) * y2 + T(8) * y3;
    z[4][j] = y0 - T(2) * y1 + T(4) * y2 - T(8) * y3;
    z[5][j] = y3;
  }
}

/// g = G^T u for six rows of n lanes into three (G is weight_1d's matrix).
template <class T>
inline void weight_grad_1d(const T* const u[6], T* const g[3], int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const T u0 = u[0][j], s12 = u[1][j] + u[2][j], d21 = u[2][j] - u[1][j], s34 = u[3][j] + u[4][j],
            d34 = u[3][j] - u[4][j];
    g[0][j] = u0 / T(4) - s12 / T(6) + s34 / T(24);
    g[1][j] = d21 / T(6) + d34 / T(12);
    g[2][j] = (s34 - s12) / T(6) + u[5][j];
  }
}

/// Z = A dY A^T of the block's tiles for every output channel: point pt, channel k at
/// z + (pt * (K + 1) + k) * NR, written like transform_input's V (whole vectors from a run's first lane).
template <class T, int NR>
void transform_grad_output(const Conv2dParams& p, const T* dy, const TileBlock<NR>& b, T* z, T* line, T* ph,
                           int64_t stride) {
  Conv2dParams d = p;  // dY as an unpadded image: P x Q, K channels
  d.C = p.K;
  d.H = p.P();
  d.W = p.Q();
  d.pad_h = d.pad_w = 0;
  alignas(64) T rows[24][NR];
  const int64_t PQ = d.H * d.W, panel = (p.K + 1) * NR;
  for (int64_t k = 0; k < p.K; ++k) {
    for (int ri = 0; ri < b.runs; ++ri) {
      const TileRun& run = b.run[ri];
      load_phases(d, dy + (run.n * p.K + k) * PQ, run, line, ph, stride, 4);
      const int n = lanes_for(run.count, NR);
      for (int i = 0; i < 4; ++i) {  // along each of the tile's 4 rows, then down each column
        const T* row = ph + i * 4 * stride;
        const T* in[4] = {row, row + stride, row + 2 * stride, row + 3 * stride};
        T* out[6] = {rows[i * 6], rows[i * 6 + 1], rows[i * 6 + 2], rows[i * 6 + 3], rows[i * 6 + 4], rows[i * 6 + 5]};
        grad_output_1d<T>(in, out, n);
      }
      for (int j = 0; j < 6; ++j) {
        const T* in[4] = {rows[j], rows[6 + j], rows[12 + j], rows[18 + j]};
        T* out[6];
        for (int a = 0; a < 6; ++a) out[a] = z + (a * 6 + j) * panel + k * NR + run.first;
        grad_output_1d<T>(in, out, n);
      }
    }
  }
}

/// dw[k, c] = G^T dU_kc G for channel c and every k, from the threads' dU (part[t]: point pt, channel c,
/// output k at (pt * C + c) * Kpad + k); u is scratch for 54 * Kpad values.
template <class T>
void weight_from_points(const Conv2dParams& p, int64_t c, T* const* part, int team, int64_t Kpad, T* u, T* dw) {
  const int64_t K = p.K, C = p.C;
  for (int pt = 0; pt < kPoints; ++pt) {
    T* dst = u + pt * Kpad;
    const T* src = part[0] + (pt * C + c) * Kpad;
    std::copy(src, src + K, dst);
    for (int t = 1; t < team; ++t) {
      const T* s = part[t] + (pt * C + c) * Kpad;
#pragma omp simd
      for (int64_t k = 0; k < K; ++k) dst[k] += s[k];
    }
  }
  T* h = u + kPoints * Kpad;  // 18 rows: G^T along each point row a, h[a * 3 + s]
  for (int a = 0; a < 6; ++a) {
    const T* in[6];
    for (int b = 0; b < 6; ++b) in[b] = u + (a * 6 + b) * Kpad;
    T* out[3] = {h + (a * 3) * Kpad, h + (a * 3 + 1) * Kpad, h + (a * 3 + 2) * Kpad};
    weight_grad_1d<T>(in, out, K);
  }
  T* g = u;  // the points are consumed: reuse their rows for the 9 taps, g[r * 3 + s]
  for (int s = 0; s < 3; ++s) {
    const T* in[6];
    for (int a = 0; a < 6; ++a) in[a] = h + (a * 3 + s) * Kpad;
    T* out[3] = {g + s * Kpad, g + (3 + s) * Kpad, g + (6 + s) * Kpad};
    weight_grad_1d<T>(in, out, K);
  }
  for (int64_t k = 0; k < K; ++k)
    for (int tap = 0; tap < 9; ++tap) dw[(k * C + c) * 9 + tap] = g[tap * Kpad + k];
}

}  // namespace winograd

/// dw (and db when not null) of a layer with conv2d_winograd_geometry(p), overwritten.
template <class T>
void conv2d_backward_weight_winograd(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  using RK = RowsMicroKernel<T>;
  constexpr int L = 32, PT = winograd::kPoints, MR = RK::mr, NR = RK::nr;
  const int64_t C = p.C, K = p.K, Kpanels = ceil_div(K, NR), Kpad = Kpanels * NR;
  const int64_t th = ceil_div(p.P(), 4), tw = ceil_div(p.Q(), 4), tiles = winograd_tiles(p);
  const int threads = kernel_threads();
  // Tile blocks per chunk (the GEMMs' depth is up to 8 blocks, 256 tiles), fewer when that leaves
  // fewer than 4 chunks per thread.
  const int64_t blocks = ceil_div(tiles, L), BT = std::clamp<int64_t>(blocks / (4 * threads), 1, 8);
  const int64_t chunks = ceil_div(blocks, BT);
  const int64_t vstride = PT * (C + 1) * L, zstride = PT * (K + 1) * L, phase_stride = L + 16;
  T** part = scratch<T*>(Scratch::Offsets, threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int team = 1;
    T* mine = private_sums<T>(Scratch::Partial, PT * C * Kpad, part, team);
    T* v = scratch<T>(Scratch::PackedB, BT * vstride + L);  // the chunk's V, block after block
    T* z = scratch<T>(Scratch::Local, zstride + L);         // one block's Z
    T* zp = scratch<T>(Scratch::SharedA, PT * Kpad * BT * L);  // the chunk's Z as B panels
    T* line = scratch<T>(Scratch::Padded, 4 * (phase_stride + 1));
    T* ph = scratch<T>(Scratch::Columns, std::max<int64_t>(24 * phase_stride, 54 * Kpad));
    int64_t* off = scratch<int64_t>(Scratch::Subsampled, BT * L);  // depth t -> V offset in the chunk
    std::fill(ph, ph + 24 * phase_stride, T(0));  // lanes past a run read finite values
    for (int64_t t = 0; t < BT * L; ++t) off[t] = t / L * vstride + t % L;
#pragma omp for schedule(static)  // static: each thread sums the same chunks in the same order every run
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t b0 = chunk * BT, nb = std::min(BT, blocks - b0);
      int64_t depth = 0;
      for (int64_t bi = 0; bi < nb; ++bi) {
        const auto b = winograd::tile_block<L>((b0 + bi) * L, tiles, th, tw);
        winograd::transform_input<T, L>(p, x, b, v + bi * vstride, line, ph, phase_stride);
        winograd::transform_grad_output<T, L>(p, dy, b, z, line, ph, phase_stride);
        for (int pt = 0; pt < PT; ++pt)
          for (int64_t kp = 0; kp < Kpanels; ++kp)
            pack_rows_transposed<NR>(z + (pt * (K + 1) + kp * NR) * L, L, std::min<int64_t>(NR, K - kp * NR), b.count,
                                     zp + ((pt * Kpanels + kp) * BT * L + bi * L) * NR);
        depth += b.count;  // only the last block can be short: the depth's tiles are contiguous
      }
      for (int pt = 0; pt < PT; ++pt)
        for (int64_t c0 = 0; c0 < C; c0 += MR) {
          const T* rows[MR];
          for (int i = 0; i < MR; ++i) rows[i] = v + (pt * (C + 1) + std::min<int64_t>(c0 + i, C - 1)) * L;
          for (int64_t kp = 0; kp < Kpanels; ++kp)
            RK::run_indirect(depth, rows, off, zp + (pt * Kpanels + kp) * BT * L * NR, std::min<int64_t>(MR, C - c0),
                             mine + (pt * C + c0) * Kpad + kp * NR, Kpad, true);
        }
    }  // the implicit barrier: every thread's dU is complete
#pragma omp for schedule(static) nowait
    for (int64_t c = 0; c < C; ++c) winograd::weight_from_points(p, c, part, team, Kpad, ph, dw);
    if (db) conv2d_bias_grad(p, dy, db);
  }
}

TL_KERNELS_END
