#pragma once
// Batch-norm entry points used by ops/batch_norm.hpp; they pick the fastest kernel available:
// the vectorised kernels of batch_norm_fast.hpp for float and double, the reference otherwise.
// With Relu = true they compute relu(batch_norm(x)) in one pass (ops::batch_norm_relu), and the
// backward masks dy by y > 0 on the fly (y: that fused output).
#include <type_traits>
#include <vector>

#include "tl/kernels/batch_norm_fast.hpp"
#include "tl/kernels/batch_norm_ref.hpp"

namespace tl::kernels {

template <class T>
void relu_in_place_ref(int64_t n, T* y) {
  for (int64_t i = 0; i < n; ++i)
    if (!(y[i] > T(0))) y[i] = T(0);
}

template <class T>
inline constexpr bool batch_norm_fast_type = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <bool Relu = false, class T>
void batch_norm_forward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                              double eps, T* y, T* save_mean, T* save_invstd) {
  if constexpr (batch_norm_fast_type<T>) {
    batch_norm_forward_train_fast<Relu>(N, C, HW, x, gamma, beta, eps, y, save_mean, save_invstd);
  } else {
    batch_norm_forward_train_ref(N, C, HW, x, gamma, beta, eps, y, save_mean, save_invstd);
    if constexpr (Relu) relu_in_place_ref(N * C * HW, y);
  }
}

template <bool Relu = false, class T>
void batch_norm_forward_eval(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                             const T* mean, const T* var, double eps, T* y) {
  if constexpr (batch_norm_fast_type<T>) {
    batch_norm_forward_eval_fast<Relu>(N, C, HW, x, gamma, beta, mean, var, eps, y);
  } else {
    batch_norm_forward_eval_ref(N, C, HW, x, gamma, beta, mean, var, eps, y);
    if constexpr (Relu) relu_in_place_ref(N * C * HW, y);
  }
}

/// y: the fused forward's output when Relu (dy is taken as 0 where y <= 0), else unused.
template <bool Relu = false, class T>
void batch_norm_backward(int64_t N, int64_t C, int64_t HW, const T* dy, const T* x, const T* gamma, const T* mean,
                         const T* invstd, bool training, T* dx, T* dgamma, T* dbeta, const T* y = nullptr) {
  if constexpr (batch_norm_fast_type<T>) {
    batch_norm_backward_fast<Relu>(N, C, HW, dy, x, gamma, mean, invstd, training, dx, dgamma, dbeta, y);
  } else if constexpr (Relu) {
    std::vector<T> masked(dy, dy + N * C * HW);
    for (int64_t i = 0; i < N * C * HW; ++i)
      if (!(y[i] > T(0))) masked[i] = T(0);
    batch_norm_backward_ref(N, C, HW, masked.data(), x, gamma, mean, invstd, training, dx, dgamma, dbeta);
  } else {
    batch_norm_backward_ref(N, C, HW, dy, x, gamma, mean, invstd, training, dx, dgamma, dbeta);
  }
}

}  // namespace tl::kernels
