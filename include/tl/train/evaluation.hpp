#pragma once
// Classification metrics: loss, top-1 and top-5 accuracy and a confusion matrix, accumulated over
// batches; and evaluate(), which runs a model over a loader in eval mode without recording a graph.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "tl/autograd/grad_mode.hpp"
#include "tl/data/dataloader.hpp"
#include "tl/nn/module.hpp"

namespace tl::train {

/// loss(logits [B, C], labels [B]) -> a 0-d mean loss.
template <class T>
using LossFn = std::function<Tensor<T>(const Tensor<T>&, const Tensor<int64_t>&)>;

struct EvalResult {
  double loss = NAN;  // mean over examples (NaN without a loss function)
  double top1 = NAN, top5 = NAN;
  int64_t count = 0;
  Tensor<int64_t> confusion;  // [C, C]: row = true class, column = predicted class
};

/// Accumulates top-1/top-5 hits, a confusion matrix and the loss over batches.
class ClassificationMeter {
 public:
  explicit ClassificationMeter(int64_t num_classes = 0) : num_classes_(num_classes) {}

  /// Adds a batch: logits [B, C], labels [B], and the batch's mean loss (NaN to skip).
  template <class T>
  void update(const Tensor<T>& logits, const Tensor<int64_t>& labels, double mean_loss = NAN) {
    TL_CHECK(logits.dim() == 2 && labels.dim() == 1 && logits.size(0) == labels.size(0),
             "ClassificationMeter: expected logits [B, C] and labels [B], got ", shape_str(logits.shape()), " and ",
             shape_str(labels.shape()));
    const int64_t B = logits.size(0), C = logits.size(1);
    if (num_classes_ == 0) num_classes_ = C;
    TL_CHECK(C == num_classes_, "ClassificationMeter: logits have ", C, " classes, expected ", num_classes_);
    if (confusion_.empty()) confusion_.assign(static_cast<size_t>(C * C), 0);
    auto lg = logits.is_contiguous() ? logits : logits.template to<T>();
    auto lb = labels.to_vector();
    const int64_t k = std::min<int64_t>(5, C);
    for (int64_t i = 0; i < B; ++i) {
      const T* row = lg.data() + i * C;
      const int64_t y = lb[static_cast<size_t>(i)];
      TL_CHECK(y >= 0 && y < C, "ClassificationMeter: label ", y, " is out of range for ", C, " classes");
      const int64_t pred = std::max_element(row, row + C) - row;  // first maximum, like argmax
      int64_t above = 0;                                           // classes scored above the true one
      for (int64_t c = 0; c < C; ++c) above += row[c] > row[y];
      top1_ += pred == y;
      top5_ += above < k;
      ++confusion_[static_cast<size_t>(y * C + pred)];
    }
    count_ += B;
    if (!std::isnan(mean_loss)) {
      loss_sum_ += mean_loss * double(B);
      loss_count_ += B;
    }
  }

  int64_t count() const { return count_; }
  double top1() const { return count_ ? double(top1_) / double(count_) : NAN; }
  double top5() const { return count_ ? double(top5_) / double(count_) : NAN; }
  double loss() const { return loss_count_ ? loss_sum_ / double(loss_count_) : NAN; }
  EvalResult result() const {
    EvalResult r{loss(), top1(), top5(), count_, {}};
    std::vector<int64_t> c = confusion_;
    if (c.empty()) c.assign(static_cast<size_t>(num_classes_ * num_classes_), 0);
    r.confusion = Tensor<int64_t>(c, {num_classes_, num_classes_});
    return r;
  }

 private:
  int64_t num_classes_;
  int64_t top1_ = 0, top5_ = 0, count_ = 0, loss_count_ = 0;
  double loss_sum_ = 0;
  std::vector<int64_t> confusion_;
};

/// Images as the model's element type.
template <class T>
Tensor<T> batch_input(const data::Batch& b) {
  if constexpr (std::is_same_v<T, float>) return b.images;
  else return b.images.template to<T>();
}

/// Runs `model` over `loader` in eval mode under NoGradGuard and returns loss, top-1, top-5 and
/// the confusion matrix; the model's train/eval mode is restored afterwards.
template <class T>
EvalResult evaluate(nn::Module<T>& model, data::DataLoader& loader, const LossFn<T>& loss = {}) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  ClassificationMeter meter;
  try {
    for (const auto& b : loader) {
      Tensor<T> logits = model.forward(batch_input<T>(b));
      double l = loss ? double(loss(logits, b.labels).item()) : NAN;
      meter.update(logits, b.labels, l);
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return meter.result();
}

}  // namespace tl::train
