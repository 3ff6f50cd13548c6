#pragma once
// The optimizers' element loops on raw pointers (dense data), one instantiation per combination
// of flags so every loop is branch-free and vectorises. They follow PyTorch's operation order
// (scalars rounded to T first, as PyTorch's CPU kernels do), so double results match to ~1 ulp.
#include <algorithm>
#include <cmath>
#include <cstdint>

// GCC 12 reports a false -Wmaybe-uninitialized inside the AVX-512 intrinsics Eigen uses.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "tl/core/eigen.hpp"

namespace tl::optim::kernels {

/// p -= lr * (g + wd * p)   (SGD without momentum)
template <bool kWD, class T>
void sgd_plain(int64_t n, T* p, const T* g, T wd, T neg_lr) {
#pragma omp parallel for simd if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if constexpr (kWD) d = d + wd * p[i];
    p[i] = p[i] + neg_lr * d;
  }
}

/// SGD with momentum: buf = first ? d : mom * buf + (1 - dampening) * d; step along buf
/// (Nesterov: along d + mom * buf).
template <bool kWD, bool kFirst, bool kNesterov, class T>
void sgd_momentum(int64_t n, T* p, const T* g, T* buf, T wd, T mom, T keep, T neg_lr) {
#pragma omp parallel for simd if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if constexpr (kWD) d = d + wd * p[i];
    T b;
    if constexpr (kFirst) b = d;
    else b = buf[i] * mom + keep * d;
    buf[i] = b;
    if constexpr (kNesterov) d = d + mom * b;
    else d = b;
    p[i] = p[i] + neg_lr * d;
  }
}

template <class T>
struct AdamScalars {
  T b1, b2, a1, a2;  // betas and 1 - betas
  T wd;              // L2 weight decay added to the gradient (Adam)
  T shrink;          // 1 - lr * weight_decay applied to p first (AdamW)
  T eps, bc2_sqrt, neg_step;
};

/// One Adam/AdamW step; kAms keeps the running max of v in vmax and divides by it.
/// Written with Eigen arrays over cache-sized chunks because a plain loop calling std::sqrt does
/// not vectorise (errno handling); each expression keeps PyTorch's operation order.
template <bool kL2, bool kDecay, bool kAms, class T>
void adam(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamScalars<T>& c) {
  using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
  using Map = Eigen::Map<Arr>;
  using CMap = Eigen::Map<const Arr>;
  constexpr int64_t kChunk = 2048;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for if (n > 65536) schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t s = k * kChunk, len = std::min(kChunk, n - s);
    Map pa(p + s, len), ma(m + s, len), va(v + s, len);
    CMap ga(g + s, len);
    if constexpr (kDecay) pa = pa * c.shrink;
    if constexpr (kL2) {
      ma = ma * c.b1 + c.a1 * (ga + c.wd * pa);
      va = va * c.b2 + c.a2 * (ga + c.wd * pa) * (ga + c.wd * pa);
    } else {
      ma = ma * c.b1 + c.a1 * ga;
      va = va * c.b2 + c.a2 * ga * ga;
    }
    if constexpr (kAms) {
      Map xa(vmax + s, len);
      xa = xa.max(va);
      pa = pa + c.neg_step * ma / (xa.sqrt() / c.bc2_sqrt + c.eps);
    } else {
      pa = pa + c.neg_step * ma / (va.sqrt() / c.bc2_sqrt + c.eps);
    }
  }
}

}  // namespace tl::optim::kernels
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
