#pragma once
// Batch-norm entry points used by ops/batch_norm.hpp; they pick the fastest kernel available:
// the vectorised kernels of batch_norm_fast.hpp for float and double, the reference otherwise.
// batch_norm_fast.hpp also has fused BN+ReLU and BN-into-conv folding for the op/model owners.
#include <type_traits>

#include "tl/kernels/batch_norm_fast.hpp"
#include "tl/kernels/batch_norm_ref.hpp"

namespace tl::kernels {

template <class T>
inline constexpr bool batch_norm_fast_type = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
void batch_norm_forward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                              double eps, T* y, T* save_mean, T* save_invstd) {
  if constexpr (batch_norm_fast_type<T>)
    batch_norm_forward_train_fast(N, C, HW, x, gamma, beta, eps, y, save_mean, save_invstd);
  else
    batch_norm_forward_train_ref(N, C, HW, x, gamma, beta, eps, y, save_mean, save_invstd);
}

template <class T>
void batch_norm_forward_eval(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                             const T* mean, const T* var, double eps, T* y) {
  if constexpr (batch_norm_fast_type<T>)
    batch_norm_forward_eval_fast(N, C, HW, x, gamma, beta, mean, var, eps, y);
  else
    batch_norm_forward_eval_ref(N, C, HW, x, gamma, beta, mean, var, eps, y);
}

template <class T>
void batch_norm_backward(int64_t N, int64_t C, int64_t HW, const T* dy, const T* x, const T* gamma, const T* mean,
                         const T* invstd, bool training, T* dx, T* dgamma, T* dbeta) {
  if constexpr (batch_norm_fast_type<T>)
    batch_norm_backward_fast(N, C, HW, dy, x, gamma, mean, invstd, training, dx, dgamma, dbeta);
  else
    batch_norm_backward_ref(N, C, HW, dy, x, gamma, mean, invstd, training, dx, dgamma, dbeta);
}

}  // namespace tl::kernels
