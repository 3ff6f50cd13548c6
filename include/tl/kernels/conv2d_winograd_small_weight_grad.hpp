#pragma once
// Winograd F(2x2, 3x3) weight gradient for the layers of conv2d_winograd_small.hpp, the same three
// steps backwards (Y is linear in U):
//   dW_kc = G^T [ sum over tiles of (A dY_k A^T) . (B^T d_c B) ] G
// V = B^T d B of every tile and channel first (shared, as the forward's); then one task per panel
// of NR output channels: its Z = A dY A^T in the micro-kernel's B panels, the 16 GEMMs
// dU_pt^T (C x panel) = V_pt (C x tiles) * Z_pt^T (tiles x panel) with V's rows read in place (rows
// micro-kernel, the depth running over the tiles through their offsets), then G^T dU G into the
// panel's rows of dW through register transposes.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/conv2d_bias_grad.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_winograd_small.hpp"
#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/gemm_ukernel_rows.hpp"
#include "tl/kernels/transpose_block.hpp"

TL_KERNELS_BEGIN

namespace winograd_small {

/// Z = A dY A^T of every tile for output channels k0..k0+kn-1 (kn <= NR) as a B panel per point:
/// point pt, tile t, channel k at z + pt * zpt + t * NR + (k - k0), lanes past kn zero. dyt: P*Q*NR.
template <class T, int NR>
void transform_grad_output(const Conv2dParams& p, const T* dy, int64_t k0, int64_t kn, int64_t th, int64_t tw,
                           T* z, int64_t zpt, T* dyt) {
  const int64_t P = p.P(), Q = p.Q(), PQ = P * Q;
  alignas(64) T zero[NR] = {};
  for (int64_t n = 0; n < p.N; ++n) {
    pack_rows_transposed<NR>(dy + (n * p.K + k0) * PQ, PQ, kn, PQ, dyt);  // dyt[pos * NR + k]
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        const int64_t oy = 2 * ty, ox = 2 * tx;  // the tile's 2x2 outputs, zero past the map
        const T* y00 = dyt + (oy * Q + ox) * NR;
        const T* y01 = ox + 1 < Q ? y00 + NR : zero;
        const T* y10 = oy + 1 < P ? y00 + Q * NR : zero;
        const T* y11 = ox + 1 < Q && oy + 1 < P ? y00 + (Q + 1) * NR : zero;
        T* out = z + ((n * th + ty) * tw + tx) * NR;
#pragma omp simd
        for (int j = 0; j < NR; ++j) {
          // A y: y's two columns into four (1, 1+2, 1-2, -2), per row; then the same down the columns.
          const T a0 = y00[j], a1 = y00[j] + y01[j], a2 = y00[j] - y01[j], a3 = -y01[j];
          const T b0 = y10[j], b1 = y10[j] + y11[j], b2 = y10[j] - y11[j], b3 = -y11[j];
          const T row0[4] = {a0, a1, a2, a3}, row1[4] = {b0, b1, b2, b3};
          for (int c = 0; c < 4; ++c) {
            out[c * zpt + j] = row0[c];
            out[(4 + c) * zpt + j] = row0[c] + row1[c];
            out[(8 + c) * zpt + j] = row0[c] - row1[c];
            out[(12 + c) * zpt + j] = -row1[c];
          }
        }
      }
  }
}

/// g = G^T dU G for input channels c0..c0+cn-1 of a panel (du: point pt, channel c at
/// du + pt * dupt + c * NR, NR lanes of output channels), as dW^T rows: channel c, tap t at
/// gt + ((c - c0) * 9 + t) * NR.
template <class T, int NR>
void weight_from_points(const T* du, int64_t dupt, int64_t c0, int64_t cn, T* gt) {
  for (int64_t c = c0; c < c0 + cn; ++c) {
    const T* u = du + c * NR;
    T* g = gt + (c - c0) * 9 * NR;
#pragma omp simd
    for (int j = 0; j < NR; ++j) {
      T h[3][4];  // G^T dU: rows 0..2 of the kernel, point columns
      for (int b = 0; b < 4; ++b) {
        const T u0 = u[b * dupt + j], u1 = u[(4 + b) * dupt + j];
        const T u2 = u[(8 + b) * dupt + j], u3 = u[(12 + b) * dupt + j];
        h[0][b] = u0 + T(0.5) * (u1 + u2);
        h[1][b] = T(0.5) * (u1 - u2);
        h[2][b] = T(0.5) * (u1 + u2) + u3;
      }
      for (int r = 0; r < 3; ++r) {
        g[(r * 3) * NR + j] = h[r][0] + T(0.5) * (h[r][1] + h[r][2]);
        g[(r * 3 + 1) * NR + j] = T(0.5) * (h[r][1] - h[r][2]);
        g[(r * 3 + 2) * NR + j] = T(0.5) * (h[r][1] + h[r][2]) + h[r][3];
      }
    }
  }
}

}  // namespace winograd_small

/// Whether p's weight gradient should run as Winograd F(2x2, 3x3) (conv2d_backward_weight_winograd_small):
/// as the forward's rule, with 64 tiles and 512 channels or more in and out with AVX-512, 128 with
/// AVX2. Measured (docs/performance.md, 2 threads, against the kernels that ran before), AVX-512 on
/// Zen 5: 1.16-1.19x on 8x512x7x7 k512, 1.10-1.17x at batch 4, 1.33-1.34x on 32x512x4x4 k512;
/// 1.00-1.06x with 256 channels (8x8 and 7x7 maps), 0.81x with 128. AVX2 on Zen 3: 1.3x on
/// 8x512x7x7 k512, 1.18x on 7x7x256, 0.99x on 8x8x256 at batch 32, 1.07-1.24x with 128 channels,
/// 0.8x on one 7x7 image (16 tiles). V's rows are read through the tiles' offsets, and the GEMMs
/// are only as deep as the tiles.
inline bool conv2d_winograd_small_weight_grad_preferred(const Conv2dParams& p) {
#if defined(TL_KERNELS_ISA_AVX512)
  constexpr int64_t channels = 512;
#else
  constexpr int64_t channels = 128;
#endif
  return conv2d_winograd_small_preferred(p) && p.C >= channels && p.K >= channels && winograd_small_tiles(p) >= 64;
}

/// dw (and db when not null) for a layer with conv2d_winograd_geometry(p) and padding of at most 1,
/// overwritten.
template <class T>
void conv2d_backward_weight_winograd_small(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  using UK = RowsMicroKernel<T>;
  constexpr int MR = UK::mr, NR = UK::nr, PT = winograd_small::kPoints, CB = 64;
  constexpr int64_t KC = GemmBlocking::KC;
  const int64_t th = ceil_div(p.P(), 2), tw = ceil_div(p.Q(), 2), tiles = winograd_small_tiles(p);
  const int64_t blocks = ceil_div(tiles, NR), kpanels = ceil_div(p.K, NR), C = p.C, D = C * 9;
  const int64_t vpt = winograd_small::spread_stride(blocks * C * NR), zpt = winograd_small::spread_stride(tiles * NR),
                dupt = winograd_small::spread_stride(C * NR);
  const int threads = kernel_threads();
  T* v = scratch<T>(Scratch::SharedA, PT * vpt);
  int64_t* depth_off = scratch<int64_t>(Scratch::Offsets, tiles);  // tile t of a V row: block t / NR, lane t % NR
  for (int64_t t = 0; t < tiles; ++t) depth_off[t] = (t / NR) * C * NR + t % NR;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    T* work = scratch<T>(Scratch::Padded, (2 * th + 2) * (2 * tw + 2) + 32 * th * tw);
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < p.N * C; ++nc)
      winograd_small::transform_plane<T, NR>(p, x, nc / C, nc % C, th, tw, v, vpt, work);
    // implicit barrier: V complete (its last block's spare lanes are never read: the depth is the tiles)
    T* z = scratch<T>(Scratch::PackedB, PT * zpt);
    T* du = scratch<T>(Scratch::Local, PT * dupt);
    T* dyt = scratch<T>(Scratch::Columns, std::max<int64_t>(p.P() * p.Q() * NR, CB * 9 * NR));
#pragma omp for schedule(dynamic) nowait
    for (int64_t kp = 0; kp < kpanels; ++kp) {
      const int64_t k0 = kp * NR, kn = std::min<int64_t>(NR, p.K - k0);
      winograd_small::transform_grad_output<T, NR>(p, dy, k0, kn, th, tw, z, zpt, dyt);
      for (int pt = 0; pt < PT; ++pt)
        for (int64_t c0 = 0; c0 < C; c0 += MR) {
          const T* rows[MR];
          for (int i = 0; i < MR; ++i) rows[i] = v + pt * vpt + std::min<int64_t>(c0 + i, C - 1) * NR;
          for (int64_t t0 = 0; t0 < tiles; t0 += KC)
            UK::run_indirect(std::min(KC, tiles - t0), rows, depth_off + t0, z + pt * zpt + t0 * NR,
                             std::min<int64_t>(MR, C - c0), du + pt * dupt + c0 * NR, NR, t0 > 0);
        }
      for (int64_t c0 = 0; c0 < C; c0 += CB) {  // dW^T rows of CB channels, then transposed into dw
        const int64_t cn = std::min<int64_t>(CB, C - c0);
        winograd_small::weight_from_points<T, NR>(du, dupt, c0, cn, dyt);
        unpack_rows_transposed<NR>(dyt, cn * 9, kn, dw + k0 * D + c0 * 9, D);
      }
    }
    if (db) conv2d_bias_grad(p, dy, db);
  }
}

TL_KERNELS_END
