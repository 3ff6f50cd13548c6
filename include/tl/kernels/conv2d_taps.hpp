#pragma once
// Kernel taps that never touch the image. On small maps a padded kernel hangs over the border at
// every output pixel: a 3x3 kernel with padding 1 on a 1x1 map (ResNet's last stage on 32x32
// inputs) only ever uses its centre tap, so 8/9 of the GEMM would multiply zeros. Such a
// convolution equals one with the kernel cropped to the used taps and the padding reduced to match;
// the fast kernels run that instead (the weights are cropped into a scratch copy).
#include <algorithm>
#include <cstdint>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm_scratch.hpp"

TL_KERNELS_BEGIN

/// The taps [lo, hi) along one axis that some output position reads inside [0, size).
inline void used_taps(int64_t size, int64_t out, int64_t stride, int64_t pad, int64_t dil, int64_t taps, int64_t& lo,
                      int64_t& hi) {
  lo = taps;
  hi = 0;
  for (int64_t r = 0; r < taps; ++r) {
    // Input positions o*stride - pad + r*dil over o in [0, out) form an arithmetic progression: used
    // if one lies in [0, size), i.e. the first one >= 0 is < size.
    const int64_t first = -pad + r * dil, last = first + (out - 1) * stride;
    if (last < 0 || first >= size) continue;
    const int64_t o = first >= 0 ? 0 : (-first + stride - 1) / stride;
    if (first + o * stride < size) {
      lo = std::min(lo, r);
      hi = std::max(hi, r + 1);
    }
  }
}

/// The cropped geometry of p: R, S and the paddings reduced to the used taps, same output size.
struct TapCrop {
  Conv2dParams q;
  int64_t r0 = 0, s0 = 0;
  bool applies = false;  // false: every tap is used (or cropping cannot keep the output size)
};

inline TapCrop crop_taps(const Conv2dParams& p) {
  TapCrop t;
  int64_t rl, rh, sl, sh;
  used_taps(p.H, p.P(), p.stride_h, p.pad_h, p.dil_h, p.R, rl, rh);
  used_taps(p.W, p.Q(), p.stride_w, p.pad_w, p.dil_w, p.S, sl, sh);
  if (rl >= rh || sl >= sh || (rh - rl == p.R && sh - sl == p.S)) return t;
  Conv2dParams q = p;
  q.R = rh - rl;
  q.S = sh - sl;
  q.pad_h = p.pad_h - rl * p.dil_h;
  q.pad_w = p.pad_w - sl * p.dil_w;
  if (q.pad_h < 0 || q.pad_w < 0 || q.P() != p.P() || q.Q() != p.Q()) return t;
  t.q = q;
  t.r0 = rl;
  t.s0 = sl;
  t.applies = true;
  return t;
}

/// dst (K x Cg x q.R x q.S) = the used taps of w (K x Cg x R x S).
template <class T>
void crop_weight(const Conv2dParams& p, const TapCrop& t, const T* w, T* dst) {
  const int64_t rows = p.K * (p.C / p.groups);
  // In parallel: on ResNet-18's 1x1 maps at 32x32 the serial gather of 512x512 taps out of
  // 512x512x3x3 weights left the second thread waiting.
#pragma omp parallel for schedule(static) if (rows * p.R * p.S > 65536)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t r = 0; r < t.q.R; ++r)
      for (int64_t s = 0; s < t.q.S; ++s)
        dst[(i * t.q.R + r) * t.q.S + s] = w[(i * p.R + t.r0 + r) * p.S + t.s0 + s];
}

/// dw (K x Cg x R x S) = the cropped gradient src (K x Cg x q.R x q.S) at the used taps, 0 elsewhere.
template <class T>
void uncrop_weight(const Conv2dParams& p, const TapCrop& t, const T* src, T* dw) {
  const int64_t rows = p.K * (p.C / p.groups);
#pragma omp parallel for schedule(static) if (rows * p.R * p.S > 65536)
  for (int64_t i = 0; i < rows; ++i) {
    std::fill(dw + i * p.R * p.S, dw + (i + 1) * p.R * p.S, T(0));
    for (int64_t r = 0; r < t.q.R; ++r)
      for (int64_t s = 0; s < t.q.S; ++s)
        dw[(i * p.R + t.r0 + r) * p.S + t.s0 + s] = src[(i * t.q.R + r) * t.q.S + s];
  }
}

TL_KERNELS_END
