#pragma once
// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_), in place on p.grad().
// Parameters without a gradient are ignored.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tl/core/strided.hpp"
#include "tl/core/tensor.hpp"

namespace tl::optim {

namespace detail {
/// Calls f(value&) for every element of t (any strides).
template <class T, class F>
void for_each_value(Tensor<T>& t, F&& f) {
  T* d = t.data();
  if (t.is_contiguous()) {
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) f(d[i]);
  } else {
    tl::detail::for_each_offset(t.shape(), t.strides(), [&](int64_t o) { f(d[o]); });
  }
}
/// max that propagates NaN, like torch.max.
inline double nan_max(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN() : std::max(a, b);
}
/// Sum of squares in double (the common case: vectorised).
template <class T>
double sum_sq(const T* x, int64_t n) {
  double acc = 0;
#pragma omp parallel for simd reduction(+ : acc) if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) acc += double(x[i]) * double(x[i]);
  return acc;
}
/// max |x|, NaN if any element is NaN (so a NaN gradient shows in the total norm).
template <class T>
double max_abs(const T* x, int64_t n) {
  double m = 0;
  bool nan = false;
#pragma omp parallel for simd reduction(max : m) reduction(|| : nan) if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::abs(double(x[i]));
    m = a > m ? a : m;
    nan = nan || a != a;
  }
  return nan ? std::numeric_limits<double>::quiet_NaN() : m;
}
}  // namespace detail

/// Scales all gradients together so their total norm_type-norm (over all of them, as if
/// concatenated) is at most max_norm; returns the total norm before clipping. norm_type may be
/// infinity (max |g|). As in PyTorch the scale is max_norm / (total + 1e-6), capped at 1.
/// With error_if_nonfinite a NaN/inf total throws instead of scaling.
template <class T>
double clip_grad_norm_(const std::vector<Tensor<T>>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false) {
  const bool inf = std::isinf(norm_type) && norm_type > 0;
  TL_CHECK(inf || norm_type > 0, "clip_grad_norm_: norm_type must be positive or infinity, got ", norm_type);
  std::vector<Tensor<T>> grads;
  for (const auto& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  double total = 0;
  for (auto& g : grads) {
    if (g.is_contiguous() && (inf || norm_type == 2.0)) {
      total = inf ? detail::nan_max(total, detail::max_abs(g.data(), g.numel()))
                  : total + detail::sum_sq(g.data(), g.numel());
    } else if (inf) {
      detail::for_each_value(g, [&](T& x) { total = detail::nan_max(total, std::abs(double(x))); });
    } else if (norm_type == 2.0) {
      detail::for_each_value(g, [&](T& x) { total += double(x) * double(x); });
    } else {
      detail::for_each_value(g, [&](T& x) { total += std::pow(std::abs(double(x)), norm_type); });
    }
  }
  if (!inf) total = norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
  TL_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
           " of the gradients is non-finite (", total, "), so it cannot be clipped");
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0 || std::isnan(coef)) {
    const T c = static_cast<T>(coef);
    for (auto& g : grads) detail::for_each_value(g, [&](T& x) { x = x * c; });
  }
  return total;
}

/// Clamps every gradient element into [-clip_value, clip_value].
template <class T>
void clip_grad_value_(const std::vector<Tensor<T>>& params, double clip_value) {
  TL_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  const T hi = static_cast<T>(clip_value), lo = -hi;
  for (const auto& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    auto g = p.grad();
    detail::for_each_value(g, [&](T& x) { x = std::clamp(x, lo, hi); });
  }
}

}  // namespace tl::optim
