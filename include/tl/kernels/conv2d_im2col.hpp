#pragma once
// im2col fused into GEMM packing, and col2im, for NCHW convolution (see docs/performance.md).
//
// The GEMM view of a convolution (one group): rows d = (c, r, s) of the "column matrix" X_col, columns
// j = (n, oh, ow) over all images, X_col[d, j] = x[n, c, oh*sh - ph + r*dh, ow*sw - pw + s*dw] (0 when
// outside the image). X_col is never materialised: the packers below write the KC x NC block that the
// micro-kernel needs straight from x, copying runs of consecutive ow with vector-friendly loops.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_scratch.hpp"

TL_KERNELS_BEGIN

/// A 1x1, stride-1, unpadded convolution is a plain GEMM per image; viewing each image as 1 x (H*W)
/// makes every run of columns span a whole image instead of one output row.
inline Conv2dParams flatten_pointwise(Conv2dParams p) {
  if (is_pointwise(p)) {
    p.W = p.H * p.W;
    p.H = 1;
    p.dil_h = p.dil_w = 1;
  }
  return p;
}

/// A run of GEMM columns with the same image n and output row oh, so consecutive ow.
struct ColumnRun {
  int64_t jj;   // first column, relative to the block
  int64_t len;  // number of columns
  int64_t n;    // image
  int64_t ih0;  // oh*sh - ph
  int64_t iw0;  // ow*sw - pw of the first column
  int64_t pq;   // oh*Q + ow of the first column
};

/// Splits columns [j0, j0+nc) into runs; runs also break every `split` columns (panel boundaries).
/// Returns the number of runs, written to a thread-local buffer.
inline int64_t column_runs(const Conv2dParams& p, int64_t j0, int64_t nc, int64_t split, const ColumnRun** out) {
  const int64_t P = p.P(), Q = p.Q(), PQ = P * Q;
  ColumnRun* runs = scratch<ColumnRun>(Scratch::Local, nc);
  int64_t count = 0;
  for (int64_t j = j0; j < j0 + nc;) {
    const int64_t n = j / PQ, pq = j % PQ, oh = pq / Q, ow = pq % Q;
    const int64_t len = std::min({Q - ow, j0 + nc - j, split - (j - j0) % split});
    runs[count++] = ColumnRun{j - j0, len, n, oh * p.stride_h - p.pad_h, ow * p.stride_w - p.pad_w, pq};
    j += len;
  }
  *out = runs;
  return count;
}

/// Range [lo, hi) of t in [0, len) with 0 <= iw + t*sw < W.
inline void valid_range(int64_t iw, int64_t sw, int64_t W, int64_t len, int64_t& lo, int64_t& hi) {
  lo = iw >= 0 ? 0 : ceil_div(-iw, sw);
  hi = iw > W - 1 ? 0 : (W - 1 - iw) / sw + 1;
  hi = std::min(hi, len);
  lo = std::min(lo, hi);
}

/// Per-depth-row offsets for rows d0..d0+kc of X_col: channel offset, r*dh, s*dw.
struct DepthTable {
  const int64_t *coff, *roff, *soff;
};
inline DepthTable depth_table(const Conv2dParams& p, int64_t d0, int64_t kc) {
  int64_t* t = scratch<int64_t>(Scratch::Local, 3 * kc);
  const int64_t RS = p.R * p.S, HW = p.H * p.W;
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t d = d0 + k, c = d / RS, r = (d % RS) / p.S, s = d % p.S;
    t[k] = c * HW;
    t[kc + k] = r * p.dil_h;
    t[2 * kc + k] = s * p.dil_w;
  }
  return DepthTable{t, t + kc, t + 2 * kc};
}

/// Stride-1 output rows shorter than this pack through whole-panel gathers
/// (pack_b_im2col_gather_avx512); measured: gathers win on 4x4 and 2x2 maps (1.05-1.2x) and on
/// every strided layer (1.5-1.8x), but lose ~10-20% to the run copies on 7x7, 8x8 and 14x14 maps.
inline constexpr int64_t kGatherBelowQ = 5;

/// Depth rows of look-ahead for the packers' software prefetch (about two channels of a 3x3 kernel).
inline constexpr int64_t kPrefetchRows = 16;

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 body of pack_b_im2col for float and NR = 32: each run (up to 32 columns of one output
/// row) is two masked 16-wide loads (stride 1) or gathers (stride > 1) per depth row. The masks come
/// from comparing the input columns with [0, W), so padding costs no branches, and masked-off lanes
/// never touch memory (the address of a padded column is formed but not dereferenced).
inline void pack_b_im2col_avx512(const ColumnRun* runs, int64_t nruns, const DepthTable& tab, int64_t H, int64_t W,
                                 int64_t sw, int64_t CHW, const float* x, int64_t kc, float* dst) {
  constexpr int NR = 32;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step0 = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(sw)));
  const __m512i step1 = _mm512_add_epi32(step0, _mm512_set1_epi32(static_cast<int>(16 * sw)));
  const __m512i zero_i = _mm512_setzero_si512(), width = _mm512_set1_epi32(static_cast<int>(W));
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t ri = 0; ri < nruns; ++ri) {
    const ColumnRun run = runs[ri];
    const uint32_t len_mask = run.len >= 32 ? 0xffffffffu : ((1u << run.len) - 1u);
    const __mmask16 lm0 = static_cast<__mmask16>(len_mask), lm1 = static_cast<__mmask16>(len_mask >> 16);
    float* base = dst + (run.jj / NR) * NR * kc + run.jj % NR;
    const float* xn = x + run.n * CHW;
    const auto xn_addr = reinterpret_cast<std::uintptr_t>(xn);
    for (int64_t k = 0; k < kc; ++k) {
      float* d = base + k * NR;
      // The loads below miss the cache on each new channel (rows 4+ KiB apart: no hardware
      // prefetch): prefetch the input row kPrefetchRows depth rows ahead (integer arithmetic: the
      // row may be a padding row outside the image; a prefetch never faults).
      if (k + kPrefetchRows < kc) {
        const int64_t kp = k + kPrefetchRows;
        const std::uintptr_t a =
            xn_addr + static_cast<std::uintptr_t>((tab.coff[kp] + (run.ih0 + tab.roff[kp]) * W + run.iw0 + tab.soff[kp]) *
                                                  static_cast<int64_t>(sizeof(float)));
        _mm_prefetch(reinterpret_cast<const char*>(a), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(a + 64), _MM_HINT_T0);
        if (sw > 1) _mm_prefetch(reinterpret_cast<const char*>(a + 128), _MM_HINT_T0);
      }
      const int64_t ih = run.ih0 + tab.roff[k];
      if (ih < 0 || ih >= H) {
        _mm512_mask_storeu_ps(d, lm0, zero);
        _mm512_mask_storeu_ps(d + 16, lm1, zero);
        continue;
      }
      const float* row = xn + tab.coff[k] + ih * W;
      const int iw = static_cast<int>(run.iw0 + tab.soff[k]);
      const __m512i idx0 = _mm512_add_epi32(_mm512_set1_epi32(iw), step0);
      const __m512i idx1 = _mm512_add_epi32(_mm512_set1_epi32(iw), step1);
      const __mmask16 m0 = _mm512_mask_cmplt_epi32_mask(_mm512_cmpge_epi32_mask(idx0, zero_i), idx0, width) & lm0;
      const __mmask16 m1 = _mm512_mask_cmplt_epi32_mask(_mm512_cmpge_epi32_mask(idx1, zero_i), idx1, width) & lm1;
      __m512 v0, v1;
      if (sw == 1) {
        v0 = _mm512_maskz_loadu_ps(m0, row + iw);
        v1 = _mm512_maskz_loadu_ps(m1, row + iw + 16);
      } else {
        v0 = _mm512_mask_i32gather_ps(zero, m0, idx0, row, 4);
        v1 = lm1 ? _mm512_mask_i32gather_ps(zero, m1, idx1, row, 4) : zero;
      }
      _mm512_mask_storeu_ps(d, lm0, v0);
      _mm512_mask_storeu_ps(d + 16, lm1, v1);
    }
  }
}
#endif

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 packer for short output rows (Q < kGatherBelowQ: many runs per 32-column panel) and
/// strided convolutions: instead of one pair of masked loads per run, each 32-column panel row is
/// two masked gathers. Per panel, the 32 columns' image offsets and top-left input positions are
/// set up once; per depth row (c, r, s) only a tap offset is added and two unsigned compares give
/// the padding mask. Offsets are 32-bit: the caller checks that the input fits.
inline void pack_b_im2col_gather_avx512(const Conv2dParams& p, const float* x, int64_t j0, int64_t nc,
                                        const DepthTable& tab, int64_t kc, float* dst) {
  constexpr int NR = 32;
  const int64_t Q = p.Q(), PQ = p.P() * Q, CHW = p.C * p.H * p.W;
  const __m512i H = _mm512_set1_epi32(static_cast<int>(p.H)), W = _mm512_set1_epi32(static_cast<int>(p.W));
  const __m512 zero = _mm512_setzero_ps();
  alignas(64) int32_t ih0[NR], iw0[NR], base[NR];
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t ncols = std::min<int64_t>(NR, nc - jp);
    for (int64_t t = 0; t < NR; ++t) {
      const int64_t j = j0 + jp + std::min<int64_t>(t, ncols - 1), n = j / PQ, pq = j % PQ;
      ih0[t] = static_cast<int32_t>((pq / Q) * p.stride_h - p.pad_h);
      iw0[t] = static_cast<int32_t>((pq % Q) * p.stride_w - p.pad_w);
      base[t] = static_cast<int32_t>(n * CHW + ih0[t] * p.W + iw0[t]);
    }
    const uint32_t cols = ncols >= 32 ? 0xffffffffu : ((1u << ncols) - 1u);
    const __mmask16 lm0 = static_cast<__mmask16>(cols), lm1 = static_cast<__mmask16>(cols >> 16);
    const __m512i h0 = _mm512_load_si512(ih0), h1 = _mm512_load_si512(ih0 + 16);
    const __m512i w0 = _mm512_load_si512(iw0), w1 = _mm512_load_si512(iw0 + 16);
    const __m512i b0 = _mm512_load_si512(base), b1 = _mm512_load_si512(base + 16);
    float* panel = dst + jp * kc;
    const auto x_addr = reinterpret_cast<std::uintptr_t>(x);
    for (int64_t k = 0; k < kc; ++k) {
      if (k + kPrefetchRows < kc) {  // as in pack_b_im2col_avx512; four lines across the panel's columns
        const int64_t kp = k + kPrefetchRows, o = tab.coff[kp] + tab.roff[kp] * p.W + tab.soff[kp];
        for (int t : {0, 10, 21, 31})
          _mm_prefetch(reinterpret_cast<const char*>(x_addr + static_cast<std::uintptr_t>((base[t] + o) * 4)),
                       _MM_HINT_T0);
      }
      const __m512i roff = _mm512_set1_epi32(static_cast<int>(tab.roff[k]));
      const __m512i soff = _mm512_set1_epi32(static_cast<int>(tab.soff[k]));
      const __m512i off = _mm512_set1_epi32(static_cast<int>(tab.coff[k] + tab.roff[k] * p.W + tab.soff[k]));
      // (unsigned) ih < H  <=>  0 <= ih < H
      const __mmask16 m0 = _mm512_mask_cmplt_epu32_mask(
          _mm512_mask_cmplt_epu32_mask(lm0, _mm512_add_epi32(h0, roff), H), _mm512_add_epi32(w0, soff), W);
      const __mmask16 m1 = _mm512_mask_cmplt_epu32_mask(
          _mm512_mask_cmplt_epu32_mask(lm1, _mm512_add_epi32(h1, roff), H), _mm512_add_epi32(w1, soff), W);
      const __m512 v0 = _mm512_mask_i32gather_ps(zero, m0, _mm512_add_epi32(b0, off), x, 4);
      const __m512 v1 = m1 ? _mm512_mask_i32gather_ps(zero, m1, _mm512_add_epi32(b1, off), x, 4) : zero;
      _mm512_storeu_ps(panel + k * NR, v0);
      _mm512_storeu_ps(panel + k * NR + 16, v1);
    }
  }
}
#endif

/// Packs X_col[d0:d0+kc, j0:j0+nc] as NR-wide panels ([nc/NR][kc][NR], zero padded).
/// x points at channel 0 of the group in image 0; images are p.C*H*W apart.
template <int NR, class T>
void pack_b_im2col(const Conv2dParams& p, const T* x, int64_t j0, int64_t nc, int64_t d0, int64_t kc, T* dst) {
  const int64_t PQ = p.P() * p.Q();
  if (p.H == 1 && p.R == 1 && p.S == 1 && p.stride_w == 1 && p.pad_w == 0 && p.pad_h == 0 && nc % NR == 0 &&
      j0 / PQ == (j0 + nc - 1) / PQ) {
    // Pointwise (flattened) and inside one image: X_col is x itself, copy whole NR-wide rows.
    const T* src = x + (j0 / PQ) * p.C * PQ + j0 % PQ + d0 * PQ;
    for (int64_t jp = 0; jp < nc; jp += NR) {
      T* panel = dst + jp * kc;
      for (int64_t k = 0; k < kc; ++k)
        for (int t = 0; t < NR; ++t) panel[k * NR + t] = src[k * PQ + jp + t];
    }
    return;
  }
  const DepthTable tab = depth_table(p, d0, kc);
  const int64_t H = p.H, W = p.W, sw = p.stride_w, CHW = p.C * H * W;
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float> && NR == 32) {
    if ((p.Q() < kGatherBelowQ || sw > 1) && p.N * CHW < (int64_t{1} << 31) - 1) {
      pack_b_im2col_gather_avx512(p, x, j0, nc, tab, kc, dst);
      return;
    }
  }
#endif
  const ColumnRun* runs;
  const int64_t nruns = column_runs(p, j0, nc, NR, &runs);
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float> && NR == 32) {
    if (W < (int64_t{1} << 30) / std::max<int64_t>(sw, 1)) {
      pack_b_im2col_avx512(runs, nruns, tab, H, W, sw, CHW, x, kc, dst);
      if (const int64_t tail = nc % NR) {
        float* panel = dst + (nc / NR) * NR * kc;
        for (int64_t k = 0; k < kc; ++k)
          for (int64_t t = tail; t < NR; ++t) panel[k * NR + t] = 0.f;
      }
      return;
    }
  }
#endif
  for (int64_t ri = 0; ri < nruns; ++ri) {
    const ColumnRun run = runs[ri];
    T* base = dst + (run.jj / NR) * NR * kc + run.jj % NR;
    const T* xn = x + run.n * CHW;
    for (int64_t k = 0; k < kc; ++k) {
      T* d = base + k * NR;
      const int64_t ih = run.ih0 + tab.roff[k];
      if (ih < 0 || ih >= H) {
        for (int64_t t = 0; t < run.len; ++t) d[t] = T(0);
        continue;
      }
      const T* row = xn + tab.coff[k] + ih * W;
      const int64_t iw = run.iw0 + tab.soff[k];
      int64_t lo, hi;
      valid_range(iw, sw, W, run.len, lo, hi);
      for (int64_t t = 0; t < lo; ++t) d[t] = T(0);
      if (sw == 1) {
        const T* src = row + iw;
        for (int64_t t = lo; t < hi; ++t) d[t] = src[t];
      } else {
        for (int64_t t = lo; t < hi; ++t) d[t] = row[iw + t * sw];
      }
      for (int64_t t = hi; t < run.len; ++t) d[t] = T(0);
    }
  }
  if (const int64_t tail = nc % NR) {  // zero the padding columns of the last panel
    T* panel = dst + (nc / NR) * NR * kc;
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t t = tail; t < NR; ++t) panel[k * NR + t] = T(0);
  }
}

#if defined(TL_KERNELS_ISA_AVX512)
/// out (16 x 16, row stride lo) = transpose of in (16 x 16, row stride li), with AVX-512 shuffles:
/// 32-bit then 64-bit interleaves inside 128-bit lanes, then two rounds of 128-bit lane shuffles.
inline void transpose16x16_avx512(const float* in, int64_t li, float* out, int64_t lo) {
  // The all-ones-mask forms: GCC 12 warns (-Wmaybe-uninitialized) inside the unmasked intrinsics.
  const __mmask16 all = 0xFFFF;
  const __mmask8 all8 = 0xFF;
  auto unpacklo_ps = [&](__m512 a, __m512 b) { return _mm512_maskz_unpacklo_ps(all, a, b); };
  auto unpackhi_ps = [&](__m512 a, __m512 b) { return _mm512_maskz_unpackhi_ps(all, a, b); };
  auto unpacklo_pd = [&](__m512d a, __m512d b) { return _mm512_maskz_unpacklo_pd(all8, a, b); };
  auto unpackhi_pd = [&](__m512d a, __m512d b) { return _mm512_maskz_unpackhi_pd(all8, a, b); };
#define TL_SHUFFLE_F32X4(a, b, imm) _mm512_maskz_shuffle_f32x4(all, a, b, imm)
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(in + i * li);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[i][j] = r[4i + j]: its 128-bit lane L holds column 4L + j of rows 4i..4i+3.
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(unpackhi_pd(b, d));
  }
  for (int j = 0; j < 4; ++j) {  // output row 4L + j = lane L of u[0][j], u[1][j], u[2][j], u[3][j]
    const __m512 lo01 = TL_SHUFFLE_F32X4(r[j], r[4 + j], 0x44), hi01 = TL_SHUFFLE_F32X4(r[j], r[4 + j], 0xEE);
    const __m512 lo23 = TL_SHUFFLE_F32X4(r[8 + j], r[12 + j], 0x44);
    const __m512 hi23 = TL_SHUFFLE_F32X4(r[8 + j], r[12 + j], 0xEE);
    _mm512_storeu_ps(out + (0 + j) * lo, TL_SHUFFLE_F32X4(lo01, lo23, 0x88));
    _mm512_storeu_ps(out + (4 + j) * lo, TL_SHUFFLE_F32X4(lo01, lo23, 0xDD));
    _mm512_storeu_ps(out + (8 + j) * lo, TL_SHUFFLE_F32X4(hi01, hi23, 0x88));
    _mm512_storeu_ps(out + (12 + j) * lo, TL_SHUFFLE_F32X4(hi01, hi23, 0xDD));
  }
#undef TL_SHUFFLE_F32X4
}
#endif

template <int NR, class T>
void pack_b_im2col(const Conv2dParams& p, const T* x, int64_t j0, int64_t nc, int64_t d0, int64_t kc, T* dst);

#if defined(TL_KERNELS_ISA_AVX512)
/// AVX-512 body of pack_b_im2col_t (float, NR = 32): the forward packer writes 32 x 32 blocks of
/// X_col with vector loads, and each block is transposed in registers.
inline void pack_b_im2col_t_avx512(const Conv2dParams& p, const float* x, int64_t j0, int64_t kc, int64_t e0,
                                   int64_t nc, float* dst) {
  float* tmp = scratch<float>(Scratch::Local, 32 * round_up(kc, 32));
  alignas(64) float block[32 * 32], tblock[32 * 32];
  for (int64_t ep = 0; ep < nc; ep += 32) {
    const int64_t ne = std::min<int64_t>(32, nc - ep);
    pack_b_im2col<32>(p, x, j0, kc, e0 + ep, ne, tmp);  // [kc/32 pixel panels][ne rows e][32 pixels]
    float* panel = dst + ep * kc;
    for (int64_t pp = 0; pp * 32 < kc; ++pp) {
      const float* src = tmp + pp * 32 * ne;
      for (int64_t e = 0; e < 32; ++e)
        for (int64_t t = 0; t < 32; ++t) block[e * 32 + t] = e < ne ? src[e * 32 + t] : 0.f;
      for (int eh = 0; eh < 32; eh += 16)
        for (int ph = 0; ph < 32; ph += 16) transpose16x16_avx512(block + eh * 32 + ph, 32, tblock + ph * 32 + eh, 32);
      const int64_t rows = std::min<int64_t>(32, kc - pp * 32);
      for (int64_t t = 0; t < rows; ++t) {
        _mm512_storeu_ps(panel + (pp * 32 + t) * 32, _mm512_load_ps(tblock + t * 32));
        _mm512_storeu_ps(panel + (pp * 32 + t) * 32 + 16, _mm512_load_ps(tblock + t * 32 + 16));
      }
    }
  }
}
#endif

/// Packs the transpose, X_col^T[j0:j0+kc, e0:e0+nc] (depth = pixels, columns = (c, r, s)), as
/// NR-wide panels: the B operand of the weight gradient dW = dY * X_col^T.
/// With AVX-512 (float): the forward packer writes 32 x 32 blocks of X_col with vector loads, and
/// each block is transposed in registers; otherwise a per-pixel gather.
template <int NR, class T>
void pack_b_im2col_t(const Conv2dParams& p, const T* x, int64_t j0, int64_t kc, int64_t e0, int64_t nc, T* dst) {
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float> && NR == 32) {
    if (p.stride_w == 1) {  // strided rows would be gathers anyway: keep the per-pixel gather
      pack_b_im2col_t_avx512(p, x, j0, kc, e0, nc, dst);
      return;
    }
  }
#endif
  const int64_t P = p.P(), Q = p.Q(), PQ = P * Q, H = p.H, W = p.W, HW = H * W, CHW = p.C * HW;
  const int64_t RS = p.R * p.S, rmax = (p.R - 1) * p.dil_h, smax = (p.S - 1) * p.dil_w;
  int64_t eoff[NR], er[NR], es[NR];
  for (int64_t ep = 0; ep < nc; ep += NR) {
    const int64_t ne = std::min<int64_t>(NR, nc - ep);
    for (int64_t t = 0; t < ne; ++t) {
      const int64_t e = e0 + ep + t, c = e / RS, r = (e % RS) / p.S, s = e % p.S;
      er[t] = r * p.dil_h;
      es[t] = s * p.dil_w;
      eoff[t] = c * HW + er[t] * W + es[t];
    }
    T* panel = dst + ep * kc;
    int64_t n = j0 / PQ, pq = j0 % PQ;
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t oh = pq / Q, ow = pq % Q;
      const int64_t ih0 = oh * p.stride_h - p.pad_h, iw0 = ow * p.stride_w - p.pad_w;
      const T* xb = x + n * CHW + ih0 * W + iw0;  // may point before the row: only read when valid
      T* d = panel + k * NR;
      if (ih0 >= 0 && ih0 + rmax < H && iw0 >= 0 && iw0 + smax < W) {
        for (int64_t t = 0; t < ne; ++t) d[t] = xb[eoff[t]];
      } else {
        for (int64_t t = 0; t < ne; ++t) {
          const int64_t ih = ih0 + er[t], iw = iw0 + es[t];
          d[t] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? xb[eoff[t]] : T(0);
        }
      }
      for (int64_t t = ne; t < NR; ++t) d[t] = T(0);
      if (++pq == PQ) {
        pq = 0;
        ++n;
      }
    }
  }
}

/// dx[n, c0+.., :, :] += col2im of dcol rows [c0*RS, c1*RS) (row stride ld) for the GEMM columns
/// [j0, j0+nc) (pairs (image n, output pixel), possibly spanning several images). dx points at
/// channel 0 of the group in image 0; images are p.C*H*W apart.
template <class T>
void col2im_add(const Conv2dParams& p, const T* dcol, int64_t ld, int64_t c0, int64_t c1, int64_t j0, int64_t nc,
                T* dx) {
  const ColumnRun* runs;
  const int64_t nruns = column_runs(p, j0, nc, nc, &runs);
  const int64_t RS = p.R * p.S, H = p.H, W = p.W, sw = p.stride_w, CHW = p.C * H * W;
  for (int64_t m = c0 * RS; m < c1 * RS; ++m) {
    const int64_t c = m / RS, r = (m % RS) / p.S, s = m % p.S;
    const T* src = dcol + (m - c0 * RS) * ld;
    T* plane = dx + c * H * W;
    for (int64_t ri = 0; ri < nruns; ++ri) {
      const ColumnRun& run = runs[ri];
      const int64_t ih = run.ih0 + r * p.dil_h;
      if (ih < 0 || ih >= H) continue;
      const int64_t iw = run.iw0 + s * p.dil_w;
      int64_t lo, hi;
      valid_range(iw, sw, W, run.len, lo, hi);
      T* row = plane + run.n * CHW + ih * W;
      const T* g = src + run.jj;
      if (sw == 1) {
        T* dr = row + iw;
        for (int64_t t = lo; t < hi; ++t) dr[t] += g[t];
      } else {
        for (int64_t t = lo; t < hi; ++t) row[iw + t * sw] += g[t];
      }
    }
  }
}

TL_KERNELS_END
