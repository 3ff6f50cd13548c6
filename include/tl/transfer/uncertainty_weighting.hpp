#pragma once
// Combining per-task losses: fixed weights, or learned homoscedastic-uncertainty weighting
// (Kendall, Gal & Cipolla 2018) with one learnable s_i = log(sigma_i^2) per task:
//   simplified (default, the form most PyTorch code uses):  sum_i exp(-s_i) * L_i + s_i
//   paper factors (kendall_factors = true):  regression 0.5 * exp(-s_i) * L_i + 0.5 * s_i,
//                                            classification exp(-s_i) * L_i + 0.5 * s_i
// s_i is clamped below at min_log_var (default -2) in the loss: with few labels a task's loss can
// reach ~0 and its weight exp(-s_i) would otherwise explode (seen in 3 of 11 PyTorch runs).
//
//   tl::transfer::MultiTaskLoss<float> combine({{"source"}, {"target"}}, {.weighting = Uncertainty});
//   auto total = combine({loss_source, loss_target});
//   // optimize combine.parameters() along with the model's
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "tl/nn/module.hpp"
#include "tl/ops/binary.hpp"
#include "tl/ops/unary.hpp"
#include "tl/transfer/multitask.hpp"

namespace tl::transfer {

enum class LossWeighting { Fixed, Uncertainty };

struct TaskLossSpec {
  std::string name;
  TaskKind kind = TaskKind::Classification;
  double weight = 1.0;  // Fixed weighting only
};

struct MultiTaskLossOptions {
  LossWeighting weighting = LossWeighting::Fixed;
  bool kendall_factors = false;
  double init_log_var = 0.0;
  std::optional<double> min_log_var = -2.0;
};

template <class T>
class MultiTaskLoss : public nn::Module<T> {
 public:
  Tensor<T> log_vars;  // [tasks], Uncertainty only (parameter "log_vars")

  MultiTaskLoss(std::vector<TaskLossSpec> tasks, MultiTaskLossOptions o = {}) : tasks_(std::move(tasks)), o_(o) {
    TL_CHECK(!tasks_.empty(), "transfer::MultiTaskLoss: no tasks");
    if (o_.weighting == LossWeighting::Uncertainty)
      log_vars = this->register_parameter("log_vars",
                                          full<T>({static_cast<int64_t>(tasks_.size())}, static_cast<T>(o_.init_log_var)));
  }

  /// The combined loss of per-task scalar losses (in the tasks' order).
  Tensor<T> operator()(const std::vector<Tensor<T>>& losses) const {
    TL_CHECK(losses.size() == tasks_.size(), "transfer::MultiTaskLoss: expected ", tasks_.size(), " losses, got ",
             losses.size());
    Tensor<T> total;
    for (size_t i = 0; i < tasks_.size(); ++i) {
      TL_CHECK(losses[i].numel() == 1, "transfer::MultiTaskLoss: the loss of task '", tasks_[i].name,
               "' is not a scalar: ", shape_str(losses[i].shape()));
      Tensor<T> term;
      if (o_.weighting == LossWeighting::Fixed) {
        term = mul(losses[i].reshape({}), scalar_tensor<T>(static_cast<T>(tasks_[i].weight)));
      } else {
        auto s = log_vars.select(0, static_cast<int64_t>(i));
        if (o_.min_log_var) s = clamp_min(s, static_cast<T>(*o_.min_log_var));
        const bool half_loss = o_.kendall_factors && tasks_[i].kind == TaskKind::Regression;
        const T reg = o_.kendall_factors ? T(0.5) : T(1);
        auto weighted = mul(exp(neg(s)), losses[i].reshape({}));
        if (half_loss) weighted = mul(weighted, scalar_tensor<T>(T(0.5)));
        term = add(weighted, mul(s, scalar_tensor<T>(reg)));
      }
      total = total.defined() ? add(total, term) : term;
    }
    return total;
  }

  /// Current weights exp(-s_i) (or the fixed ones), for logging.
  std::vector<double> weights() const {
    std::vector<double> w;
    for (size_t i = 0; i < tasks_.size(); ++i)
      w.push_back(o_.weighting == LossWeighting::Fixed ? tasks_[i].weight
                                                        : std::exp(-static_cast<double>(log_vars.to_vector()[i])));
    return w;
  }
  const std::vector<TaskLossSpec>& tasks() const { return tasks_; }
  std::string type_name() const override { return "MultiTaskLoss"; }

 private:
  std::vector<TaskLossSpec> tasks_;
  MultiTaskLossOptions o_;
};

}  // namespace tl::transfer
