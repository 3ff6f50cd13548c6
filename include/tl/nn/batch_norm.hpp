#pragma once
// tl::nn::BatchNorm1d / BatchNorm2d: batch normalisation layers like torch.nn.BatchNorm1d/2d.
#include <charconv>
#include <optional>
#include <sstream>
#include <string>

#include "tl/nn/module.hpp"
#include "tl/ops/batch_norm.hpp"

namespace tl::nn {

namespace detail {
/// A double as Python's repr prints it in most cases ("1e-05", "0.1", "1.0").
inline std::string py_float(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // "1" -> "1.0" ("n": nan/inf)
  return s;
}
}  // namespace detail

/// What BatchNorm1d and BatchNorm2d share (PyTorch's _BatchNorm); they differ only in the input rank.
template <class T>
class BatchNorm : public Module<T> {
 public:
  int64_t num_features;
  double eps;
  std::optional<double> momentum;  // empty: running stats are a cumulative average over the batches seen
  bool affine, track_running_stats;
  Tensor<T> weight, bias;                                     // [C], 1 and 0; undefined unless affine
  Tensor<T> running_mean, running_var, num_batches_tracked;  // [C], [C], 0-d; undefined unless tracking
  /// (tl) When set, train() leaves this layer in eval mode (running statistics used and untouched),
  /// as fine-tuning wants for the BatchNorms of a frozen backbone (tl::transfer::freeze_batchnorm).
  bool freeze_stats = false;

  void train(bool on = true) override { Module<T>::train(on && !freeze_stats); }

  Tensor<T> forward(const Tensor<T>& x) override { return run<false>(x); }

  /// (tl) relu(forward(x)) in one pass over the data, forward and backward (tl::batch_norm_relu),
  /// with the same running-statistics update as forward. The ResNets call it for each BN + ReLU pair.
  Tensor<T> forward_relu(const Tensor<T>& x) { return run<true>(x); }

  void reset_running_stats() {
    if (!track_running_stats) return;
    running_mean.fill_(T(0));
    running_var.fill_(T(1));
    num_batches_tracked.fill_(T(0));
  }
  void reset_parameters() {
    reset_running_stats();
    if (!affine) return;
    NoGradGuard no_grad;
    weight.fill_(T(1));
    bias.fill_(T(0));
  }

  /// Like PyTorch: "16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True".
  std::string extra_repr() const override {
    std::ostringstream s;
    s << num_features << ", eps=" << detail::py_float(eps)
      << ", momentum=" << (momentum ? detail::py_float(*momentum) : std::string("None"))
      << ", affine=" << (affine ? "True" : "False") << ", track_running_stats=" << (track_running_stats ? "True" : "False");
    return s.str();
  }

 protected:
  BatchNorm(int64_t num_features_, double eps_, std::optional<double> momentum_, bool affine_, bool track_)
      : num_features(num_features_), eps(eps_), momentum(momentum_), affine(affine_), track_running_stats(track_) {
    TL_CHECK(num_features > 0, "BatchNorm: num_features must be positive, got ", num_features);
    if (affine) {
      weight = this->register_parameter("weight", ones<T>({num_features}));
      bias = this->register_parameter("bias", zeros<T>({num_features}));
    }
    if (track_running_stats) {
      running_mean = this->register_buffer("running_mean", zeros<T>({num_features}));
      running_var = this->register_buffer("running_var", ones<T>({num_features}));
      num_batches_tracked = this->register_buffer("num_batches_tracked", scalar_tensor<T>(0), /*integer=*/true);
    }
  }
  virtual void check_input_dim(const Tensor<T>& x) const = 0;

 private:
  template <bool Relu>
  Tensor<T> run(const Tensor<T>& x) {
    check_input_dim(x);
    TL_CHECK(x.size(1) == num_features, this->type_name(), ": expected input with ", num_features,
             " channels (dim 1), got shape ", shape_str(x.shape()));
    const bool training = this->is_training();
    double factor = momentum.value_or(0.0);
    const bool count = training && track_running_stats;
    if (count && !momentum) factor = 1.0 / (static_cast<double>(num_batches_tracked.item()) + 1.0);
    // Eval without running stats normalises with the batch's own statistics, as PyTorch does.
    const bool use_batch_stats = training || !track_running_stats;
    auto out = Relu ? batch_norm_relu(x, running_mean, running_var, weight, bias, use_batch_stats, factor, eps)
                    : batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, factor, eps);
    if (count) num_batches_tracked.data()[0] += T(1);  // after the op, so a rejected input changes nothing
    return out;
  }
};

/// Batch norm over [N, C] or [N, C, L] (torch.nn.BatchNorm1d).
template <class T>
class BatchNorm1d : public BatchNorm<T> {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true)
      : BatchNorm<T>(num_features, eps, momentum, affine, track_running_stats) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input_dim(const Tensor<T>& x) const override {
    TL_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected 2D or 3D input (got ", x.dim(), "D input of shape ",
             shape_str(x.shape()), ")");
  }
};

/// Batch norm over [N, C, H, W] (torch.nn.BatchNorm2d).
template <class T>
class BatchNorm2d : public BatchNorm<T> {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true)
      : BatchNorm<T>(num_features, eps, momentum, affine, track_running_stats) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input_dim(const Tensor<T>& x) const override {
    TL_CHECK(x.dim() == 4, "BatchNorm2d: expected 4D input (got ", x.dim(), "D input of shape ", shape_str(x.shape()),
             ")");
  }
};

}  // namespace tl::nn
