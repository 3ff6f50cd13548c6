#pragma once
// Convolution entry points used by ops/conv2d.hpp. Each picks the fastest kernel available for
// the shape and type; the reference kernels (conv2d_ref.hpp) are the fallback and the oracle.
//   float/double, one input channel per group (depthwise)  -> conv2d_depthwise.hpp (direct stencils)
//   float/double, everything else                           -> conv2d_gemm.hpp (packed GEMM, fused im2col;
//                                                              in float with AVX-512, 3x3 stride-1 layers
//                                                              with enough channels and tiles as Winograd
//                                                              F(4x4, 3x3), conv2d_winograd.hpp and
//                                                              conv2d_winograd_weight_grad.hpp, and on
//                                                              small maps with many channels as
//                                                              F(2x2, 3x3), conv2d_winograd_small.hpp;
//                                                              in float,
//                                                              the forward and stride-1 backward
//                                                              data mostly as an implicit GEMM,
//                                                              conv2d_implicit.hpp, or on small maps an
//                                                              indirect one, conv2d_indirect.hpp; strided
//                                                              backward data by phases of dX,
//                                                              conv2d_phased_backward_data.hpp),
//                                                              kernel cropped to the taps that touch the image
//                                                              (conv2d_taps.hpp)
//   other element types, empty problems                     -> conv2d_ref.hpp
// The GEMM micro-kernel is chosen at compile time (gemm_config.hpp: AVX-512, AVX2+FMA or portable;
// define TL_KERNELS_GENERIC to force the portable one).
#include <type_traits>

#include "tl/kernels/conv2d_depthwise.hpp"
#include "tl/kernels/conv2d_gemm.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_ref.hpp"
#include "tl/kernels/conv2d_taps.hpp"
#include "tl/kernels/gemm_config.hpp"

TL_KERNELS_BEGIN

/// True when the fast kernels handle (T, p); otherwise the reference kernels run.
template <class T>
bool conv2d_fast_applies(const Conv2dParams& p) {
  if constexpr (!std::is_same_v<T, float> && !std::is_same_v<T, double>) {
    return false;
  } else {
    return p.N > 0 && p.C > 0 && p.K > 0 && p.H > 0 && p.W > 0 && p.P() > 0 && p.Q() > 0 && p.groups > 0;
  }
}

template <class T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  if (!conv2d_fast_applies<T>(p)) return conv2d_forward_ref(p, x, w, b, y);
  if (conv2d_is_depthwise(p)) return conv2d_forward_depthwise(p, x, w, b, y);
  if (const TapCrop t = crop_taps(p); t.applies) {
    T* wc = scratch<T>(Scratch::Cropped, p.K * (p.C / p.groups) * t.q.R * t.q.S);
    crop_weight(p, t, w, wc);
    return conv2d_forward_gemm(t.q, x, wc, b, y);
  }
  conv2d_forward_gemm(p, x, w, b, y);
}

/// y = ep(conv(x, w)) per output channel k: y = conv * scale[k] + shift[k], + ep.residual (an
/// N x K x P x Q tensor like y) if set, then ReLU if ep.relu (scale/shift may be null). The GEMM path applies ep in its epilogue (no extra pass over y);
/// the other paths (depthwise, reference) apply it in a pass after the convolution.
template <class T>
void conv2d_forward_fused(const Conv2dParams& p, const T* x, const T* w, T* y, const Epilogue<T>& ep_in) {
  Epilogue<T> ep = ep_in;
  ep.out_base = y;  // ep.residual (if set) has y's layout
  if (conv2d_fast_applies<T>(p) && !conv2d_is_depthwise(p)) {
    if (const TapCrop t = crop_taps(p); t.applies) {
      T* wc = scratch<T>(Scratch::Cropped, p.K * (p.C / p.groups) * t.q.R * t.q.S);
      crop_weight(p, t, w, wc);
      return conv2d_forward_gemm_ep(t.q, x, wc, y, ep);
    }
    return conv2d_forward_gemm_ep(p, x, w, y, ep);
  }
  conv2d_forward(p, x, w, static_cast<const T*>(nullptr), y);
  if (!ep.active()) return;
  const int64_t PQ = p.P() * p.Q();
#pragma omp parallel for collapse(2) schedule(static) if (p.N * p.K * PQ > 32768)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) ep.apply(y + (n * p.K + k) * PQ, PQ, k);
}

template <class T>
void conv2d_backward_data(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  if (!conv2d_fast_applies<T>(p)) return conv2d_backward_data_ref(p, dy, w, dx);
  if (conv2d_is_depthwise(p)) return conv2d_backward_data_depthwise(p, dy, w, dx);
  if (const TapCrop t = crop_taps(p); t.applies) {
    T* wc = scratch<T>(Scratch::Cropped, p.K * (p.C / p.groups) * t.q.R * t.q.S);
    crop_weight(p, t, w, wc);
    return conv2d_backward_data_gemm(t.q, dy, wc, dx);
  }
  conv2d_backward_data_gemm(p, dy, w, dx);
}

template <class T>
void conv2d_backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  if (!conv2d_fast_applies<T>(p)) return conv2d_backward_weight_ref(p, x, dy, dw, db);
  if (conv2d_is_depthwise(p)) return conv2d_backward_weight_depthwise(p, x, dy, dw, db);
  if (const TapCrop t = crop_taps(p); t.applies) {
    T* dwc = scratch<T>(Scratch::Cropped, p.K * (p.C / p.groups) * t.q.R * t.q.S);
    conv2d_backward_weight_gemm(t.q, x, dy, dwc, db);
    return uncrop_weight(p, t, dwc, dw);
  }
  conv2d_backward_weight_gemm(p, x, dy, dw, db);
}

TL_KERNELS_END
