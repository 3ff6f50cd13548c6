#pragma once
// Vectorised batch normalisation over N x C x HW (NCHW), plus ReLU and the fusions a ResNet uses:
// BN+ReLU in one pass (train and eval, forward and backward) and BN folded into the preceding
// convolution for inference. Same semantics as batch_norm_ref.hpp (biased variance, per-channel
// statistics over N and HW, gamma/beta may be null).
//
// Why this is faster than the reference: each (image, channel) row of HW values is contiguous, so
// the inner loops are unit-stride SIMD loops (float partial sums per row, double across rows, which
// keeps the precision of the reference), the per-element work is one fused multiply-add with
// per-channel constants, and a fused ReLU saves a full read and write of the activation.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tl::kernels {

namespace detail {
template <class T>
T row_sum(const T* x, int64_t n) {
  T s = T(0);
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}
template <class T>
T row_sum_sq_dev(const T* x, int64_t n, T mean) {
  T s = T(0);
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}
/// y = (x - m)*a + b, optionally clamped at 0. Subtracting the mean first (rather than folding it
/// into b) keeps full precision when |mean| >> std.
template <bool Relu, class T>
void row_affine(const T* x, int64_t n, T m, T a, T b, T* y) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T v = (x[i] - m) * a + b;
    y[i] = Relu ? (v > T(0) ? v : T(0)) : v;
  }
}
inline bool worth_threads(int64_t elements) { return elements > 16384; }
}  // namespace detail

/// Training forward; with Relu, y = max(bn(x), 0). Writes the batch mean and 1/sqrt(var + eps).
template <bool Relu = false, class T>
void batch_norm_forward_train_fast(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                                   double eps, T* y, T* save_mean, T* save_invstd) {
  const double M = static_cast<double>(N * HW);
#pragma omp parallel for schedule(static) if (detail::worth_threads(N * C * HW))
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) s += detail::row_sum(x + (n * C + c) * HW, HW);
    const double mean = s / M;
    double v = 0;  // second pass over the (cache-resident) channel: no cancellation from E[x^2]-E[x]^2
    for (int64_t n = 0; n < N; ++n) v += detail::row_sum_sq_dev(x + (n * C + c) * HW, HW, static_cast<T>(mean));
    const double invstd = 1.0 / std::sqrt(v / M + eps);
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    const T scale = static_cast<T>(invstd * (gamma ? static_cast<double>(gamma[c]) : 1.0));
    const T shift = beta ? beta[c] : T(0);
    for (int64_t n = 0; n < N; ++n)
      detail::row_affine<Relu>(x + (n * C + c) * HW, HW, static_cast<T>(mean), scale, shift, y + (n * C + c) * HW);
  }
}

/// Eval forward with running statistics; with Relu, y = max(bn(x), 0).
template <bool Relu = false, class T>
void batch_norm_forward_eval_fast(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                                  const T* mean, const T* var, double eps, T* y) {
#pragma omp parallel for collapse(2) schedule(static) if (detail::worth_threads(N * C * HW))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double invstd = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
      const T scale = static_cast<T>(invstd * (gamma ? static_cast<double>(gamma[c]) : 1.0));
      detail::row_affine<Relu>(x + (n * C + c) * HW, HW, mean[c], scale, beta ? beta[c] : T(0), y + (n * C + c) * HW);
    }
}

/// Gradients of either forward (as batch_norm_backward_ref). With Relu, `y` is the fused forward's
/// output and dy is first masked by y > 0 (the ReLU's backward), without materialising the mask.
template <bool Relu = false, class T>
void batch_norm_backward_fast(int64_t N, int64_t C, int64_t HW, const T* dy, const T* x, const T* gamma,
                              const T* mean, const T* invstd, bool training, T* dx, T* dgamma, T* dbeta,
                              const T* y = nullptr) {
  const double M = static_cast<double>(N * HW);
  auto g_at = [&](const T* gy, const T* yy, int64_t i) { return Relu ? (yy[i] > T(0) ? gy[i] : T(0)) : gy[i]; };
#pragma omp parallel for schedule(static) if (detail::worth_threads(N * C * HW))
  for (int64_t c = 0; c < C; ++c) {
    const T mu = mean[c];
    double sum_dy = 0, sum_dy_xmu = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t o = (n * C + c) * HW;
      const T *gy = dy + o, *xx = x + o, *yy = Relu ? y + o : nullptr;
      T a = T(0), b = T(0);
#pragma omp simd reduction(+ : a, b)
      for (int64_t i = 0; i < HW; ++i) {
        const T g = g_at(gy, yy, i);
        a += g;
        b += g * (xx[i] - mu);
      }
      sum_dy += a;
      sum_dy_xmu += b;
    }
    const double is = invstd[c], sum_dy_xhat = sum_dy_xmu * is;
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
    if (!dx) continue;
    const double g = gamma ? static_cast<double>(gamma[c]) : 1.0;
    // dx = g*is*(dy - sum_dy/M - xhat*sum_dy_xhat/M) = k_dy*dy + k_x*(x - mu) + k_0 (eval: k_dy*dy);
    // x - mu is formed first, as in the reference, so a large invstd does not amplify cancellation.
    const double k_dy = g * is;
    const double k_x = training ? -g * is * is * sum_dy_xhat / M : 0.0;
    const double k_0 = training ? -g * is * sum_dy / M : 0.0;
    const T a = static_cast<T>(k_dy), b = static_cast<T>(k_x), z = static_cast<T>(k_0);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t o = (n * C + c) * HW;
      const T *gy = dy + o, *xx = x + o, *yy = Relu ? y + o : nullptr;
      T* d = dx + o;
#pragma omp simd
      for (int64_t i = 0; i < HW; ++i) d[i] = g_at(gy, yy, i) * a + (xx[i] - mu) * b + z;
    }
  }
}

/// y = max(x, 0) over n dense elements.
template <class T>
void relu_forward_fast(int64_t n, const T* x, T* y) {
#pragma omp parallel for simd schedule(static) if (detail::worth_threads(n * 4))
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

/// dx = dy where the ReLU's output (or input) was > 0, else 0.
template <class T>
void relu_backward_fast(int64_t n, const T* dy, const T* y, T* dx) {
#pragma omp parallel for simd schedule(static) if (detail::worth_threads(n * 4))
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

/// Inference folding: conv (weights w: K x per_k, bias b or null) followed by eval batch norm equals
/// one conv with w' = w * gamma/sqrt(var+eps) per output channel and b' = (b - mean) * that + beta.
/// w_out/b_out may alias w/b. gamma/beta may be null (affine = false).
template <class T>
void fold_batch_norm_into_conv(int64_t K, int64_t per_k, const T* w, const T* b, const T* gamma, const T* beta,
                               const T* mean, const T* var, double eps, T* w_out, T* b_out) {
  for (int64_t k = 0; k < K; ++k) {
    const double scale = (gamma ? static_cast<double>(gamma[k]) : 1.0) / std::sqrt(static_cast<double>(var[k]) + eps);
    for (int64_t i = 0; i < per_k; ++i) w_out[k * per_k + i] = static_cast<T>(w[k * per_k + i] * scale);
    const double bias = b ? static_cast<double>(b[k]) : 0.0;
    b_out[k] = static_cast<T>((bias - static_cast<double>(mean[k])) * scale + (beta ? static_cast<double>(beta[k]) : 0.0));
  }
}

}  // namespace tl::kernels
