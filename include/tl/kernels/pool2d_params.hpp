#pragma once
// The geometry of a (non-adaptive) 2-d pooling, and PyTorch's rule for its output size.
#include <algorithm>
#include <cstdint>

namespace tl::kernels {

/// Geometry of a (non-adaptive) pooling: planes = N*C, input H x W, output P x Q.
struct Pool2dParams {
  int64_t planes = 1, H = 1, W = 1, P = 1, Q = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};

/// The taps of one window along one axis: first, first + dil, ... below end, first being the first
/// tap at or past 0 (PyTorch's loop: start at o*stride - pad, step by dil until inside the input).
struct PoolTaps {
  int64_t first, end;
};
inline PoolTaps pool_taps(int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t k, int64_t size) {
  int64_t first = o * stride - pad;
  const int64_t end = std::min(first + (k - 1) * dil + 1, size);
  while (first < 0) first += dil;
  return {first, end};
}

/// PyTorch's pooling_output_shape: floor (or ceil) division, and with ceil_mode the last window
/// must start inside the input or the left padding. May return <= 0 (the op rejects that).
inline int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil, bool ceil_mode) {
  const int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  const int64_t q = num >= 0 ? num / s : -((-num + s - 1) / s);  // rounds toward -infinity
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

}  // namespace tl::kernels
