#pragma once
// Direct kernels for convolutions with one input channel per group (depthwise, possibly with a
// channel multiplier K/C): as a GEMM they would have a depth of only R*S and a micro-tile mostly of
// padding, so they run as 2-d stencils on each plane, vectorised along the output row.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/conv2d_im2col.hpp"
#include "tl/kernels/conv2d_params.hpp"

TL_KERNELS_BEGIN

inline bool conv2d_is_depthwise(const Conv2dParams& p) { return p.groups > 1 && p.C == p.groups; }

/// Output columns [lo, hi) whose input column ow*sw - pw + off lies inside [0, W).
inline void dw_ow_range(const Conv2dParams& p, int64_t off, int64_t& lo, int64_t& hi) {
  valid_range(off - p.pad_w, p.stride_w, p.W, p.Q(), lo, hi);
}

template <class T>
void conv2d_forward_depthwise(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const int64_t P = p.P(), Q = p.Q(), Kg = p.K / p.groups, RS = p.R * p.S, sw = p.stride_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) {
      const T* xc = x + (n * p.C + k / Kg) * p.H * p.W;
      const T* wk = w + k * RS;
      T* yk = y + (n * p.K + k) * P * Q;
      for (int64_t oh = 0; oh < P; ++oh) {
        T* yr = yk + oh * Q;
        const T init = b ? b[k] : T(0);
        for (int64_t ow = 0; ow < Q; ++ow) yr[ow] = init;
        for (int64_t r = 0; r < p.R; ++r) {
          const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih < 0 || ih >= p.H) continue;
          const T* xr = xc + ih * p.W;
          for (int64_t s = 0; s < p.S; ++s) {
            int64_t lo, hi;
            dw_ow_range(p, s * p.dil_w, lo, hi);
            const T wv = wk[r * p.S + s];
            const T* xs = xr + s * p.dil_w - p.pad_w;  // xs[ow*sw] is the input of output column ow
            if (sw == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xs[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xs[ow * sw];
            }
          }
        }
      }
    }
}

template <class T>
void conv2d_backward_data_depthwise(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const int64_t P = p.P(), Q = p.Q(), Kg = p.K / p.groups, RS = p.R * p.S, sw = p.stride_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t c = 0; c < p.C; ++c) {
      T* dxc = dx + (n * p.C + c) * p.H * p.W;
      std::fill(dxc, dxc + p.H * p.W, T(0));
      for (int64_t k = c * Kg; k < (c + 1) * Kg; ++k) {
        const T* dyk = dy + (n * p.K + k) * P * Q;
        const T* wk = w + k * RS;
        for (int64_t oh = 0; oh < P; ++oh) {
          const T* gr = dyk + oh * Q;
          for (int64_t r = 0; r < p.R; ++r) {
            const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
            if (ih < 0 || ih >= p.H) continue;
            T* xr = dxc + ih * p.W;
            for (int64_t s = 0; s < p.S; ++s) {
              int64_t lo, hi;
              dw_ow_range(p, s * p.dil_w, lo, hi);
              const T wv = wk[r * p.S + s];
              T* xs = xr + s * p.dil_w - p.pad_w;
              if (sw == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) xs[ow] += wv * gr[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) xs[ow * sw] += wv * gr[ow];
              }
            }
          }
        }
      }
    }
}

template <class T>
void conv2d_backward_weight_depthwise(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  const int64_t P = p.P(), Q = p.Q(), Kg = p.K / p.groups, sw = p.stride_w;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < p.K; ++k) {
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        int64_t lo, hi;
        dw_ow_range(p, s * p.dil_w, lo, hi);
        double acc = 0;  // N*P*Q terms: float partial sums per output row, double across rows
        for (int64_t n = 0; n < p.N; ++n) {
          const T* xc = x + (n * p.C + k / Kg) * p.H * p.W;
          const T* dyk = dy + (n * p.K + k) * P * Q;
          for (int64_t oh = 0; oh < P; ++oh) {
            const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
            if (ih < 0 || ih >= p.H) continue;
            const T* xs = xc + ih * p.W + s * p.dil_w - p.pad_w;
            const T* gr = dyk + oh * Q;
            T a = T(0);
            if (sw == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) a += xs[ow] * gr[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) a += xs[ow * sw] * gr[ow];
            }
            acc += a;
          }
        }
        dw[(k * p.R + r) * p.S + s] = static_cast<T>(acc);
      }
    if (db) {
      double acc = 0;
      for (int64_t n = 0; n < p.N; ++n) {
        const T* dyk = dy + (n * p.K + k) * P * Q;
        T a = T(0);
        for (int64_t i = 0; i < P * Q; ++i) a += dyk[i];
        acc += a;
      }
      db[k] = static_cast<T>(acc);
    }
  }
}

TL_KERNELS_END
