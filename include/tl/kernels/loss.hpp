#pragma once
// Classification loss kernels on dense buffers. Inputs are seen as [N, C, inner]: N samples,
// C classes with stride `inner`, and `inner` positions per sample (1 for [N, C] logits, H*W for
// [N, C, H, W]). A "position" is one (sample, inner index) pair: positions = N * inner.
//
// Cross entropy is fused: one pass computes log-sum-exp and the loss of each position; the
// backward recomputes softmax from the saved log-sum-exp (gradient = softmax - smoothed one-hot).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tl::kernels {

struct ClassLayout {
  int64_t N = 0, C = 0, inner = 1;
  int64_t positions() const { return N * inner; }
  /// Offset of class 0 of position pos; class c is at + c * inner.
  int64_t row(int64_t pos) const { return (pos / inner) * C * inner + pos % inner; }
};

namespace loss_detail {
/// log(sum(exp(x[c * s]))) over C classes, stable.
template <class T>
inline double logsumexp_row(const T* x, int64_t C, int64_t s) {
  T mx = -std::numeric_limits<T>::infinity();
  for (int64_t c = 0; c < C; ++c) mx = std::max(mx, x[c * s]);
  if (std::isinf(mx)) return static_cast<double>(mx);
  double sum = 0;
  for (int64_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(x[c * s] - mx));
  return static_cast<double>(mx) + std::log(sum);
}
}  // namespace loss_detail

/// Per-position cross entropy with class-index targets:
///   loss = (1 - eps) * w[t] * (lse - x[t]) + eps / C * sum_c w[c] * (lse - x[c])
/// (w = 1 when weight is null). Positions whose target is ignore_index get loss 0.
/// Writes loss[pos] and lse[pos]; targets must already be valid.
template <class T>
void cross_entropy_forward(const ClassLayout& L, const T* x, const int64_t* target, const T* weight,
                           int64_t ignore_index, double eps, T* loss, T* lse) {
  const int64_t P = L.positions();
#pragma omp parallel for schedule(static) if (P * L.C > 32768)
  for (int64_t pos = 0; pos < P; ++pos) {
    const T* r = x + L.row(pos);
    const int64_t t = target[pos];
    const double l = loss_detail::logsumexp_row(r, L.C, L.inner);
    lse[pos] = static_cast<T>(l);
    if (t == ignore_index) {
      loss[pos] = T(0);
      continue;
    }
    const double wt = weight ? static_cast<double>(weight[t]) : 1.0;
    double v = (1.0 - eps) * wt * (l - static_cast<double>(r[t * L.inner]));
    if (eps > 0) {
      double smooth = 0;
      for (int64_t c = 0; c < L.C; ++c)
        smooth += (weight ? static_cast<double>(weight[c]) : 1.0) * (l - static_cast<double>(r[c * L.inner]));
      v += eps / static_cast<double>(L.C) * smooth;
    }
    loss[pos] = static_cast<T>(v);
  }
}

/// Gradient of cross_entropy_forward's per-position loss, scaled by g[pos * g_stride] * factor
/// (g_stride 0 for a reduced loss):
///   dx[c] = scale * (softmax[c] * ((1 - eps) w[t] + eps / C * sum(w)) - (1 - eps) w[t] [c == t] - eps / C * w[c])
template <class T>
void cross_entropy_backward(const ClassLayout& L, const T* x, const T* lse, const int64_t* target, const T* weight,
                            int64_t ignore_index, double eps, const T* g, int64_t g_stride, double factor, T* dx) {
  const int64_t P = L.positions();
  double wsum = static_cast<double>(L.C);
  if (weight) {
    wsum = 0;
    for (int64_t c = 0; c < L.C; ++c) wsum += weight[c];
  }
  const double ec = eps / static_cast<double>(L.C);
#pragma omp parallel for schedule(static) if (P * L.C > 32768)
  for (int64_t pos = 0; pos < P; ++pos) {
    const int64_t off = L.row(pos), s = L.inner, t = target[pos];
    const T* r = x + off;
    T* d = dx + off;
    if (t == ignore_index) {
      for (int64_t c = 0; c < L.C; ++c) d[c * s] = T(0);
      continue;
    }
    const double scale = static_cast<double>(g[pos * g_stride]) * factor;
    const double wt = weight ? static_cast<double>(weight[t]) : 1.0;
    const T a = static_cast<T>(scale * ((1.0 - eps) * wt + ec * wsum));
    const T l = lse[pos];
    for (int64_t c = 0; c < L.C; ++c) d[c * s] = std::exp(r[c * s] - l) * a;
    if (eps > 0)
      for (int64_t c = 0; c < L.C; ++c) d[c * s] -= static_cast<T>(scale * ec * (weight ? weight[c] : T(1)));
    d[t * s] -= static_cast<T>(scale * (1.0 - eps) * wt);
  }
}

/// Per-position cross entropy with class-probability targets q (same layout as x), smoothed as
/// q' = (1 - eps) q + eps / C:  loss = -sum_c w[c] q'[c] log_softmax(x)[c]. Writes loss and lse.
template <class T>
void soft_cross_entropy_forward(const ClassLayout& L, const T* x, const T* q, const T* weight, double eps, T* loss,
                                T* lse) {
  const int64_t P = L.positions();
  const double ec = eps / static_cast<double>(L.C);
#pragma omp parallel for schedule(static) if (P * L.C > 32768)
  for (int64_t pos = 0; pos < P; ++pos) {
    const int64_t off = L.row(pos), s = L.inner;
    const double l = loss_detail::logsumexp_row(x + off, L.C, s);
    lse[pos] = static_cast<T>(l);
    double v = 0;
    for (int64_t c = 0; c < L.C; ++c) {
      const double qc = (1.0 - eps) * q[off + c * s] + ec, wc = weight ? static_cast<double>(weight[c]) : 1.0;
      v += wc * qc * (l - static_cast<double>(x[off + c * s]));
    }
    loss[pos] = static_cast<T>(v);
  }
}

/// Gradients of soft_cross_entropy_forward: dx[c] = scale * (softmax[c] * sum_k w[k] q'[k] - w[c] q'[c]),
/// dq[c] = -scale * (1 - eps) * w[c] * log_softmax(x)[c]. dx or dq may be null.
template <class T>
void soft_cross_entropy_backward(const ClassLayout& L, const T* x, const T* q, const T* lse, const T* weight,
                                 double eps, const T* g, int64_t g_stride, double factor, T* dx, T* dq) {
  const int64_t P = L.positions();
  const double ec = eps / static_cast<double>(L.C);
#pragma omp parallel for schedule(static) if (P * L.C > 32768)
  for (int64_t pos = 0; pos < P; ++pos) {
    const int64_t off = L.row(pos), s = L.inner;
    const double scale = static_cast<double>(g[pos * g_stride]) * factor;
    const T l = lse[pos];
    if (dx) {
      double wq = 0;
      for (int64_t c = 0; c < L.C; ++c) wq += (weight ? weight[c] : T(1)) * ((1.0 - eps) * q[off + c * s] + ec);
      for (int64_t c = 0; c < L.C; ++c) {
        const double wc = weight ? static_cast<double>(weight[c]) : 1.0, qc = (1.0 - eps) * q[off + c * s] + ec;
        dx[off + c * s] = static_cast<T>(scale * (std::exp(static_cast<double>(x[off + c * s] - l)) * wq - wc * qc));
      }
    }
    if (dq)
      for (int64_t c = 0; c < L.C; ++c) {
        const double wc = weight ? static_cast<double>(weight[c]) : 1.0;
        dq[off + c * s] = static_cast<T>(-scale * (1.0 - eps) * wc * (x[off + c * s] - l));
      }
  }
}

/// Per-position negative log likelihood: loss = -w[t] * x[t] (0 where target == ignore_index).
template <class T>
void nll_forward(const ClassLayout& L, const T* x, const int64_t* target, const T* weight, int64_t ignore_index,
                 T* loss) {
  const int64_t P = L.positions();
  for (int64_t pos = 0; pos < P; ++pos) {
    const int64_t t = target[pos];
    loss[pos] = t == ignore_index ? T(0) : -(weight ? weight[t] : T(1)) * x[L.row(pos) + t * L.inner];
  }
}

/// dx = 0 except dx[t] = -w[t] * g[pos * g_stride] * factor.
template <class T>
void nll_backward(const ClassLayout& L, const int64_t* target, const T* weight, int64_t ignore_index, const T* g,
                  int64_t g_stride, double factor, T* dx) {
  std::fill(dx, dx + L.N * L.C * L.inner, T(0));
  const int64_t P = L.positions();
  for (int64_t pos = 0; pos < P; ++pos) {
    const int64_t t = target[pos];
    if (t == ignore_index) continue;
    dx[L.row(pos) + t * L.inner] =
        static_cast<T>(-static_cast<double>(weight ? weight[t] : T(1)) * static_cast<double>(g[pos * g_stride]) * factor);
  }
}

}  // namespace tl::kernels
