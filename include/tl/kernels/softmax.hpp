#pragma once
// Softmax and log-softmax over one dim of a dense tensor seen as [outer, n, inner] (the dim has
// size n and stride inner). Numerically stable: the row maximum is subtracted before exp.
// Sums accumulate in double. Rows are independent, so outer rows run in parallel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace tl::kernels {

namespace softmax_detail {
/// One row of n values with stride `s`.
template <class T>
inline void row_forward(const T* x, T* y, int64_t n, int64_t s, bool log) {
  T mx = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, x[j * s]);
  double sum = 0;
  if (log) {
    for (int64_t j = 0; j < n; ++j) sum += std::exp(x[j * s] - mx);
    const T shift = mx + static_cast<T>(std::log(sum));
    for (int64_t j = 0; j < n; ++j) y[j * s] = x[j * s] - shift;
  } else {
    for (int64_t j = 0; j < n; ++j) {
      T e = std::exp(x[j * s] - mx);
      y[j * s] = e;
      sum += e;
    }
    const T inv = static_cast<T>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) y[j * s] *= inv;
  }
}

template <class T>
inline void row_backward(const T* y, const T* gy, T* gx, int64_t n, int64_t s, bool log) {
  double acc = 0;
  if (log) {  // y = log p: gx = gy - p * sum(gy)
    for (int64_t j = 0; j < n; ++j) acc += gy[j * s];
    const T a = static_cast<T>(acc);
    for (int64_t j = 0; j < n; ++j) gx[j * s] = gy[j * s] - std::exp(y[j * s]) * a;
  } else {  // y = p: gx = p * (gy - sum(gy * p))
    for (int64_t j = 0; j < n; ++j) acc += static_cast<double>(gy[j * s]) * y[j * s];
    const T a = static_cast<T>(acc);
    for (int64_t j = 0; j < n; ++j) gx[j * s] = y[j * s] * (gy[j * s] - a);
  }
}
}  // namespace softmax_detail

/// y = softmax(x) (or log_softmax when `log`) over the middle dim of [outer, n, inner].
template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  const int64_t rows = outer * inner;
#pragma omp parallel for schedule(static) if (rows * n > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / inner, k = r % inner, base = o * n * inner + k;
    if (inner == 1) softmax_detail::row_forward(x + base, y + base, n, 1, log);  // unit stride: vectorisable
    else softmax_detail::row_forward(x + base, y + base, n, inner, log);
  }
}

/// Gradient of softmax (log_softmax when `log`) given its output y and the output's gradient gy.
template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, int64_t outer, int64_t n, int64_t inner, bool log) {
  const int64_t rows = outer * inner;
#pragma omp parallel for schedule(static) if (rows * n > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / inner, k = r % inner, base = o * n * inner + k;
    if (inner == 1) softmax_detail::row_backward(y + base, gy + base, gx + base, n, 1, log);
    else softmax_detail::row_backward(y + base, gy + base, gx + base, n, inner, log);
  }
}

}  // namespace tl::kernels
