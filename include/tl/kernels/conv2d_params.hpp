#pragma once
// The geometry of a 2-d convolution, shared by the reference and the fast kernels.
// Layouts: x is N x C x H x W, w is K x (C/groups) x R x S, y is N x K x P x Q, all dense NCHW.
#include <cstdint>

namespace tl::kernels {

struct Conv2dParams {
  int64_t N = 1, C = 1, H = 1, W = 1;  // input
  int64_t K = 1, R = 1, S = 1;         // output channels, kernel height/width
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;

  // Output height and width; 0 when the (dilated) kernel is larger than the padded input.
  int64_t P() const { return out_size(H + 2 * pad_h, dil_h * (R - 1) + 1, stride_h); }
  int64_t Q() const { return out_size(W + 2 * pad_w, dil_w * (S - 1) + 1, stride_w); }
  int64_t flops() const { return 2 * N * K * P() * Q() * (C / groups) * R * S; }  // multiply-adds x 2

 private:
  static int64_t out_size(int64_t padded, int64_t reach, int64_t stride) {
    return padded < reach ? 0 : (padded - reach) / stride + 1;
  }
};

/// A 1x1, stride-1, unpadded convolution: output pixel i reads input pixel i, a plain GEMM per image.
inline bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

/// The stride-1 backward data of p as a forward convolution t of dY: dX = conv_t(dY, W~) with
/// t.C = p.K, t.K = p.C, t.H x t.W = P x Q, padding dil*(R-1) - pad, and W~[g*Cg + c, k, r, s] =
/// W[g*Kg + k, c, R-1-r, S-1-s] (per group: channels swapped, taps flipped). False when the geometry
/// does not allow it (stride > 1, or a padding larger than the dilated kernel's reach).
inline bool backward_data_as_forward(const Conv2dParams& p, Conv2dParams& t) {
  if (p.stride_h != 1 || p.stride_w != 1 || p.pad_h > p.dil_h * (p.R - 1) || p.pad_w > p.dil_w * (p.S - 1))
    return false;
  t = p;
  t.C = p.K;
  t.K = p.C;
  t.H = p.P();
  t.W = p.Q();
  t.pad_h = p.dil_h * (p.R - 1) - p.pad_h;
  t.pad_w = p.dil_w * (p.S - 1) - p.pad_w;
  return t.P() == p.H && t.Q() == p.W;
}

// Kernel entry points (kernels/conv2d.hpp dispatches to the fastest; kernels/conv2d_ref.hpp is the oracle):
//   conv2d_forward(p, x, w, b_or_null, y)          y  = conv(x, w) + b        (y overwritten)
//   conv2d_backward_data(p, dy, w, dx)             dx = conv_transpose(dy, w) (dx overwritten)
//   conv2d_backward_weight(p, x, dy, dw, db_or_null) dw, db overwritten

}  // namespace tl::kernels
