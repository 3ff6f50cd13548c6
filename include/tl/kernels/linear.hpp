#pragma once
// Fully connected layer kernels on dense row-major buffers, through Eigen's GEMM
// (which uses OpenMP threads for large products).
//   forward:  y[M, N] = x[M, K] * w[N, K]^T (+ b[N] on every row)
//   backward: dx[M, K] = dy * w,  dw[N, K] = dy^T * x,  db[N] = column sums of dy
#include <cstdint>

#include "tl/core/eigen.hpp"

namespace tl::kernels {

namespace linear_detail {
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using CMap = Eigen::Map<const RowMat<T>>;
template <class T>
using MMap = Eigen::Map<RowMat<T>>;
}  // namespace linear_detail

/// y = x w^T + b; b may be null.
template <class T>
void linear_forward(int64_t M, int64_t K, int64_t N, const T* x, const T* w, const T* b, T* y) {
  linear_detail::MMap<T> Y(y, M, N);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    Y.setZero();
  } else {
    Y.noalias() = linear_detail::CMap<T>(x, M, K) * linear_detail::CMap<T>(w, N, K).transpose();
  }
  if (b) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b, N);
}

/// dx = dy w (dx: M x K).
template <class T>
void linear_backward_input(int64_t M, int64_t K, int64_t N, const T* dy, const T* w, T* dx) {
  linear_detail::MMap<T> DX(dx, M, K);
  if (N == 0) DX.setZero();
  else if (M > 0 && K > 0) DX.noalias() = linear_detail::CMap<T>(dy, M, N) * linear_detail::CMap<T>(w, N, K);
}

/// dw = dy^T x (dw: N x K).
template <class T>
void linear_backward_weight(int64_t M, int64_t K, int64_t N, const T* dy, const T* x, T* dw) {
  linear_detail::MMap<T> DW(dw, N, K);
  if (M == 0) DW.setZero();
  else if (N > 0 && K > 0) DW.noalias() = linear_detail::CMap<T>(dy, M, N).transpose() * linear_detail::CMap<T>(x, M, K);
}

/// db[n] = sum over rows of dy[:, n].
template <class T>
void linear_backward_bias(int64_t M, int64_t N, const T* dy, T* db) {
  Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> DB(db, N);
  if (M == 0) DB.setZero();
  else DB.noalias() = linear_detail::CMap<T>(dy, M, N).colwise().sum();
}

}  // namespace tl::kernels
