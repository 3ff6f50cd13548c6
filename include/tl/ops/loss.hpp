#pragma once
// Loss ops (the differentiable forms behind tl::nn::functional's losses, which add PyTorch's
// defaults and option structs):
//   cross_entropy  fused log_softmax + nll over class dim 1, class-index or class-probability targets
//   nll_loss       on log-probabilities
//   mse_loss, l1_loss, kl_div, binary_cross_entropy, binary_cross_entropy_with_logits (element-wise)
// Inputs with classes are [C], [N, C] or [N, C, d1, ...]; index targets are int64 [], [N] or [N, d1, ...].
#include <cmath>
#include <string>
#include <vector>

#include "tl/autograd/node.hpp"
#include "tl/kernels/loss.hpp"
#include "tl/ops/view.hpp"

namespace tl {

/// How a loss reduces its per-element values. BatchMean (sum / batch size) is kl_div's only.
enum class Reduction { None, Mean, Sum, BatchMean };

inline const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::None: return "none";
    case Reduction::Mean: return "mean";
    case Reduction::Sum: return "sum";
    case Reduction::BatchMean: return "batchmean";
  }
  return "?";
}

namespace detail {

inline void check_reduction(Reduction r, const char* op, bool batchmean_ok = false) {
  TL_CHECK(batchmean_ok || r != Reduction::BatchMean, op, ": reduction 'batchmean' is only valid for kl_div");
}

/// Sum of all values of a dense buffer, in double.
template <class T>
double dense_sum(const T* p, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  return s;
}

/// `per` reduced: itself for None, else a 0-d tensor holding sum(per) * factor.
template <class T>
Tensor<T> apply_reduction(const Tensor<T>& per, Reduction r, double factor) {
  if (r == Reduction::None) return per;
  return scalar_tensor<T>(static_cast<T>(dense_sum(per.data(), per.numel()) * factor));
}

/// The [N, C, inner] layout of a class-scored input; checks the index target's shape against it.
template <class T>
kernels::ClassLayout class_layout(const Tensor<T>& input, const Shape& target_shape, const char* op) {
  TL_CHECK(input.defined() && input.dim() >= 1, op, ": input must be [C], [N, C] or [N, C, d1, ...], got ",
           input.defined() ? shape_str(input.shape()) : std::string("undefined"));
  kernels::ClassLayout L;
  Shape expect;
  if (input.dim() == 1) {
    L.N = 1;
    L.C = input.shape()[0];
  } else {
    L.N = input.shape()[0];
    L.C = input.shape()[1];
    expect.push_back(L.N);
    for (int64_t d = 2; d < input.dim(); ++d) {
      L.inner *= input.shape()[d];
      expect.push_back(input.shape()[d]);
    }
  }
  TL_CHECK(target_shape == expect, op, ": target of shape ", shape_str(target_shape), " does not match input of shape ",
           shape_str(input.shape()), " (expected target shape ", shape_str(expect), ")");
  return L;
}

/// Throws naming the first target outside [0, C) that is not ignore_index.
inline void check_targets(const Tensor<int64_t>& t, int64_t C, int64_t ignore_index, const char* op) {
  const int64_t* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    TL_CHECK(p[i] == ignore_index || (p[i] >= 0 && p[i] < C), op, ": target ", p[i], " (at index ", i,
             ") is out of bounds for ", C, " classes (expected 0 <= target < ", C, ", or ignore_index ", ignore_index,
             ")");
}

template <class T>
Tensor<T> checked_class_weight(const Tensor<T>& weight, int64_t C, const char* op) {
  if (!weight.defined()) return weight;
  TL_CHECK(weight.shape() == Shape{C}, op, ": class weight of shape ", shape_str(weight.shape()),
           " does not match ", C, " classes (expected [", C, "])");
  return weight.detach().contiguous();
}

/// Mean denominator of index-target losses: the summed weight of the non-ignored targets.
template <class T>
double target_weight_sum(const Tensor<int64_t>& t, const Tensor<T>& weight, int64_t ignore_index) {
  double d = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t c = t.data()[i];
    if (c != ignore_index) d += weight.defined() ? static_cast<double>(weight.data()[c]) : 1.0;
  }
  return d;
}

/// Shared state of the index-target losses' backward nodes.
template <class T>
struct ClassLossSaved {
  kernels::ClassLayout L;
  Tensor<int64_t> target;  // dense
  Tensor<T> weight;        // dense or undefined
  int64_t ignore_index;
  Reduction reduction;
  double factor;  // 1 / denominator for mean, else 1
  int64_t g_stride() const { return reduction == Reduction::None ? 1 : 0; }
  const T* w() const { return weight.defined() ? weight.data() : nullptr; }
};

template <class T>
struct CrossEntropyBackward : Node<T> {
  ClassLossSaved<T> s;
  Tensor<T> x, lse;  // dense logits, per-position log-sum-exp
  Shape in_shape;
  double eps;
  CrossEntropyBackward(ClassLossSaved<T> sv, Tensor<T> x_, Tensor<T> l, double e)
      : s(std::move(sv)), x(std::move(x_)), lse(std::move(l)), in_shape(x.shape()), eps(e) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.detach().contiguous();
    auto dx = Tensor<T>::uninitialized(in_shape);
    kernels::cross_entropy_backward(s.L, x.data(), lse.data(), s.target.data(), s.w(), s.ignore_index, eps, g.data(),
                                    s.g_stride(), s.factor, dx.data());
    return {dx};
  }
  void release() override { x = lse = Tensor<T>(); }
  std::string name() const override { return "CrossEntropyBackward"; }
};

template <class T>
struct NllLossBackward : Node<T> {
  ClassLossSaved<T> s;
  Shape in_shape;
  NllLossBackward(ClassLossSaved<T> sv, Shape sh) : s(std::move(sv)), in_shape(std::move(sh)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.detach().contiguous();
    auto dx = Tensor<T>::uninitialized(in_shape);
    kernels::nll_backward(s.L, s.target.data(), s.w(), s.ignore_index, g.data(), s.g_stride(), s.factor, dx.data());
    return {dx};
  }
  std::string name() const override { return "NllLossBackward"; }
};

template <class T>
struct SoftCrossEntropyBackward : Node<T> {
  kernels::ClassLayout L;
  Tensor<T> x, q, lse, weight;
  Reduction reduction;
  double factor, eps;
  SoftCrossEntropyBackward(kernels::ClassLayout l, Tensor<T> x_, Tensor<T> q_, Tensor<T> ls, Tensor<T> w, Reduction r,
                           double f, double e)
      : L(l), x(std::move(x_)), q(std::move(q_)), lse(std::move(ls)), weight(std::move(w)), reduction(r), factor(f),
        eps(e) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.detach().contiguous();
    Tensor<T> dx, dq;
    if (this->next_edges[0].active()) dx = Tensor<T>::uninitialized(x.shape());
    if (this->next_edges[1].active()) dq = Tensor<T>::uninitialized(q.shape());
    kernels::soft_cross_entropy_backward(L, x.data(), q.data(), lse.data(), weight.defined() ? weight.data() : nullptr,
                                         eps, g.data(), reduction == Reduction::None ? 1 : 0, factor,
                                         dx.defined() ? dx.data() : nullptr, dq.defined() ? dq.data() : nullptr);
    return {dx, dq};
  }
  void release() override { x = q = lse = weight = Tensor<T>(); }
  std::string name() const override { return "CrossEntropyBackward"; }
};

/// Per-position losses of shape target_shape reduced; records `node` on the result.
template <class T>
Tensor<T> finish_class_loss(Tensor<T> per, const Shape& target_shape, Reduction r, double factor) {
  return apply_reduction(r == Reduction::None ? per.view(target_shape) : per, r, factor);
}

}  // namespace detail

/// Cross entropy of logits against class indices, fused (see the file comment). All options are
/// explicit here; tl::nn::functional::cross_entropy gives PyTorch's defaults.
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& input, const Tensor<int64_t>& target, const Tensor<T>& weight,
                        int64_t ignore_index, Reduction reduction, double label_smoothing) {
  const char* op = "cross_entropy";
  detail::check_reduction(reduction, op);
  TL_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op, ": label_smoothing must be between 0.0 and 1.0, got ",
           label_smoothing);
  TL_CHECK(target.defined(), op, ": undefined target");
  const kernels::ClassLayout L = detail::class_layout(input, target.shape(), op);
  const Tensor<int64_t> t = target.is_contiguous() ? target : Tensor<int64_t>(target.to_vector(), target.shape());
  detail::check_targets(t, L.C, ignore_index, op);
  const Tensor<T> w = detail::checked_class_weight(weight, L.C, op);
  const Tensor<T> x = input.detach().contiguous();
  auto per = Tensor<T>::uninitialized({L.positions()});
  auto lse = Tensor<T>::uninitialized({L.positions()});
  kernels::cross_entropy_forward(L, x.data(), t.data(), w.defined() ? w.data() : nullptr, ignore_index,
                                 label_smoothing, per.data(), lse.data());
  const double factor = reduction == Reduction::Mean ? 1.0 / detail::target_weight_sum(t, w, ignore_index) : 1.0;
  auto out = detail::finish_class_loss(per, target.shape(), reduction, factor);
  if (needs_grad(input)) {
    detail::ClassLossSaved<T> s{L, t, w, ignore_index, reduction, factor};
    record<T>(out, std::make_shared<detail::CrossEntropyBackward<T>>(std::move(s), x, lse, label_smoothing), input);
  }
  return out;
}

/// Cross entropy of logits against class probabilities (target has the input's shape); mean
/// divides by the number of positions (N * d1 * ...), as PyTorch does for probability targets.
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& input, const Tensor<T>& target, const Tensor<T>& weight, Reduction reduction,
                        double label_smoothing) {
  const char* op = "cross_entropy";
  detail::check_reduction(reduction, op);
  TL_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op, ": label_smoothing must be between 0.0 and 1.0, got ",
           label_smoothing);
  TL_CHECK(input.defined() && target.defined() && input.shape() == target.shape(), op,
           ": class-probability target of shape ", target.defined() ? shape_str(target.shape()) : "undefined",
           " must have the input's shape ", input.defined() ? shape_str(input.shape()) : "undefined");
  Shape pos_shape = input.shape();
  if (!pos_shape.empty()) pos_shape.erase(pos_shape.begin() + (input.dim() == 1 ? 0 : 1));
  const kernels::ClassLayout L = detail::class_layout(input, pos_shape, op);
  const Tensor<T> w = detail::checked_class_weight(weight, L.C, op);
  const Tensor<T> x = input.detach().contiguous(), q = target.detach().contiguous();
  auto per = Tensor<T>::uninitialized({L.positions()});
  auto lse = Tensor<T>::uninitialized({L.positions()});
  kernels::soft_cross_entropy_forward(L, x.data(), q.data(), w.defined() ? w.data() : nullptr, label_smoothing,
                                      per.data(), lse.data());
  const double factor = reduction == Reduction::Mean ? 1.0 / static_cast<double>(L.positions()) : 1.0;
  auto out = detail::finish_class_loss(per, pos_shape, reduction, factor);
  if (needs_grad(input, target))
    record<T>(out,
              std::make_shared<detail::SoftCrossEntropyBackward<T>>(L, x, q, lse, w, reduction, factor, label_smoothing),
              input, target);
  return out;
}

/// Negative log likelihood of log-probabilities against class indices.
template <class T>
Tensor<T> nll_loss(const Tensor<T>& input, const Tensor<int64_t>& target, const Tensor<T>& weight,
                   int64_t ignore_index, Reduction reduction) {
  const char* op = "nll_loss";
  detail::check_reduction(reduction, op);
  TL_CHECK(target.defined(), op, ": undefined target");
  const kernels::ClassLayout L = detail::class_layout(input, target.shape(), op);
  const Tensor<int64_t> t = target.is_contiguous() ? target : Tensor<int64_t>(target.to_vector(), target.shape());
  detail::check_targets(t, L.C, ignore_index, op);
  const Tensor<T> w = detail::checked_class_weight(weight, L.C, op);
  const Tensor<T> x = input.detach().contiguous();
  auto per = Tensor<T>::uninitialized({L.positions()});
  kernels::nll_forward(L, x.data(), t.data(), w.defined() ? w.data() : nullptr, ignore_index, per.data());
  const double factor = reduction == Reduction::Mean ? 1.0 / detail::target_weight_sum(t, w, ignore_index) : 1.0;
  auto out = detail::finish_class_loss(per, target.shape(), reduction, factor);
  if (needs_grad(input)) {
    detail::ClassLossSaved<T> s{L, t, w, ignore_index, reduction, factor};
    record<T>(out, std::make_shared<detail::NllLossBackward<T>>(std::move(s), input.shape()), input);
  }
  return out;
}

// ---- element-wise losses ----

namespace detail {

/// Backward of an element-wise loss f(x, y, i) with derivatives dx(x, y, i), dy(x, y, i), where x
/// and y were broadcast to one shape; gradients are summed back to each input's own shape.
template <class T, class DX, class DY>
struct PointwiseLossBackward : Node<T> {
  Tensor<T> x, y;  // dense, broadcast shape
  Shape sx, sy;    // the inputs' own shapes
  Reduction reduction;
  double factor;
  DX dfx;
  DY dfy;
  std::string op;
  PointwiseLossBackward(Tensor<T> x_, Tensor<T> y_, Shape a, Shape b, Reduction r, double f, DX dx, DY dy, std::string o)
      : x(std::move(x_)), y(std::move(y_)), sx(std::move(a)), sy(std::move(b)), reduction(r), factor(f),
        dfx(std::move(dx)), dfy(std::move(dy)), op(std::move(o)) {}
  std::vector<Tensor<T>> backward(const Tensor<T>& grad) override {
    const Tensor<T> g = grad.detach().contiguous();
    const int64_t gs = reduction == Reduction::None ? 1 : 0, n = x.numel();
    const T *xp = x.data(), *yp = y.data(), *gp = g.data();
    Tensor<T> gx, gy;
    if (this->next_edges[0].active()) {
      gx = Tensor<T>::uninitialized(x.shape());
      T* o = gx.data();
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(gp[i * gs] * factor * dfx(xp[i], yp[i], i));
      gx = sum_to(gx, sx);
    }
    if (this->next_edges[1].active()) {
      gy = Tensor<T>::uninitialized(y.shape());
      T* o = gy.data();
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(gp[i * gs] * factor * dfy(xp[i], yp[i], i));
      gy = sum_to(gy, sy);
    }
    return {gx, gy};
  }
  void release() override { x = y = Tensor<T>(); }
  std::string name() const override { return op + "Backward"; }
};

/// An element-wise loss of input and target (broadcast together), reduced. f, dx, dy take
/// (x, y, flat index) and return double.
template <class T, class F, class DX, class DY>
Tensor<T> pointwise_loss(const char* op, const Tensor<T>& input, const Tensor<T>& target, Reduction reduction, F f,
                         DX dx, DY dy, bool batchmean_ok = false) {
  check_reduction(reduction, op, batchmean_ok);
  TL_CHECK(input.defined() && target.defined(), op, ": undefined input or target");
  const Shape s = broadcast_shapes(input.shape(), target.shape(), op);
  const Tensor<T> x = input.detach().expand(s).contiguous(), y = target.detach().expand(s).contiguous();
  auto per = Tensor<T>::uninitialized(s);
  const int64_t n = per.numel();
  for (int64_t i = 0; i < n; ++i) per.data()[i] = static_cast<T>(f(x.data()[i], y.data()[i], i));
  double factor = 1.0;
  if (reduction == Reduction::Mean) factor = 1.0 / static_cast<double>(n);
  if (reduction == Reduction::BatchMean) factor = 1.0 / static_cast<double>(s.empty() ? 1 : s[0]);
  auto out = apply_reduction(per, reduction, factor);
  if (needs_grad(input, target))
    record<T>(out,
              std::make_shared<PointwiseLossBackward<T, DX, DY>>(x, y, input.shape(), target.shape(), reduction, factor,
                                                                 std::move(dx), std::move(dy), op),
              input, target);
  return out;
}

/// log(1 + exp(v)) without overflow.
inline double softplus_value(double v) { return std::max(v, 0.0) + std::log1p(std::exp(-std::abs(v))); }

/// A tensor broadcast to shape s and made dense (or undefined if t is).
template <class T>
Tensor<T> loss_weight_broadcast(const Tensor<T>& t, const Shape& s, const char* op, const char* what) {
  if (!t.defined()) return t;
  TL_CHECK(broadcast_shapes(t.shape(), s, op) == s, op, ": ", what, " of shape ", shape_str(t.shape()),
           " cannot be broadcast to the input's shape ", shape_str(s));
  return t.detach().expand(s).contiguous();
}

}  // namespace detail

/// mean((input - target)^2) (or sum / none); input and target broadcast together.
template <class T>
Tensor<T> mse_loss(const Tensor<T>& input, const Tensor<T>& target, Reduction reduction = Reduction::Mean) {
  return detail::pointwise_loss(
      "mse_loss", input, target, reduction, [](double x, double y, int64_t) { return (x - y) * (x - y); },
      [](double x, double y, int64_t) { return 2 * (x - y); }, [](double x, double y, int64_t) { return 2 * (y - x); });
}

/// mean(|input - target|) (or sum / none). The gradient at input == target is 0, as in PyTorch.
template <class T>
Tensor<T> l1_loss(const Tensor<T>& input, const Tensor<T>& target, Reduction reduction = Reduction::Mean) {
  auto sign = [](double v) { return static_cast<double>((v > 0) - (v < 0)); };
  return detail::pointwise_loss(
      "l1_loss", input, target, reduction, [](double x, double y, int64_t) { return std::abs(x - y); },
      [sign](double x, double y, int64_t) { return sign(x - y); },
      [sign](double x, double y, int64_t) { return -sign(x - y); });
}

/// Kullback-Leibler divergence with `input` holding log-probabilities:
/// target * (log(target) - input) (0 where target == 0), or exp(target) * (target - input) with
/// log_target. Use reduction BatchMean for the mathematical KL divergence of a batch.
template <class T>
Tensor<T> kl_div(const Tensor<T>& input, const Tensor<T>& target, Reduction reduction = Reduction::Mean,
                 bool log_target = false) {
  if (log_target)
    return detail::pointwise_loss(
        "kl_div", input, target, reduction, [](double x, double y, int64_t) { return std::exp(y) * (y - x); },
        [](double, double y, int64_t) { return -std::exp(y); },
        [](double x, double y, int64_t) { return std::exp(y) * (y - x + 1); }, true);
  return detail::pointwise_loss(
      "kl_div", input, target, reduction,
      [](double x, double y, int64_t) { return y > 0 ? y * (std::log(y) - x) : (y == 0 ? 0.0 : std::nan("")); },
      [](double, double y, int64_t) { return -y; },
      // at target == 0 the true derivative is -inf; use the finite part, as no sane target is trained there
      [](double x, double y, int64_t) { return y > 0 ? std::log(y) + 1 - x : -x; }, true);
}

/// -weight * (target * log(input) + (1 - target) * log(1 - input)), input in [0, 1]; logs are
/// clamped at -100 as in PyTorch. `weight` (optional) broadcasts to the input's shape.
template <class T>
Tensor<T> binary_cross_entropy(const Tensor<T>& input, const Tensor<T>& target, const Tensor<T>& weight,
                               Reduction reduction) {
  const char* op = "binary_cross_entropy";
  TL_CHECK(input.defined() && target.defined() && input.shape() == target.shape(), op, ": target of shape ",
           target.defined() ? shape_str(target.shape()) : "undefined", " must have the input's shape ",
           input.defined() ? shape_str(input.shape()) : "undefined");
  for (T v : input.to_vector())
    TL_CHECK(v >= T(0) && v <= T(1), op, ": all elements of input should be between 0 and 1, got ", v);
  const Tensor<T> w = detail::loss_weight_broadcast(weight, input.shape(), op, "weight");
  const T* wp = w.defined() ? w.data() : nullptr;
  auto wt = [w, wp](int64_t i) { return wp ? static_cast<double>(wp[i]) : 1.0; };
  return detail::pointwise_loss(
      op, input, target, reduction,
      [wt](double x, double y, int64_t i) {
        return -wt(i) * (y * std::max(std::log(x), -100.0) + (1 - y) * std::max(std::log1p(-x), -100.0));
      },
      [wt](double x, double y, int64_t i) { return wt(i) * (x - y) / std::max((1 - x) * x, 1e-12); },
      [wt](double x, double, int64_t i) { return wt(i) * (std::log1p(-x) - std::log(x)); });
}

/// Sigmoid + binary cross entropy in one stable formula:
/// weight * ((1 - target) * x + (1 + (pos_weight - 1) * target) * softplus(-x)).
/// `weight` broadcasts to the input's shape, `pos_weight` too (typically [C] over the last dim).
template <class T>
Tensor<T> binary_cross_entropy_with_logits(const Tensor<T>& input, const Tensor<T>& target, const Tensor<T>& weight,
                                           const Tensor<T>& pos_weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  TL_CHECK(input.defined() && target.defined() && input.shape() == target.shape(), op, ": target of shape ",
           target.defined() ? shape_str(target.shape()) : "undefined", " must have the input's shape ",
           input.defined() ? shape_str(input.shape()) : "undefined");
  const Tensor<T> w = detail::loss_weight_broadcast(weight, input.shape(), op, "weight");
  const Tensor<T> pw = detail::loss_weight_broadcast(pos_weight, input.shape(), op, "pos_weight");
  const T* wp = w.defined() ? w.data() : nullptr;
  const T* pp = pw.defined() ? pw.data() : nullptr;
  auto wt = [w, wp](int64_t i) { return wp ? static_cast<double>(wp[i]) : 1.0; };
  auto pwt = [pw, pp](int64_t i) { return pp ? static_cast<double>(pp[i]) : 1.0; };
  return detail::pointwise_loss(
      op, input, target, reduction,
      [wt, pwt](double x, double y, int64_t i) {
        return wt(i) * ((1 - y) * x + (1 + (pwt(i) - 1) * y) * detail::softplus_value(-x));
      },
      [wt, pwt](double x, double y, int64_t i) {
        const double sig_neg = 1.0 / (1.0 + std::exp(x));  // sigmoid(-x)
        return wt(i) * ((1 - y) - (1 + (pwt(i) - 1) * y) * sig_neg);
      },
      [wt, pwt](double x, double, int64_t i) { return wt(i) * (-x + (pwt(i) - 1) * detail::softplus_value(-x)); });
}

}  // namespace tl
