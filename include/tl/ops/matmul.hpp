#pragma once
// Matrix products like torch.matmul / mm / bmm, through Eigen's GEMM (kernels/matmul.hpp).
// The core is a batched product [..., M, K] x [..., K, N] with broadcast batch dims; 1-D operands
// are handled as in PyTorch by adding and removing a dim with (differentiable) views.
#include "tl/kernels/matmul.hpp"
#include "tl/ops/unary.hpp"

namespace tl {

namespace detail {

/// Batched product of a [..., M, K] and b [..., K, N] (both >= 2-D) into a dense [batch..., M, N].
template <class T>
Tensor<T> bmm_values(const Tensor<T>& a, const Tensor<T>& b, const char* op) {
  const int64_t na = a.dim(), nb = b.dim();
  const int64_t M = a.shape()[na - 2], K = a.shape()[na - 1], N = b.shape()[nb - 1];
  TL_CHECK(b.shape()[nb - 2] == K, op, ": shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
           " cannot be multiplied (", K, " columns vs ", b.shape()[nb - 2], " rows)");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape bsa(a.strides().begin(), a.strides().end() - 2), bsb(b.strides().begin(), b.strides().end() - 2);
  Shape bs;
  try {
    bs = broadcast_shapes(ba, bb, op);
  } catch (const Error&) {
    fail(op, ": batch dims of shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
         " cannot be broadcast together");
  }
  Shape os = bs;
  os.push_back(M);
  os.push_back(N);
  auto out = Tensor<T>::uninitialized(os);
  auto la = kernels::mat_layout(M, K, a.strides()[na - 2], a.strides()[na - 1]);
  auto lb = kernels::mat_layout(K, N, b.strides()[nb - 2], b.strides()[nb - 1]);
  if (!la.usable) return bmm_values(dense(a), b, op);
  if (!lb.usable) return bmm_values(a, dense(b), op);
  // b shared by every batch and a dense: one GEMM on a seen as [batch * M, K].
  if (bb.empty() && !ba.empty() && a.is_contiguous()) {
    auto l = kernels::mat_layout(shape_numel(ba) * M, K, K, 1);
    kernels::matmul_strided(shape_numel(ba) * M, N, K, a.data(), l, b.data(), lb, out.data());
    return out;
  }
  std::vector<int64_t> offa, offb;
  for_each_offset2(bs, broadcast_strides(ba, bsa, bs), broadcast_strides(bb, bsb, bs), [&](int64_t x, int64_t y) {
    offa.push_back(x);
    offb.push_back(y);
  });
  const int64_t nbatch = static_cast<int64_t>(offa.size());
  const T *pa = a.data(), *pb = b.data();
  T* po = out.data();
  // Many small products: one per thread; large ones: Eigen parallelises each GEMM itself.
  const int64_t flops = M * N * K;
#pragma omp parallel for if (nbatch >= 4 && flops < 262144 && nbatch * flops > 262144) schedule(static)
  for (int64_t i = 0; i < nbatch; ++i)
    kernels::matmul_strided(M, N, K, pa + offa[i], la, pb + offb[i], lb, po + i * M * N);
  return out;
}

template <class T>
struct MatmulBackward : Node<T> {
  Tensor<T> a, b;  // detached, both >= 2-D
  MatmulBackward(Tensor<T> x, Tensor<T> y) : a(std::move(x)), b(std::move(y)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& g) override {
    Tensor<T> ga, gb;
    if (this->next_edges[0].active()) ga = sum_to(bmm_values(g, b.transpose(-2, -1), "matmul"), a.shape());
    if (this->next_edges[1].active()) {
      if (b.dim() == 2 && a.dim() > 2 && a.is_contiguous() && g.is_contiguous()) {
        // b shared by all batches: one GEMM of a^T [K, batch * M] by g [batch * M, N].
        const int64_t K = a.shape().back(), N = g.shape().back();
        gb = bmm_values(a.view({-1, K}).t(), g.view({-1, N}), "matmul");
      } else {
        gb = sum_to(bmm_values(a.transpose(-2, -1), g, "matmul"), b.shape());
      }
    }
    return {ga, gb};
  }
  void release() override { a = b = Tensor<T>(); }
  std::string name() const override { return "MatmulBackward"; }
};

/// Differentiable batched product of two >= 2-D tensors.
template <class T>
Tensor<T> bmm_op(const Tensor<T>& a, const Tensor<T>& b, const char* op) {
  auto out = bmm_values(a, b, op);
  if (needs_grad(a, b)) record<T>(out, std::make_shared<MatmulBackward<T>>(a.detach(), b.detach()), a, b);
  return out;
}

}  // namespace detail

/// Like torch.matmul: dot (1-D, 1-D), matrix-vector, vector-matrix, matrix product, and batched
/// products with broadcast batch dims.
template <class T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
  TL_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dim, got shapes ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) {
    TL_CHECK(a.numel() == b.numel(), "matmul: 1-D shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " differ in size (dot product)");
    return detail::bmm_op(a.unsqueeze(0), b.unsqueeze(1), "matmul").reshape({});
  }
  if (a.dim() == 1) return detail::bmm_op(a.unsqueeze(0), b, "matmul").squeeze(-2);
  if (b.dim() == 1) return detail::bmm_op(a, b.unsqueeze(1), "matmul").squeeze(-1);
  return detail::bmm_op(a, b, "matmul");
}

/// Matrix product of two 2-D tensors (no broadcasting), like torch.mm.
template <class T>
Tensor<T> mm(const Tensor<T>& a, const Tensor<T>& b) {
  TL_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got shapes ", shape_str(a.shape()), " and ",
           shape_str(b.shape()));
  return detail::bmm_op(a, b, "mm");
}

/// Batched matrix product of two 3-D tensors with the same batch size (no broadcasting), like torch.bmm.
template <class T>
Tensor<T> bmm(const Tensor<T>& a, const Tensor<T>& b) {
  TL_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors, got shapes ", shape_str(a.shape()), " and ",
           shape_str(b.shape()));
  TL_CHECK(a.shape()[0] == b.shape()[0], "bmm: batch sizes differ in shapes ", shape_str(a.shape()), " and ",
           shape_str(b.shape()));
  return detail::bmm_op(a, b, "bmm");
}

template <class T> Tensor<T> Tensor<T>::matmul(const Tensor<T>& o) const { return tl::matmul(*this, o); }
template <class T> Tensor<T> Tensor<T>::mm(const Tensor<T>& o) const { return tl::mm(*this, o); }
template <class T> Tensor<T> Tensor<T>::bmm(const Tensor<T>& o) const { return tl::bmm(*this, o); }

}  // namespace tl
