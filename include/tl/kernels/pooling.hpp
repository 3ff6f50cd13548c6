#pragma once
// 2-d pooling on dense NCHW planes: max (with argmax indices), average, adaptive average and
// adaptive max, forward and backward. Plain loops, OpenMP over the N*C planes; the AVX-512 max
// pooling kernels are in max_pool2d_avx512.hpp, the AVX2 build's in max_pool2d_row_maxima.hpp.
// Windows follow PyTorch's CPU kernels exactly (padding, dilation, ceil_mode, count_include_pad).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/max_pool2d_avx512.hpp"
#include "tl/kernels/max_pool2d_row_maxima.hpp"
#include "tl/kernels/pool2d_params.hpp"

namespace tl::kernels {

/// y = max over each window (padding never wins); idx = the argmax's offset h*W + w in its plane.
/// NaN propagates, as in PyTorch. Scalar version (any T); max_pool2d_forward picks the vector one.
template <class T>
void max_pool2d_forward_scalar(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
#pragma omp parallel for schedule(static) if (p.planes * p.P * p.Q > 16384)
  for (int64_t pl = 0; pl < p.planes; ++pl) {
    const T* xp = x + pl * p.H * p.W;
    for (int64_t oh = 0; oh < p.P; ++oh) {
      const PoolTaps rows = pool_taps(oh, p.sh, p.ph, p.dh, p.kh, p.H);
      const int64_t h0 = rows.first, h1 = rows.end;
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        const PoolTaps cols = pool_taps(ow, p.sw, p.pw, p.dw, p.kw, p.W);
        const int64_t w0 = cols.first, w1 = cols.end;
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

/// y = max over each window (padding never wins); idx = the argmax's offset h*W + w in its plane.
/// NaN propagates, as in PyTorch.
template <class T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    if (p.H * p.W < (int64_t{1} << 30) && p.Q * p.sw + p.kw * p.dw < (int64_t{1} << 30)) {
      if (max_pool2d_by_row_maxima_applies(p)) return max_pool2d_by_row_maxima_avx512(p, x, y, idx);
      return max_pool2d_by_taps_avx512(p, x, y, idx);
    }
  }
#elif defined(TL_KERNELS_ISA_AVX2)
  if (max_pool2d_by_row_maxima_applies(p) && p.H * p.W < (int64_t{1} << 30))
    return max_pool2d_by_row_maxima(p, x, y, idx);
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
