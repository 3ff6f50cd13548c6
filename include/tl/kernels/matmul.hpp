#pragma once
// One matrix product C = A * B through Eigen's GEMM, reading A and B in place when each is
// row-major or column-major with an outer stride (e.g. a transposed view), writing C dense.
#include <algorithm>
#include <cstdint>

#include "tl/core/eigen.hpp"

namespace tl::kernels {

/// How a rows x cols matrix with element strides (rs, cs) can be handed to Eigen without a copy.
struct MatLayout {
  bool usable = false, row_major = true;
  int64_t ld = 0;  // outer stride
};

inline MatLayout mat_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  MatLayout l;
  // Row-major: elements of a row are adjacent (a size-1 dim's stride does not matter).
  if (cols <= 1 || cs == 1) {
    int64_t ld = rows <= 1 ? std::max<int64_t>(cols, 1) : rs;
    if (ld >= cols) return {true, true, ld};
  }
  if (rows <= 1 || rs == 1) {
    int64_t ld = cols <= 1 ? std::max<int64_t>(rows, 1) : cs;
    if (ld >= rows) return {true, false, ld};
  }
  return l;
}

namespace matmul_detail {
template <class T, int Order>
using MapC = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>, 0, Eigen::OuterStride<>>;

template <class T, class A>
void times_b(const A& a, int64_t K, int64_t N, const T* B, const MatLayout& lb, T* C) {
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> c(C, a.rows(), N);
  if (lb.row_major) c.noalias() = a * MapC<T, Eigen::RowMajor>(B, K, N, Eigen::OuterStride<>(lb.ld));
  else c.noalias() = a * MapC<T, Eigen::ColMajor>(B, K, N, Eigen::OuterStride<>(lb.ld));
}
}  // namespace matmul_detail

/// C[M, N] (dense row-major) = A[M, K] * B[K, N]; A and B must have usable layouts (mat_layout).
template <class T>
void matmul_strided(int64_t M, int64_t N, int64_t K, const T* A, const MatLayout& la, const T* B,
                    const MatLayout& lb, T* C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(C, C + M * N, T(0));
    return;
  }
  using namespace matmul_detail;
  if (la.row_major) times_b(MapC<T, Eigen::RowMajor>(A, M, K, Eigen::OuterStride<>(la.ld)), K, N, B, lb, C);
  else times_b(MapC<T, Eigen::ColMajor>(A, M, K, Eigen::OuterStride<>(la.ld)), K, N, B, lb, C);
}

}  // namespace tl::kernels
