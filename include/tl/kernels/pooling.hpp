#pragma once
// 2-d pooling on dense NCHW planes: max (with argmax indices), average, adaptive average and
// adaptive max, forward and backward. Plain loops, OpenMP over the N*C planes.
// Windows follow PyTorch's CPU kernels exactly (padding, dilation, ceil_mode, count_include_pad).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tl/kernels/gemm_config.hpp"

namespace tl::kernels {

/// Geometry of a (non-adaptive) pooling: planes = N*C, input H x W, output P x Q.
struct Pool2dParams {
  int64_t planes = 1, H = 1, W = 1, P = 1, Q = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};

/// PyTorch's pooling_output_shape: floor (or ceil) division, and with ceil_mode the last window
/// must start inside the input or the left padding. May return <= 0 (the op rejects that).
inline int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil, bool ceil_mode) {
  const int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  const int64_t q = num >= 0 ? num / s : -((-num + s - 1) / s);  // rounds toward -infinity
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

/// y = max over each window (padding never wins); idx = the argmax's offset h*W + w in its plane.
/// NaN propagates, as in PyTorch. Scalar version (any T); max_pool2d_forward picks the vector one.
template <class T>
void max_pool2d_forward_scalar(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
#pragma omp parallel for schedule(static) if (p.planes * p.P * p.Q > 16384)
  for (int64_t pl = 0; pl < p.planes; ++pl) {
    const T* xp = x + pl * p.H * p.W;
    for (int64_t oh = 0; oh < p.P; ++oh) {
      int64_t h0 = oh * p.sh - p.ph;
      const int64_t h1 = std::min(h0 + (p.kh - 1) * p.dh + 1, p.H);
      while (h0 < 0) h0 += p.dh;
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        int64_t w0 = ow * p.sw - p.pw;
        const int64_t w1 = std::min(w0 + (p.kw - 1) * p.dw + 1, p.W);
        while (w0 < 0) w0 += p.dw;
        int64_t best = h0 * p.W + w0;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t ih = h0; ih < h1; ih += p.dh)
          for (int64_t iw = w0; iw < w1; iw += p.dw) {
            const int64_t at = ih * p.W + iw;
            const T v = xp[at];
            const bool take = (v > m) | (v != v);  // selects, not branches: random data mispredicts
            m = take ? v : m;
            best = take ? at : best;
          }
        const int64_t o = (pl * p.P + oh) * p.Q + ow;
        y[o] = m;
        idx[o] = best;
      }
    }
  }
}

}  // namespace tl::kernels

TL_KERNELS_BEGIN

#if defined(TL_KERNELS_ISA_AVX512)
/// Lanes j of 16 consecutive columns base + j that lie inside a row [0, W).
inline __mmask16 in_row_mask(int64_t base, int64_t W) {
  const int64_t lo = std::clamp<int64_t>(-base, 0, 16), hi = std::clamp<int64_t>(W - base, 0, 16);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/// AVX-512 float max pooling: 16 output columns at a time, the window's taps visited in the scalar
/// order (rows, then columns) with per-lane masks for the padding, so values, argmax (first maximum
/// wins, a later NaN replaces an earlier one, the same default index when nothing beats -inf) and
/// NaN propagation are exactly the scalar kernel's.
/// Stride-1 rows are masked loads, stride-2 rows two loads and a permute, wider strides masked
/// gathers. Planes must fit 32-bit offsets.
inline void max_pool2d_forward_avx512(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
#pragma omp parallel for schedule(static) if (p.planes * p.P * p.Q > 16384)
  for (int64_t pl = 0; pl < p.planes; ++pl) {
    const float* xp = x + pl * p.H * p.W;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i W = _mm512_set1_epi32(static_cast<int>(p.W));
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int64_t oh = 0; oh < p.P; ++oh) {
      const int64_t h0 = oh * p.sh - p.ph;
      for (int64_t ow0 = 0; ow0 < p.Q; ow0 += 16) {
        const int64_t n = std::min<int64_t>(16, p.Q - ow0);
        const __mmask16 live = static_cast<__mmask16>((1u << n) - 1u);
        // iw of tap 0 per lane: (ow0 + lane) * sw - pw
        const __m512i iw0 = _mm512_sub_epi32(
            _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(static_cast<int>(ow0))),
                               _mm512_set1_epi32(static_cast<int>(p.sw))),
            _mm512_set1_epi32(static_cast<int>(p.pw)));
        __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        // The scalar kernel's initial argmax (kept when no value beats -inf): the first row and
        // column at or after the window's start that are >= 0, stepping by the dilation.
        int64_t hs = h0;
        while (hs < 0) hs += p.dh;
        __m512i ws = iw0;
        const __m512i dwv = _mm512_set1_epi32(static_cast<int>(p.dw));
        for (__mmask16 neg = _mm512_cmplt_epi32_mask(ws, _mm512_setzero_si512()); neg;
             neg = _mm512_cmplt_epi32_mask(ws, _mm512_setzero_si512()))
          ws = _mm512_mask_add_epi32(ws, neg, ws, dwv);
        __m512i best = _mm512_add_epi32(ws, _mm512_set1_epi32(static_cast<int>(hs * p.W)));
        for (int64_t r = 0; r < p.kh; ++r) {
          const int64_t ih = h0 + r * p.dh;
          if (ih < 0 || ih >= p.H) continue;
          const float* row = xp + ih * p.W;
          for (int64_t s = 0; s < p.kw; ++s) {
            const __m512i iw = _mm512_add_epi32(iw0, _mm512_set1_epi32(static_cast<int>(s * p.dw)));
            const __mmask16 valid = _mm512_mask_cmplt_epu32_mask(live, iw, W);  // 0 <= iw < W
            if (!valid) continue;
            __m512 v;
            if (p.sw == 1) {
              v = _mm512_maskz_loadu_ps(valid, row + (ow0 - p.pw + s * p.dw));
            } else if (p.sw == 2) {
              // Lanes read columns base + 2*lane: two masked loads of 16, then the even elements
              // (a gather would issue 16 separate loads).
              const int64_t base = 2 * ow0 - p.pw + s * p.dw;
              const __mmask16 lo = in_row_mask(base, p.W), hi = in_row_mask(base + 16, p.W);
              const __m512 a = _mm512_maskz_loadu_ps(lo, row + base), b = _mm512_maskz_loadu_ps(hi, row + base + 16);
              v = _mm512_maskz_permutex2var_ps(valid, a, even, b);
            } else {
              v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, iw, row, 4);
            }
            const __mmask16 gt = _mm512_mask_cmp_ps_mask(valid, v, m, _CMP_GT_OQ);
            const __mmask16 nan = _mm512_mask_cmp_ps_mask(valid, v, v, _CMP_UNORD_Q);
            const __mmask16 take = gt | nan;
            m = _mm512_mask_mov_ps(m, take, v);
            best = _mm512_mask_mov_epi32(
                best, take, _mm512_add_epi32(iw, _mm512_set1_epi32(static_cast<int>(ih * p.W))));
          }
        }
        const int64_t o = (pl * p.P + oh) * p.Q + ow0;
        _mm512_mask_storeu_ps(y + o, live, m);
        // The zero-masked forms: GCC 12 warns (-Wmaybe-uninitialized) inside the unmasked intrinsics.
        const __m512i lo = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, best, 0));
        const __m512i hi = _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xFF, best, 1));
        _mm512_mask_storeu_epi64(idx + o, static_cast<__mmask8>(live), lo);
        _mm512_mask_storeu_epi64(idx + o + 8, static_cast<__mmask8>(live >> 8), hi);
      }
    }
  }
}
#endif

/// y = max over each window (padding never wins); idx = the argmax's offset h*W + w in its plane.
/// NaN propagates, as in PyTorch.
template <class T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    if (p.H * p.W < (int64_t{1} << 30) && p.Q * p.sw + p.kw * p.dw < (int64_t{1} << 30))
      return max_pool2d_forward_avx512(p, x, y, idx);
  }
#endif
  max_pool2d_forward_scalar(p, x, y, idx);
}

TL_KERNELS_END

namespace tl::kernels {

/// dx (planes x in_hw, overwritten) = dy scattered to the argmax positions (out_hw outputs per plane).
/// Serves max_pool2d and adaptive_max_pool2d.
template <class T>
void max_pool2d_backward(int64_t planes, int64_t in_hw, int64_t out_hw, const T* dy, const int64_t* idx, T* dx) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    T* dxp = dx + pl * in_hw;
    std::fill(dxp, dxp + in_hw, T(0));
    for (int64_t o = 0; o < out_hw; ++o) dxp[idx[pl * out_hw + o]] += dy[pl * out_hw + o];
  }
}

/// One average-pooling window, clipped to the input, and the count it divides by.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};
inline AvgWindow avg_window(const Pool2dParams& p, int64_t oh, int64_t ow, bool count_include_pad,
                            int64_t divisor_override) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int64_t h1 = std::min(h0 + p.kh, p.H + p.ph), w1 = std::min(w0 + p.kw, p.W + p.pw);
  const int64_t padded_size = (h1 - h0) * (w1 - w0);  // the window inside input + padding
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, p.H), w1 = std::min(w1, p.W);
  int64_t div = divisor_override > 0 ? divisor_override
                : count_include_pad  ? padded_size
                                     : std::max<int64_t>((h1 - h0) * (w1 - w0), 0);
  return {h0, h1, w0, w1, div};
}

/// y = average over each window (PyTorch's avg_pool2d; divisor_override <= 0 means none).
template <class T>
void avg_pool2d_forward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override, const T* x, T* y) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < p.planes; ++pl) {
    const T* xp = x + pl * p.H * p.W;
    for (int64_t oh = 0; oh < p.P; ++oh)
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        const AvgWindow a = avg_window(p, oh, ow, count_include_pad, divisor_override);
        T s = T(0);
        for (int64_t ih = a.h0; ih < a.h1; ++ih)
          for (int64_t iw = a.w0; iw < a.w1; ++iw) s += xp[ih * p.W + iw];
        y[(pl * p.P + oh) * p.Q + ow] = (a.h0 >= a.h1 || a.w0 >= a.w1) ? T(0) : s / static_cast<T>(a.divisor);
      }
  }
}

/// dx (overwritten) = each dy spread evenly (by the forward's divisor) over its window.
template <class T>
void avg_pool2d_backward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override, const T* dy, T* dx) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < p.planes; ++pl) {
    T* dxp = dx + pl * p.H * p.W;
    std::fill(dxp, dxp + p.H * p.W, T(0));
    for (int64_t oh = 0; oh < p.P; ++oh)
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        const AvgWindow a = avg_window(p, oh, ow, count_include_pad, divisor_override);
        if (a.h0 >= a.h1 || a.w0 >= a.w1) continue;
        const T g = dy[(pl * p.P + oh) * p.Q + ow] / static_cast<T>(a.divisor);
        for (int64_t ih = a.h0; ih < a.h1; ++ih)
          for (int64_t iw = a.w0; iw < a.w1; ++iw) dxp[ih * p.W + iw] += g;
      }
  }
}

/// Adaptive window i of `out` over `in`: [floor(i*in/out), ceil((i+1)*in/out)), as in PyTorch.
inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

/// y[P x Q] = mean over adaptive windows of each H x W plane.
template <class T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q, const T* x, T* y) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * H * W;
    for (int64_t oh = 0; oh < P; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, P), h1 = adaptive_end(oh, H, P);
      for (int64_t ow = 0; ow < Q; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, Q), w1 = adaptive_end(ow, W, Q);
        T s = T(0);
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) s += xp[ih * W + iw];
        y[(pl * P + oh) * Q + ow] = s / static_cast<T>((h1 - h0) * (w1 - w0));
      }
    }
  }
}

template <class T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q, const T* dy, T* dx) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    T* dxp = dx + pl * H * W;
    std::fill(dxp, dxp + H * W, T(0));
    for (int64_t oh = 0; oh < P; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, P), h1 = adaptive_end(oh, H, P);
      for (int64_t ow = 0; ow < Q; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, Q), w1 = adaptive_end(ow, W, Q);
        const T g = dy[(pl * P + oh) * Q + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) dxp[ih * W + iw] += g;
      }
    }
  }
}

/// y = max over adaptive windows, idx = argmax offset in the plane (backward: max_pool2d_backward).
template <class T>
void adaptive_max_pool2d_forward(int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q, const T* x, T* y,
                                 int64_t* idx) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * H * W;
    for (int64_t oh = 0; oh < P; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, P), h1 = adaptive_end(oh, H, P);
      for (int64_t ow = 0; ow < Q; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, Q), w1 = adaptive_end(ow, W, Q);
        int64_t best = h0 * W + w0;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {
            const int64_t at = ih * W + iw;
            const T v = xp[at];
            const bool take = (v > m) | (v != v);  // v != v: NaN propagates
            m = take ? v : m;
            best = take ? at : best;
          }
        y[(pl * P + oh) * Q + ow] = m;
        idx[(pl * P + oh) * Q + ow] = best;
      }
    }
  }
}

}  // namespace tl::kernels
