#pragma once
// Winograd F(2x2, 3x3) for 3x3, stride-1 layers on small maps (ResNet's 7x7 stage), where
// F(4x4, 3x3) (conv2d_winograd.hpp) loses: there a 7x7 map has 4 tiles, and the 36 transformed
// weights per (k, c) cost more to write and read than they save.
//
// Each 2x2 output tile comes from the 4x4 input tile under it (Lavin and Gray, 2015):
//   Y = A^T [ sum_c (G g_kc G^T) . (B^T d_c B) ] A
// so one (k, c) pair costs 16 multiplies per tile instead of 36 (2.25x fewer). At each of the 16
// points the sum over c is a GEMM, M_pt (K x tiles) = U_pt (K x C) * V_pt (C x tiles).
// The loop order suits few tiles and many channels:
//   1. all threads: V = B^T d B of every tile and channel, as the micro-kernel's B panels (shared);
//   2. one task per block of KB output channels, over all the tiles: its U rows (16 x KB x C,
//      transformed from W straight into the micro-kernel's A panels, never written out whole), the
//      16 GEMMs into M, then Y = A^T M A and the epilogue into y.
// So the weights are read once and each task's U stays in cache; V (16 x C x tiles) is read once
// per task.
// The weight gradient (conv2d_winograd_small_weight_grad.hpp) shares V and the rules' geometry.
// The backward data of a stride-1 3x3 layer is the forward of dY with W flipped and its channels
// swapped (backward_data_as_forward): WinogradWeights::Flipped reads that weight from W as it is,
// with no flipped copy (the taps gathered in reverse order, rows and depth swapped).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_winograd.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/gemm_ukernel.hpp"
#include "tl/kernels/lane_mask.hpp"
#include "tl/kernels/transpose_block.hpp"

TL_KERNELS_BEGIN

/// How conv2d_forward_winograd_small reads w: as the layer's weight (rows k, depth c, K x C x 3 x 3),
/// or (Flipped) as the weight of the layer whose backward data this is: C x K x 3 x 3 with the taps
/// reversed (depth c, rows k of the call's p).
enum class WinogradWeights { Forward, Flipped };

/// The number of 2x2 output tiles of p over the batch.
inline int64_t winograd_small_tiles(const Conv2dParams& p) { return p.N * ((p.P() + 1) / 2) * ((p.Q() + 1) / 2); }

/// Whether p's forward (backward_data false) or p's stride-1 backward data run as a forward
/// (backward_data true, p the forward's parameters from backward_data_as_forward) should run as
/// Winograd F(2x2, 3x3): float with AVX-512 or AVX2, padding of at most 1, maps from 4x4 to below
/// 14x14 (where F(4x4, 3x3) does not run), and enough channels and tiles: with AVX-512, 256
/// channels or more in and out (128 for the backward data, which saves the flipped copy of W too)
/// and 32 tiles or more (16 for the backward data); with AVX2, 128 channels and 16 tiles both ways.
/// Measured (docs/performance.md, 2 threads, against the kernels that ran before; forward, then
/// backward data), AVX-512 on Zen 5: 7x7x512 at batch 8 1.3x and 1.45x; 8x8x256 and 4x4x512 at
/// batch 32 1.4-1.5x and 1.5-1.6x; 7x7x256 and 4x4x256 1.17-1.30x and 1.34-1.41x; with 128 channels
/// 0.87-0.93x on 7x7 and 4x4 maps (1.14-1.19x on 8x8 at batch 32) and 1.04-1.25x; 64 channels
/// 0.85-0.96x; 2x2 maps 0.6-0.9x; one 7x7 image (16 tiles) 0.8x and 1.45x. AVX2 on Zen 3: 7x7x512
/// 1.45-1.55x and 1.4-1.8x, 8x8x256 1.7-1.9x and 1.6-1.8x, 7x7x256 1.5x and 1.45x; with 128
/// channels 0.99x on 7x7, 1.2x on 8x8 and 1.16x on 4x4 maps, and 1.16-1.36x; one 7x7 image 1.3x
/// and 1.9x.
inline bool conv2d_winograd_small_preferred(const Conv2dParams& p, bool backward_data = false) {
#if defined(TL_KERNELS_ISA_AVX512)
  const int64_t channels = backward_data ? 128 : 256, tiles = backward_data ? 16 : 32;
#elif defined(TL_KERNELS_ISA_AVX2)
  const int64_t channels = 128, tiles = 16;
  static_cast<void>(backward_data);
#endif
#if defined(TL_KERNELS_ISA_AVX512) || defined(TL_KERNELS_ISA_AVX2)
  const int64_t PQ = p.P() * p.Q();
  return winograd_enabled() && conv2d_winograd_geometry(p) && p.pad_h <= 1 && p.pad_w <= 1 && p.C >= channels &&
         p.K >= channels && PQ >= 16 && PQ < 196 && winograd_small_tiles(p) >= tiles;
#else
  return static_cast<void>(p), static_cast<void>(backward_data), false;
#endif
}

namespace winograd_small {

constexpr int kPoints = 16;  // 4x4 transformed points per tile

/// A stride of at least n values between the points' planes that is not a multiple of 4 KiB.
inline int64_t spread_stride(int64_t n) { return round_up(n, 1024) + 64; }

/// u = G g for three rows of n lanes into four (g0, g1, g2 and u[i] are arrays of n values).
template <class T>
inline void weight_1d(const T* g0, const T* g1, const T* g2, T* const u[4], int n) {
#pragma omp simd
  for (int j = 0; j < n; ++j) {
    const T a = g0[j], b = g1[j], c = g2[j];
    u[0][j] = a;
    u[1][j] = T(0.5) * (a + b + c);
    u[2][j] = T(0.5) * (a - b + c);
    u[3][j] = c;
  }
}

/// u_pt = (G g G^T)_pt for n lanes, g[t] tap t (row-major 3x3), u[pt] point pt (row-major 4x4).
template <class T, int L>
inline void weight_points(const T (&g)[9][L], T* const u[16], int n) {
  alignas(64) T h[12][L];  // G g: row i, kernel column s at h[i * 3 + s]
  for (int s = 0; s < 3; ++s) {  // down each kernel column
    T* out[4] = {h[s], h[3 + s], h[6 + s], h[9 + s]};
    weight_1d<T>(g[s], g[3 + s], g[6 + s], out, n);
  }
  for (int i = 0; i < 4; ++i)  // then along each row of G g
    weight_1d<T>(h[i * 3], h[i * 3 + 1], h[i * 3 + 2], u + i * 4, n);
}

/// g[t][(c - c0) * MR + i] = tap t of the 3x3 kernel of row k0 + i (zero from K on) and depth c,
/// for `channels` depths from c0, read from w as `order` says.
template <class T, int MR, int L>
void gather_taps(const Conv2dParams& p, const T* w, WinogradWeights order, int64_t k0, int64_t c0, int64_t channels,
                 T (&g)[9][L]) {
  const bool forward = order == WinogradWeights::Forward;
  // The 9 values in w of (row k, depth c): its taps in order (Forward), or reversed (Flipped).
  auto kernel = [&](int64_t k, int64_t c) { return w + (forward ? k * p.C + c : c * p.K + k) * 9; };
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float> && MR == 8) {
    if (k0 + MR <= p.K) {  // per depth, the 8 rows' taps 0-7 (reversed: 8-1) transposed in registers
      for (int64_t ci = 0; ci < channels; ++ci) {
        __m256 r[8];
        float last[8];
        for (int i = 0; i < 8; ++i) {
          const float* src = kernel(k0 + i, c0 + ci);
          r[i] = _mm256_loadu_ps(forward ? src : src + 1);
          last[i] = forward ? src[8] : src[0];
        }
        transpose_8x8(r);
        for (int m = 0; m < 8; ++m) _mm256_storeu_ps(g[forward ? m : 7 - m] + ci * 8, r[m]);
        for (int i = 0; i < 8; ++i) g[8][ci * 8 + i] = last[i];
      }
      return;
    }
  }
#endif
  for (int i = 0; i < MR; ++i) {
    const int64_t k = k0 + i;
    for (int64_t ci = 0; ci < channels; ++ci) {
      T* lane = &g[0][ci * MR + i];
      if (k >= p.K) {
        for (int t = 0; t < 9; ++t) lane[t * L] = T(0);
        continue;
      }
      const T* src = kernel(k, c0 + ci);
      for (int t = 0; t < 9; ++t) lane[t * L] = forward ? src[t] : src[8 - t];
    }
  }
}

/// Packs U rows k0..k0+kb-1 (zero from K on, up to kb rounded up to MR) as A panels: point pt, rows
/// r..r+MR-1 at u + pt * upt + r * C, depth c at + c * MR.
template <class T, int MR>
void pack_weight_rows(const Conv2dParams& p, const T* w, WinogradWeights order, int64_t k0, int64_t kbpad, T* u,
                      int64_t upt) {
  constexpr int CB = 32, L = CB * MR;
  const int64_t C = p.C;
  alignas(64) T g[9][L];
  for (int64_t r0 = 0; r0 < kbpad; r0 += MR)
    for (int64_t c0 = 0; c0 < C; c0 += CB) {
      const int n = static_cast<int>(std::min<int64_t>(CB, C - c0)) * MR;
      gather_taps<T, MR, L>(p, w, order, k0 + r0, c0, n / MR, g);
      T* out[16];
      for (int pt = 0; pt < 16; ++pt) out[pt] = u + pt * upt + r0 * C + c0 * MR;
      weight_points<T, L>(g, out, n);
    }
}

/// Copies the plane's transformed tiles (point pt, tile j at d[pt * nt + j]) into the B panels:
/// point pt, tile block b, channel c at v + pt * vpt + (b * C + c) * NR, lane = tile % NR.
template <class T, int NR>
void store_plane_tiles(const T* d, int64_t nt, int64_t first, int64_t C, int64_t c, T* v, int64_t vpt) {
  for (int64_t j0 = 0; j0 < nt;) {  // runs of tiles within one block
    const int64_t tile = first + j0, len = std::min(nt - j0, NR - tile % NR);
    for (int pt = 0; pt < kPoints; ++pt) {
      const T* src = d + pt * nt + j0;
      T* dst = v + pt * vpt + ((tile / NR) * C + c) * NR + tile % NR;
      for (int64_t j = 0; j < len; ++j) dst[j] = src[j];
    }
    j0 += len;
  }
}

#if defined(TL_KERNELS_ISA_AVX512)
/// True when transform_plane_avx512 covers p: a tile row's input columns fit one vector.
inline bool plane_fits_vector(int64_t tw) { return 2 * tw + 2 <= 16; }

/// V = B^T x_tile B of plane xc (image n, channel c) into the B panels as store_plane_tiles does:
/// the input rows loaded as vectors (padding by masks), the tiles of a tile row in lanes, stored
/// from the registers (a tile row split between two blocks lane by lane).
template <int NR>
void transform_plane_avx512(const Conv2dParams& p, const float* xc, int64_t n, int64_t c, int64_t th, int64_t tw,
                            float* v, int64_t vpt) {
  const int64_t nt = th * tw;
  // Lanes of an input row vector: columns -pad_w .. ; the image's columns are lanes pad_w .. pad_w + W - 1.
  const __mmask16 in_image = static_cast<__mmask16>(lane_mask(std::min<int64_t>(p.pad_w + p.W, 16)) &
                                                    ~lane_mask(p.pad_w));
  const __mmask16 tx_lanes = lane_mask(tw);
  const __m512i i0 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 14, 14, 14, 14, 14, 14, 14, 14);
  const __m512i i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(1)), i2 = _mm512_add_epi32(i0, _mm512_set1_epi32(2)),
                i3 = _mm512_add_epi32(i0, _mm512_set1_epi32(3));
  for (int64_t ty = 0; ty < th; ++ty) {
    __m512 r[4];
    for (int a = 0; a < 4; ++a) {
      const int64_t iy = 2 * ty - p.pad_h + a;
      r[a] = iy >= 0 && iy < p.H ? _mm512_maskz_loadu_ps(in_image, xc + iy * p.W - p.pad_w) : _mm512_setzero_ps();
    }
    const __m512 e[4] = {_mm512_sub_ps(r[0], r[2]), _mm512_add_ps(r[1], r[2]), _mm512_sub_ps(r[2], r[1]),
                         _mm512_sub_ps(r[1], r[3])};  // B^T down the columns
    for (int a = 0; a < 4; ++a) {  // then B along the rows: tile tx's columns 2tx .. 2tx + 3 in lane tx
      // (The zero-masked forms: GCC 12 warns inside the unmasked intrinsic, see pooling.hpp.)
      const __m512 c0 = _mm512_maskz_permutexvar_ps(0xFFFF, i0, e[a]);
      const __m512 c1 = _mm512_maskz_permutexvar_ps(0xFFFF, i1, e[a]);
      const __m512 c2 = _mm512_maskz_permutexvar_ps(0xFFFF, i2, e[a]);
      const __m512 c3 = _mm512_maskz_permutexvar_ps(0xFFFF, i3, e[a]);
      const __m512 pts[4] = {_mm512_sub_ps(c0, c2), _mm512_add_ps(c1, c2), _mm512_sub_ps(c2, c1),
                             _mm512_sub_ps(c1, c3)};
      const int64_t tile = n * nt + ty * tw, lane = tile % NR;
      float* out = v + a * 4 * vpt + ((tile / NR) * p.C + c) * NR + lane;
      if (lane + tw <= NR) {
        for (int b = 0; b < 4; ++b) _mm512_mask_storeu_ps(out + b * vpt, tx_lanes, pts[b]);
      } else {
        for (int b = 0; b < 4; ++b) {
          alignas(64) float vals[16];
          _mm512_store_ps(vals, pts[b]);
          for (int64_t tx = 0; tx < tw; ++tx) {
            const int64_t t = tile + tx;
            v[(a * 4 + b) * vpt + ((t / NR) * p.C + c) * NR + t % NR] = vals[tx];
          }
        }
      }
    }
  }
}
#endif

/// v = B^T d for four rows of n lanes (d[i] and v[i] are arrays of n values).
template <class T>
inline void input_1d(const T* const d[4], T* const v[4], int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const T d0 = d[0][j], d1 = d[1][j], d2 = d[2][j], d3 = d[3][j];
    v[0][j] = d0 - d2;
    v[1][j] = d1 + d2;
    v[2][j] = d2 - d1;
    v[3][j] = d1 - d3;
  }
}

/// d = B^T x_tile B of plane xc's tiles (as transform_plane_avx512), through a zero-padded copy
/// pb of (2*th + 2) x (2*tw + 2) values and e, 16 x th*tw.
template <class T>
void transform_plane_generic(const Conv2dParams& p, const T* xc, int64_t th, int64_t tw, T* d, T* pb, T* e) {
  const int64_t Hb = 2 * th + 2, Wb = 2 * tw + 2, nt = th * tw;
  std::fill(pb, pb + Hb * Wb, T(0));
  for (int64_t h = 0; h < p.H && h + p.pad_h < Hb; ++h) {
    const int64_t cols = std::min(p.W, Wb - p.pad_w);
    std::copy(xc + h * p.W, xc + h * p.W + cols, pb + (h + p.pad_h) * Wb + p.pad_w);
  }
  for (int64_t ty = 0, j = 0; ty < th; ++ty)  // the 16 taps of each tile
    for (int64_t tx = 0; tx < tw; ++tx, ++j) {
      const T* src = pb + 2 * ty * Wb + 2 * tx;
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) d[(a * 4 + b) * nt + j] = src[a * Wb + b];
    }
  for (int b = 0; b < 4; ++b) {  // down each column: e = B^T d
    const T* in[4] = {d + b * nt, d + (4 + b) * nt, d + (8 + b) * nt, d + (12 + b) * nt};
    T* out[4] = {e + b * nt, e + (4 + b) * nt, e + (8 + b) * nt, e + (12 + b) * nt};
    input_1d(in, out, nt);
  }
  for (int a = 0; a < 4; ++a) {  // then along each row: d = e B
    const T* in[4] = {e + a * 4 * nt, e + (a * 4 + 1) * nt, e + (a * 4 + 2) * nt, e + (a * 4 + 3) * nt};
    T* out[4] = {d + a * 4 * nt, d + (a * 4 + 1) * nt, d + (a * 4 + 2) * nt, d + (a * 4 + 3) * nt};
    input_1d(in, out, nt);
  }
}

/// V = B^T d B of plane (n, c) of x into the B panels (store_plane_tiles). work: (2*th + 2) x
/// (2*tw + 2) + 32 * th * tw values.
template <class T, int NR>
void transform_plane(const Conv2dParams& p, const T* x, int64_t n, int64_t c, int64_t th, int64_t tw, T* v,
                     int64_t vpt, T* work) {
  const int64_t nt = th * tw;
  const T* xc = x + (n * p.C + c) * p.H * p.W;
  T* d = work;
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    if (plane_fits_vector(tw)) return transform_plane_avx512<NR>(p, xc, n, c, th, tw, v, vpt);
  }
#endif
  transform_plane_generic(p, xc, th, tw, d, d + 16 * nt, d + 16 * nt + (2 * th + 2) * (2 * tw + 2));
  store_plane_tiles<T, NR>(d, nt, n * nt, p.C, c, v, vpt);
}

/// Y = A^T M A for output channel k (row r of m: point pt, tile block b at
/// m + pt * mpt + (b * kbpad + r) * NR), then the epilogue, into every image's plane k of y.
template <class T, int NR>
void transform_output_row(const Conv2dParams& p, const T* m, int64_t mpt, int64_t r, int64_t k, int64_t kbpad,
                          int64_t th, int64_t tw, T* y, const Epilogue<T>& ep) {
  const int64_t P = p.P(), Q = p.Q(), stride_pt = mpt;
  for (int64_t n = 0; n < p.N; ++n) {
    T* yk = y + (n * p.K + k) * P * Q;
    for (int64_t ty = 0; ty < th; ++ty)
      for (int64_t tx = 0; tx < tw; ++tx) {
        const int64_t tile = (n * th + ty) * tw + tx;
        const T* mt = m + ((tile / NR) * kbpad + r) * NR + tile % NR;
        T rows[2][4];  // A^T M: down each column
        for (int j = 0; j < 4; ++j) {
          const T m0 = mt[j * stride_pt], m1 = mt[(4 + j) * stride_pt], m2 = mt[(8 + j) * stride_pt],
                  m3 = mt[(12 + j) * stride_pt];
          rows[0][j] = m0 + m1 + m2;
          rows[1][j] = m1 - m2 - m3;
        }
        for (int i = 0; i < 2 && 2 * ty + i < P; ++i) {
          T* dst = yk + (2 * ty + i) * Q + 2 * tx;
          dst[0] = rows[i][0] + rows[i][1] + rows[i][2];
          if (2 * tx + 1 < Q) dst[1] = rows[i][1] - rows[i][2] - rows[i][3];
        }
      }
    if (ep.active()) ep.apply(yk, P * Q, k);
  }
}

}  // namespace winograd_small

/// y = ep(conv(x, w)) for a layer with conv2d_winograd_geometry(p) and padding of at most 1 (ep as
/// in conv2d_forward_fused; ep.out_base must be y when ep.residual is set); w read as `order` says.
template <class T>
void conv2d_forward_winograd_small(const Conv2dParams& p, const T* x, const T* w, T* y, const Epilogue<T>& ep = {},
                                   WinogradWeights order = WinogradWeights::Forward) {
  using UK = MicroKernel<T>;
  constexpr int MR = UK::mr, NR = UK::nr, PT = winograd_small::kPoints;
  const int64_t th = ceil_div(p.P(), 2), tw = ceil_div(p.Q(), 2), tiles = winograd_small_tiles(p);
  const int64_t blocks = ceil_div(tiles, NR);
  const int threads = kernel_threads();
  // Output channels per task: at most 32 (the task's U, 16 x 32 x C values, stays in L2), fewer
  // to give every thread 2 tasks if K allows.
  int64_t kb = std::min<int64_t>(round_up(p.K, MR), 4 * MR);
  while (ceil_div(p.K, kb) < 2 * threads && kb > MR) kb = round_up(kb / 2, MR);
  const int64_t kblocks = ceil_div(p.K, kb);
  // Point strides: the 16 points are written and read side by side, and strides that are multiples
  // of 4 KiB would put all 16 streams into the same cache sets.
  const int64_t vpt = winograd_small::spread_stride(blocks * p.C * NR), upt = winograd_small::spread_stride(kb * p.C),
                mpt = winograd_small::spread_stride(blocks * kb * NR);
  T* v = scratch<T>(Scratch::SharedA, PT * vpt);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    T* work = scratch<T>(Scratch::Padded, (2 * th + 2) * (2 * tw + 2) + 32 * th * tw);
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < p.N * p.C; ++nc) {
      const int64_t n = nc / p.C, c = nc % p.C;
      winograd_small::transform_plane<T, NR>(p, x, n, c, th, tw, v, vpt, work);
      if (n == p.N - 1)  // the last block's lanes past the tiles: zero (computed, never stored)
        for (int pt = 0; pt < PT; ++pt) {
          T* last = v + pt * vpt + ((blocks - 1) * p.C + c) * NR;
          std::fill(last + (tiles - (blocks - 1) * NR), last + NR, T(0));
        }
    }  // implicit barrier: V complete
    T* u = scratch<T>(Scratch::PackedA, PT * upt);
    T* m = scratch<T>(Scratch::Local, PT * mpt);
#pragma omp for schedule(dynamic)
    for (int64_t kbi = 0; kbi < kblocks; ++kbi) {
      const int64_t k0 = kbi * kb, rows = std::min(kb, p.K - k0), kbpad = round_up(rows, MR);
      winograd_small::pack_weight_rows<T, MR>(p, w, order, k0, kbpad, u, upt);
      for (int pt = 0; pt < PT; ++pt)
        for (int64_t b = 0; b < blocks; ++b)
          for (int64_t r = 0; r < kbpad; r += MR)
            UK::run(p.C, u + pt * upt + r * p.C, v + pt * vpt + b * p.C * NR, m + pt * mpt + (b * kbpad + r) * NR, NR,
                    false);
      for (int64_t r = 0; r < rows; ++r)
        winograd_small::transform_output_row<T, NR>(p, m, mpt, r, k0 + r, kbpad, th, tw, y, ep);
    }
  }
}

TL_KERNELS_END
