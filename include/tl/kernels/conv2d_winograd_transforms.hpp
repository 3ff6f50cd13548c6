#pragma once
// What the Winograd F(4x4, 3x3) forward (conv2d_winograd.hpp) and weight gradient
// (conv2d_winograd_weight_grad.hpp) share: the layers they cover, the 4x4 output tiles and how a
// block of them is cut into runs along tile rows, the 1-D transforms (B^T for the input, A^T for
// the output, G for the weights; Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015), and the input transform V = B^T d B of a block, whose loads split each input
// row by column phase so that a run's tiles sit in SIMD lanes.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/lane_mask.hpp"

TL_KERNELS_BEGIN

/// True when conv2d_forward_winograd computes p: 3x3, stride 1, no dilation, one group, padding of
/// at most 2 (a tile's 6x6 input then starts at most 2 pixels before the image).
inline bool conv2d_winograd_geometry(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 && p.dil_w == 1 &&
         p.groups == 1 && p.pad_h >= 0 && p.pad_h <= 2 && p.pad_w >= 0 && p.pad_w <= 2 && p.P() > 0 && p.Q() > 0;
}

/// The 4x4 output tiles of p over the batch.
inline int64_t winograd_tiles(const Conv2dParams& p) { return p.N * ((p.P() + 3) / 4) * ((p.Q() + 3) / 4); }

namespace winograd {

constexpr int kPoints = 36;  // 6x6 transformed points per tile

/// v = B^T d for six rows of n lanes (d[i] and v[i] are arrays of n values).
template <class T>
inline void input_1d(const T* const d[6], T* const v[6], int n) {
#pragma omp simd
  for (int j = 0; j < n; ++j) {
    const T d0 = d[0][j], d1 = d[1][j], d2 = d[2][j], d3 = d[3][j], d4 = d[4][j], d5 = d[5][j];
    v[0][j] = T(4) * d0 - T(5) * d2 + d4;
    v[1][j] = -T(4) * (d1 + d2) + d3 + d4;
    v[2][j] = T(4) * (d1 - d2) - d3 + d4;
    v[3][j] = T(2) * (d3 - d1) - d2 + d4;
    v[4][j] = T(2) * (d1 - d3) - d2 + d4;
    v[5][j] = T(4) * d1 - T(5) * d3 + d5;
  }
}

/// y = A^T m for six rows of n lanes into four.
template <class T>
inline void output_1d(const T* const m[6], T* const y[4], int n) {
#pragma omp simd
  for (int j = 0; j < n; ++j) {
    const T m1 = m[1][j], m2 = m[2][j], m3 = m[3][j], m4 = m[4][j];
    const T s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    y[0][j] = m[0][j] + s12 + s34;
    y[1][j] = d12 + T(2) * d34;
    y[2][j] = s12 + T(4) * s34;
    y[3][j] = d12 + T(8) * d34 + m[5][j];
  }
}

/// u = G g for three rows of n lanes into six.
template <class T>
inline void weight_1d(const T* g0, const T* g1, const T* g2, T* const u[6], int n) {
#pragma omp simd
  for (int j = 0; j < n; ++j) {
    const T a = g0[j], b = g1[j], c = g2[j];
    u[0][j] = a / T(4);
    u[1][j] = -(a + b + c) / T(6);
    u[2][j] = -(a - b + c) / T(6);
    u[3][j] = a / T(24) + b / T(12) + c / T(6);
    u[4][j] = a / T(24) - b / T(12) + c / T(6);
    u[5][j] = c;
  }
}

/// A run of consecutive tiles in one row of tiles: image n, tile row ty, tile columns tx0..tx0+count-1,
/// in lanes first..first+count-1 of the block.
struct TileRun {
  int64_t n, ty, tx0;
  int count, first;
};

/// Up to NR consecutive tiles (in image, tile row, tile column order) as runs along tile rows; a
/// run's tiles sit side by side in the image, so the transforms load and store them as rows.
template <int NR>
struct TileBlock {
  int count = 0, runs = 0;
  TileRun run[NR];
};

template <int NR>
TileBlock<NR> tile_block(int64_t t0, int64_t tiles, int64_t th, int64_t tw) {
  TileBlock<NR> b;
  b.count = static_cast<int>(std::min<int64_t>(NR, tiles - t0));
  for (int t = 0; t < b.count;) {
    const int64_t id = t0 + t, tx = id % tw;
    const int count = static_cast<int>(std::min<int64_t>(tw - tx, b.count - t));
    b.run[b.runs++] = {id / (th * tw), id / tw % th, tx, count, t};
    t += count;
  }
  return b;
}

#if defined(TL_KERNELS_ISA_AVX512)
/// Splits 64 consecutive floats v[0..3] by column phase: out[r] lane q = column 4q + r.
inline void split_phases(const __m512 v[4], __m512 out[4]) {
  // From 32 columns: lanes 0-7 phase r, lanes 8-15 phase r + 1, of their 8 groups of 4.
  const __m512i p01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i p23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const __m512 a01 = _mm512_permutex2var_ps(v[0], p01, v[1]), a23 = _mm512_permutex2var_ps(v[0], p23, v[1]);
  const __m512 b01 = _mm512_permutex2var_ps(v[2], p01, v[3]), b23 = _mm512_permutex2var_ps(v[2], p23, v[3]);
  const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i hi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  out[0] = _mm512_permutex2var_ps(a01, lo, b01);
  out[1] = _mm512_permutex2var_ps(a01, hi, b01);
  out[2] = _mm512_permutex2var_ps(a23, lo, b23);
  out[3] = _mm512_permutex2var_ps(a23, hi, b23);
}

/// Columns j..j+15 of a row, zero outside [j_begin, j_end) (and nothing outside it read).
inline __m512 load_columns(const float* row, int64_t j, int64_t j_begin, int64_t j_end) {
  if (j >= j_begin && j + 16 <= j_end) return _mm512_loadu_ps(row + j);
  if (j >= j_end) return _mm512_setzero_ps();
  const __mmask16 m = lane_mask(j_end - j) & static_cast<__mmask16>(~lane_mask(j_begin - j));
  return _mm512_maskz_loadu_ps(m, row + j);
}
#elif defined(TL_KERNELS_ISA_AVX2)
/// split_phases for 32 consecutive floats v[0..3]: out[r] lane q = column 4q + r (a 4 x 4 transpose
/// in each 128-bit half after pairing the halves holding q and q + 4).
inline void split_phases(const __m256 v[4], __m256 out[4]) {
  const __m256 a0 = _mm256_permute2f128_ps(v[0], v[2], 0x20), a1 = _mm256_permute2f128_ps(v[0], v[2], 0x31);
  const __m256 a2 = _mm256_permute2f128_ps(v[1], v[3], 0x20), a3 = _mm256_permute2f128_ps(v[1], v[3], 0x31);
  const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
  const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
  out[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  out[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  out[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  out[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

/// Columns j..j+7 of a row, zero outside [j_begin, j_end) (and nothing outside it read).
inline __m256 load_columns(const float* row, int64_t j, int64_t j_begin, int64_t j_end) {
  if (j >= j_begin && j + 8 <= j_end) return _mm256_loadu_ps(row + j);
  if (j >= j_end || j + 8 <= j_begin) return _mm256_setzero_ps();
  return _mm256_maskload_ps(row + j, lane_range_mask8(j_begin - j, j_end - j));
}
#endif

/// Input rows of one channel under a tile run, split by column phase: ph[(i * 4 + r) * stride + q] =
/// input row 4*ty - pad_h + i (i < rows), column 4*(tx0 + q) + r - pad_w (zero outside the image),
/// for q <= count + 1 (the AVX-512 and AVX2 paths fill whole vectors of 16 and 8 q: stride must
/// allow it).
template <class T>
void load_phases(const Conv2dParams& p, const T* xc, const TileRun& run, T* line, T* ph, int64_t stride,
                 int rows = 6) {
  const int64_t nq = run.count + 2, len = 4 * nq, col0 = 4 * run.tx0 - p.pad_w;
  const int64_t j_begin = std::clamp<int64_t>(-col0, 0, len), j_end = std::clamp<int64_t>(p.W - col0, j_begin, len);
  for (int i = 0; i < rows; ++i) {
    const int64_t iy = 4 * run.ty - p.pad_h + i;
    T* out = ph + i * 4 * stride;
    if (iy < 0 || iy >= p.H) {
      for (int r = 0; r < 4; ++r)
        for (int64_t q = 0; q < nq; ++q) out[r * stride + q] = T(0);
      continue;
    }
    const T* src = xc + iy * p.W + col0;
#if defined(TL_KERNELS_ISA_AVX512)
    if constexpr (std::is_same_v<T, float>) {
      for (int64_t q0 = 0; q0 < nq; q0 += 16) {
        const int64_t j = 4 * q0;
        const __m512 v[4] = {load_columns(src, j, j_begin, j_end), load_columns(src, j + 16, j_begin, j_end),
                             load_columns(src, j + 32, j_begin, j_end), load_columns(src, j + 48, j_begin, j_end)};
        __m512 split[4];
        split_phases(v, split);
        for (int r = 0; r < 4; ++r) _mm512_storeu_ps(out + r * stride + q0, split[r]);
      }
      continue;
    }
#elif defined(TL_KERNELS_ISA_AVX2)
    if constexpr (std::is_same_v<T, float>) {
      for (int64_t q0 = 0; q0 < nq; q0 += 8) {
        const int64_t j = 4 * q0;
        const __m256 v[4] = {load_columns(src, j, j_begin, j_end), load_columns(src, j + 8, j_begin, j_end),
                             load_columns(src, j + 16, j_begin, j_end), load_columns(src, j + 24, j_begin, j_end)};
        __m256 split[4];
        split_phases(v, split);
        for (int r = 0; r < 4; ++r) _mm256_storeu_ps(out + r * stride + q0, split[r]);
      }
      continue;
    }
#endif
    for (int64_t j = 0; j < j_begin; ++j) line[j] = T(0);
    for (int64_t j = j_begin; j < j_end; ++j) line[j] = src[j];
    for (int64_t j = j_end; j < len; ++j) line[j] = T(0);
    for (int64_t q = 0; q < nq; ++q)
      for (int r = 0; r < 4; ++r) out[r * stride + q] = line[4 * q + r];
  }
}

/// Lanes a transform computes for a run of `count` tiles: whole vectors of 16, at most NR.
inline int lanes_for(int count, int NR) { return std::min(NR, (count + 15) / 16 * 16); }

/// V = B^T d B of the block's tiles for every channel, as B panels: point pt, channel c at
/// v + (pt * (C + 1) + c) * NR, one lane per tile. Each run writes whole vectors from its first lane
/// (lanes_for): the lanes past its own spill into the next channel's panel (or the spare channel C),
/// whose earlier runs rewrite them, channels and runs going in order. Lanes past the block's count
/// are not used.
template <class T, int NR>
void transform_input(const Conv2dParams& p, const T* x, const TileBlock<NR>& b, T* v, T* line, T* ph,
                     int64_t stride) {
  alignas(64) T rows[kPoints][NR];
  const int64_t HW = p.H * p.W, panel = (p.C + 1) * NR;
  for (int64_t c = 0; c < p.C; ++c) {
    for (int ri = 0; ri < b.runs; ++ri) {
      const TileRun& run = b.run[ri];
      load_phases(p, x + (run.n * p.C + c) * HW, run, line, ph, stride);
      // Along each window row i (tap l of tile q is phase l % 4, q + l / 4), then down each column;
      // whole vectors of 16 lanes (a run of 14 tiles, ResNet's 56x56 maps, takes one).
      const int n = lanes_for(run.count, NR);
      for (int i = 0; i < 6; ++i) {
        const T* row = ph + i * 4 * stride;
        const T* in[6] = {row, row + stride, row + 2 * stride, row + 3 * stride, row + 1, row + stride + 1};
        T* out[6] = {rows[i * 6], rows[i * 6 + 1], rows[i * 6 + 2], rows[i * 6 + 3], rows[i * 6 + 4], rows[i * 6 + 5]};
        input_1d<T>(in, out, n);
      }
      for (int j = 0; j < 6; ++j) {
        const T* in[6] = {rows[j], rows[6 + j], rows[12 + j], rows[18 + j], rows[24 + j], rows[30 + j]};
        T* out[6];
        for (int i = 0; i < 6; ++i) out[i] = v + (i * 6 + j) * panel + c * NR + run.first;
        input_1d<T>(in, out, n);
      }
    }
  }
}

}  // namespace winograd

TL_KERNELS_END
