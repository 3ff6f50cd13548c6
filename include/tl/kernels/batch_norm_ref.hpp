#pragma once
// Reference batch normalisation over N x C x HW (NCHW, HW = H*W, 1 for BatchNorm1d on N x C).
// Training statistics are per channel over N and HW; variance is the biased one (as PyTorch
// normalises with), the op turns it into the unbiased running variance.
#include <cmath>
#include <cstdint>

namespace tl::kernels {

/// y = (x - mean) * invstd * gamma + beta with batch statistics; writes mean and invstd per channel.
/// gamma/beta may be null (affine = false).
template <class T>
void batch_norm_forward_train_ref(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                                  double eps, T* y, T* save_mean, T* save_invstd) {
  const double M = static_cast<double>(N * HW);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) s += x[(n * C + c) * HW + i];
    const double mean = s / M;
    double v = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        double d = x[(n * C + c) * HW + i] - mean;
        v += d * d;
      }
    const double invstd = 1.0 / std::sqrt(v / M + eps);
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    const double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        y[j] = static_cast<T>((x[j] - mean) * invstd * g + b);
      }
  }
}

/// y = (x - mean) / sqrt(var + eps) * gamma + beta with given (running) statistics.
template <class T>
void batch_norm_forward_eval_ref(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                                 const T* mean, const T* var, double eps, T* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double invstd = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
      const double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        y[j] = static_cast<T>((x[j] - mean[c]) * invstd * g + b);
      }
    }
}

/// Gradients of either forward. `mean`/`invstd` are the statistics the forward used
/// (batch ones when training, running ones in eval). dgamma/dbeta may be null.
template <class T>
void batch_norm_backward_ref(int64_t N, int64_t C, int64_t HW, const T* dy, const T* x, const T* gamma,
                             const T* mean, const T* invstd, bool training, T* dx, T* dgamma, T* dbeta) {
  const double M = static_cast<double>(N * HW);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double sum_dy = 0, sum_dy_xhat = 0;
    const double mu = mean[c], is = invstd[c];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        sum_dy += dy[j];
        sum_dy_xhat += dy[j] * (x[j] - mu) * is;
      }
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
    if (!dx) continue;
    const double g = gamma ? gamma[c] : 1.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        if (training) {
          const double xhat = (x[j] - mu) * is;
          dx[j] = static_cast<T>(g * is * (dy[j] - sum_dy / M - xhat * sum_dy_xhat / M));
        } else {
          dx[j] = static_cast<T>(g * is * dy[j]);
        }
      }
  }
}

}  // namespace tl::kernels
