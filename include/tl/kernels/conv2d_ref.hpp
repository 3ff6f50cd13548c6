#pragma once
// Reference 2-d convolution: direct loops, any stride/padding/dilation/groups.
// Slow and obviously right: the oracle that the fast kernels are tested against.
#include <cstdint>

#include "tl/kernels/conv2d_params.hpp"

namespace tl::kernels {

/// y[n,k,p,q] = b[k] + sum_{c,r,s} x[n, g*Cg + c, p*sh - ph + r*dh, q*sw - pw + s*dw] * w[k,c,r,s]
template <class T>
void conv2d_forward_ref(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const int64_t P = p.P(), Q = p.Q(), Cg = p.C / p.groups, Kg = p.K / p.groups;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) {
      const int64_t g = k / Kg;
      T* yo = y + (n * p.K + k) * P * Q;
      for (int64_t oh = 0; oh < P; ++oh)
        for (int64_t ow = 0; ow < Q; ++ow) {
          T acc = b ? b[k] : T(0);
          for (int64_t c = 0; c < Cg; ++c) {
            const T* xc = x + (n * p.C + g * Cg + c) * p.H * p.W;
            const T* wc = w + (k * Cg + c) * p.R * p.S;
            for (int64_t r = 0; r < p.R; ++r) {
              const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
                if (iw < 0 || iw >= p.W) continue;
                acc += xc[ih * p.W + iw] * wc[r * p.S + s];
              }
            }
          }
          yo[oh * Q + ow] = acc;
        }
    }
}

/// dx = gradient of the forward w.r.t. x (overwrites dx).
template <class T>
void conv2d_backward_data_ref(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const int64_t P = p.P(), Q = p.Q(), Cg = p.C / p.groups, Kg = p.K / p.groups;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t ci = 0; ci < p.C; ++ci) {
      const int64_t g = ci / Cg, c = ci % Cg;
      T* dxc = dx + (n * p.C + ci) * p.H * p.W;
      for (int64_t i = 0; i < p.H * p.W; ++i) dxc[i] = T(0);
      for (int64_t kk = 0; kk < Kg; ++kk) {
        const int64_t k = g * Kg + kk;
        const T* dyk = dy + (n * p.K + k) * P * Q;
        const T* wc = w + (k * Cg + c) * p.R * p.S;
        for (int64_t oh = 0; oh < P; ++oh)
          for (int64_t ow = 0; ow < Q; ++ow) {
            const T g_out = dyk[oh * Q + ow];
            for (int64_t r = 0; r < p.R; ++r) {
              const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
                if (iw < 0 || iw >= p.W) continue;
                dxc[ih * p.W + iw] += g_out * wc[r * p.S + s];
              }
            }
          }
      }
    }
}

/// dw (and db when non-null) = gradient of the forward w.r.t. w and b (overwritten).
template <class T>
void conv2d_backward_weight_ref(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  const int64_t P = p.P(), Q = p.Q(), Cg = p.C / p.groups, Kg = p.K / p.groups;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < p.K; ++k) {
    const int64_t g = k / Kg;
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s) {
          T acc = T(0);
          for (int64_t n = 0; n < p.N; ++n) {
            const T* xc = x + (n * p.C + g * Cg + c) * p.H * p.W;
            const T* dyk = dy + (n * p.K + k) * P * Q;
            for (int64_t oh = 0; oh < P; ++oh) {
              const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t ow = 0; ow < Q; ++ow) {
                const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
                if (iw < 0 || iw >= p.W) continue;
                acc += xc[ih * p.W + iw] * dyk[oh * Q + ow];
              }
            }
          }
          dw[((k * Cg + c) * p.R + r) * p.S + s] = acc;
        }
    if (db) {
      T acc = T(0);
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t i = 0; i < P * Q; ++i) acc += dy[(n * p.K + k) * P * Q + i];
      db[k] = acc;
    }
  }
}

}  // namespace tl::kernels
