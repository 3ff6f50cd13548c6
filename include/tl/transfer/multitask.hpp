#pragma once
// Multi-task learning with hard parameter sharing: one backbone, several named heads.
//
//   auto mt = std::make_shared<tl::transfer::MultiTaskModel<float>>(backbone);   // anything with features()
//   mt->add_head("digits", std::make_shared<tl::nn::Linear<float>>(512, 10));
//   mt->add_head("parity", std::make_shared<tl::nn::Linear<float>>(512, 2));
//   mt->add_head("size", std::make_shared<tl::nn::Linear<float>>(512, 1), tl::transfer::TaskKind::Regression);
//   auto out = mt->forward_all(x);       // features computed once; out["digits"]: [N, 10], ...
//
// Names: "backbone.<...>" and "heads.<task>.<...>". Batches of different tasks are best passed
// through the backbone together (cat, then narrow the features per task): separate passes blend
// BatchNorm statistics of two domains (see docs/transfer.md).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tl/core/generator.hpp"
#include "tl/nn/module.hpp"

namespace tl::transfer {

enum class TaskKind { Classification, Regression };

/// A plain container module (like torch.nn.ModuleDict) for the heads.
template <class T>
class ModuleDict : public nn::Module<T> {
 public:
  std::string type_name() const override { return "ModuleDict"; }
};

template <class T>
class MultiTaskModel : public nn::Module<T> {
 public:
  struct Task {
    std::string name;
    TaskKind kind;
    std::shared_ptr<nn::Module<T>> head;
  };

  /// `backbone` must have features(x) -> [N, D] (e.g. tl::models::ResNet) or a forward() giving features.
  template <class B>
  explicit MultiTaskModel(std::shared_ptr<B> backbone) {
    TL_CHECK(backbone != nullptr, "transfer::MultiTaskModel: null backbone");
    backbone_ = this->register_module("backbone", std::static_pointer_cast<nn::Module<T>>(backbone));
    if constexpr (requires(B& b, const Tensor<T>& x) { b.features(x); })
      features_ = [b = backbone.get()](const Tensor<T>& x) { return b->features(x); };
    else
      features_ = [b = backbone.get()](const Tensor<T>& x) { return b->forward(x); };
    heads_ = this->register_module("heads", std::make_shared<ModuleDict<T>>());
  }

  /// Adds a task head (fed the backbone's features).
  template <class H>
  std::shared_ptr<H> add_head(const std::string& name, std::shared_ptr<H> head,
                              TaskKind kind = TaskKind::Classification) {
    heads_->register_module(name, head);
    tasks_.push_back({name, kind, head});
    head->train(this->is_training());
    return head;
  }

  /// The shared features [N, D].
  Tensor<T> features(const Tensor<T>& x) { return features_(x); }
  /// One head on given features.
  Tensor<T> head_forward(const std::string& task, const Tensor<T>& features) { return task_at(task).head->forward(features); }
  /// Every head on the features of x, computed once.
  std::map<std::string, Tensor<T>> forward_all(const Tensor<T>& x) {
    auto f = features(x);
    std::map<std::string, Tensor<T>> out;
    for (auto& t : tasks_) out[t.name] = t.head->forward(f);
    return out;
  }
  /// One task's output.
  Tensor<T> forward(const Tensor<T>& x, const std::string& task) { return head_forward(task, features(x)); }
  /// With a single head, its output; otherwise use forward_all() or forward(x, task).
  Tensor<T> forward(const Tensor<T>& x) override {
    TL_CHECK(tasks_.size() == 1, "MultiTaskModel: forward(x) needs exactly one head (have ", tasks_.size(),
             "); use forward_all(x) or forward(x, task)");
    return forward(x, tasks_[0].name);
  }

  const std::vector<Task>& tasks() const { return tasks_; }
  const Task& task_at(const std::string& name) const {
    for (auto& t : tasks_)
      if (t.name == name) return t;
    tl::detail::fail("MultiTaskModel: no task '", name, "'");
  }
  std::shared_ptr<nn::Module<T>> backbone() const { return backbone_; }
  std::string type_name() const override { return "MultiTaskModel"; }

 private:
  std::shared_ptr<nn::Module<T>> backbone_;
  std::shared_ptr<ModuleDict<T>> heads_;
  std::function<Tensor<T>(const Tensor<T>&)> features_;
  std::vector<Task> tasks_;
};

/// The order in which an epoch visits batches of several tasks.
enum class TaskMixing {
  RoundRobin,    // t0, t1, t2, t0, t1, ...; a task whose batches ran out is skipped
  Proportional,  // every task's batches, shuffled together: tasks appear in proportion to their size
};

/// Task index per step of one epoch, given each task's number of batches. Proportional draws from
/// `gen` (use Generator(seed + epoch) for a reproducible per-epoch order).
inline std::vector<size_t> task_schedule(const std::vector<int64_t>& batches_per_task, TaskMixing mixing,
                                         Generator& gen) {
  std::vector<size_t> out;
  std::vector<int64_t> left = batches_per_task;
  for (auto b : left) TL_CHECK(b >= 0, "transfer::task_schedule: negative batch count ", b);
  if (mixing == TaskMixing::RoundRobin) {
    for (bool any = true; any;) {
      any = false;
      for (size_t t = 0; t < left.size(); ++t)
        if (left[t] > 0) --left[t], out.push_back(t), any = true;
    }
    return out;
  }
  for (size_t t = 0; t < left.size(); ++t) out.insert(out.end(), static_cast<size_t>(left[t]), t);
  for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[static_cast<size_t>(gen.randint(static_cast<int64_t>(i)))]);
  return out;
}

/// Per-task metrics, kept separately: accuracy for classification, mean squared error for regression.
class TaskMetrics {
 public:
  struct Entry {
    double sum = 0;   // correct predictions, or summed squared error
    int64_t count = 0;
    bool regression = false;
    double value() const { return count ? sum / static_cast<double>(count) : 0.0; }
  };
  template <class T>
  void add_classification(const std::string& task, const Tensor<T>& logits, const Tensor<int64_t>& labels) {
    TL_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0),
             "TaskMetrics: expected logits [N, C] and labels [N], got ", shape_str(logits.shape()), " and ",
             shape_str(labels.shape()));
    auto pred = logits.argmax(1);
    auto& e = entries_[task];
    for (int64_t i = 0; i < labels.size(0); ++i) e.sum += pred.data()[i] == labels.contiguous().data()[i];
    e.count += labels.size(0);
  }
  template <class T>
  void add_regression(const std::string& task, const Tensor<T>& pred, const Tensor<T>& target) {
    TL_CHECK(pred.numel() == target.numel(), "TaskMetrics: prediction and target sizes differ: ",
             shape_str(pred.shape()), " vs ", shape_str(target.shape()));
    auto p = pred.contiguous(), t = target.contiguous();
    auto& e = entries_[task];
    e.regression = true;
    for (int64_t i = 0; i < p.numel(); ++i) {
      double d = static_cast<double>(p.data()[i]) - static_cast<double>(t.data()[i]);
      e.sum += d * d;
    }
    e.count += p.numel();
  }
  /// Task -> accuracy (classification) or MSE (regression).
  std::map<std::string, double> values() const {
    std::map<std::string, double> out;
    for (auto& [k, e] : entries_) out[k] = e.value();
    return out;
  }
  const std::map<std::string, Entry>& entries() const { return entries_; }
  void reset() { entries_.clear(); }

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace tl::transfer
