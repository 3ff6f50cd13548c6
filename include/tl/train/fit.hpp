#pragma once
// tl::train::fit: the training loop most fine-tuning needs, small enough to replace by a plain loop.
//
//   tl::optim::SGD<float> opt(model->parameters(), {.lr = 0.05, .momentum = 0.9});
//   tl::optim::CosineAnnealingLR sched(opt, epochs);
//   auto history = tl::train::fit(*model, opt, train_loader, {
//       .epochs = epochs, .scheduler = &sched, .val_loader = &test_loader,
//       .metrics_path = "run/metrics.jsonl", .checkpoint_dir = "run", .resume = true});
//
// Per epoch: model.train(); loader.set_epoch(epoch); for each batch: forward, loss (NaN/Inf stops
// the run), zero_grad, backward, optional gradient clipping, optimizer step (and scheduler step
// when per batch); then the scheduler's epoch step, evaluation in eval mode (top-1, top-5,
// confusion matrix), the metrics line, CSV and chart, the progress line, and a checkpoint every
// `checkpoint_every` epochs and after the last.
//
// Resume: with .resume and a checkpoint in checkpoint_dir, the model, optimizer, scheduler, RNG
// (the generator given as .rng, by default tl::default_generator()), epoch and history are
// restored and training continues at the next epoch. The DataLoader's order and augmentation
// depend only on (seed, epoch, index), so a resumed run reaches bit for bit the weights of an
// uninterrupted one (same seed, same thread count).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "tl/nn/functional/loss.hpp"
#include "tl/optim/clip_grad.hpp"
#include "tl/optim/lr_scheduler.hpp"
#include "tl/train/checkpoint.hpp"
#include "tl/train/evaluation.hpp"
#include "tl/train/metrics.hpp"
#include "tl/train/progress.hpp"

namespace tl::train {

/// What on_step sees after each optimizer step.
struct StepInfo {
  int64_t epoch = 0;        // 0-based
  int64_t step = 0;         // 1-based within the epoch
  int64_t global_step = 0;  // optimizer steps so far
  double loss = NAN;
  double lr = NAN;
};

template <class T = float>
struct FitOptions {
  int64_t epochs = 1;
  optim::LRScheduler* scheduler = nullptr;
  bool scheduler_step_per_batch = false;  // OneCycleLR-style schedules step after every batch
  double clip_grad_norm = 0;              // > 0: clip the gradients' total 2-norm to this
  data::DataLoader* val_loader = nullptr; // evaluated after every epoch when given
  LossFn<T> loss = {};                    // default: cross_entropy (mean)
  ProgressMode progress = ProgressMode::kAuto;
  std::string metrics_path = "";          // .jsonl; .csv and .svg next to it
  int64_t log_every_steps = 0;            // > 0: also a "step" metrics line every N steps
  std::string checkpoint_dir = "";        // empty: no checkpoints
  int64_t checkpoint_every = 1;           // epochs between checkpoints (the last epoch always saves)
  bool resume = false;                    // continue from checkpoint_dir's checkpoint if there is one
  Generator* rng = nullptr;               // the generator saved/restored (default_generator())
  std::function<void(const StepInfo&)> on_step = {};
  std::function<void(const EpochRecord&)> on_epoch = {};
};

/// The checkpoint file fit() writes in `dir`.
inline std::string checkpoint_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "checkpoint.safetensors").string();
}

/// Restores model, optimizer, scheduler and RNG from a checkpoint; returns it (epoch, history...).
template <class T, class Optimizer>
Checkpoint<T> restore_checkpoint(const std::string& path, nn::Module<T>& model, Optimizer& optimizer,
                                 optim::LRScheduler* scheduler = nullptr, Generator* rng = nullptr) {
  Checkpoint<T> ck = load_checkpoint<T>(path);
  model.load_state_dict(ck.model);
  optimizer.load_state_dict(ck.optimizer);
  if (scheduler) {
    TL_CHECK(!ck.scheduler.empty(), "restore_checkpoint: '", path, "' has no scheduler state but a scheduler was given");
    scheduler->load_state_dict(ck.scheduler);
  }
  (rng ? *rng : default_generator()).set_state(ck.rng_state);
  return ck;
}

/// Saves model, optimizer, scheduler and RNG state with the epoch and history.
template <class T, class Optimizer>
void write_checkpoint(const std::string& path, const nn::Module<T>& model, const Optimizer& optimizer,
                      const optim::LRScheduler* scheduler, const Generator& rng, int64_t epoch, int64_t global_step,
                      const History& history) {
  Checkpoint<T> ck;
  ck.model = model.state_dict();
  ck.optimizer = optimizer.state_dict();
  if (scheduler) ck.scheduler = scheduler->template state_dict<double>();
  ck.rng_state = rng.state();
  ck.epoch = epoch;
  ck.global_step = global_step;
  ck.history = history;
  save_checkpoint(path, ck);
}

template <class T, class Optimizer>
History fit(nn::Module<T>& model, Optimizer& optimizer, data::DataLoader& train_loader, const FitOptions<T>& o = {}) {
  TL_CHECK(o.epochs >= 0, "fit: epochs must be >= 0, got ", o.epochs);
  TL_CHECK(o.checkpoint_every > 0, "fit: checkpoint_every must be positive, got ", o.checkpoint_every);
  TL_CHECK(!o.resume || !o.checkpoint_dir.empty(), "fit: resume needs a checkpoint_dir");
  LossFn<T> loss_fn = o.loss ? o.loss : LossFn<T>([](const Tensor<T>& x, const Tensor<int64_t>& y) {
    return nn::functional::cross_entropy(x, y);
  });
  Generator& rng = o.rng ? *o.rng : default_generator();
  Progress progress(o.progress);
  const std::string ckpt = o.checkpoint_dir.empty() ? "" : checkpoint_path(o.checkpoint_dir);

  History history;
  int64_t start_epoch = 0, global_step = 0;
  bool resumed = false;
  if (o.resume && std::filesystem::exists(ckpt)) {
    Checkpoint<T> ck = restore_checkpoint(ckpt, model, optimizer, o.scheduler, &rng);
    start_epoch = ck.epoch;
    global_step = ck.global_step;
    history = ck.history;
    resumed = true;
    progress.message("resumed from " + ckpt + " after epoch " + std::to_string(start_epoch));
  }
  MetricsLogger metrics;
  if (!o.metrics_path.empty()) {
    metrics.open(o.metrics_path, resumed);
    if (resumed) metrics.log("resume", {{"epoch", double(start_epoch)}, {"global_step", double(global_step)}});
  }
  auto params = model.parameters();

  for (int64_t epoch = start_epoch; epoch < o.epochs; ++epoch) {
    model.train();
    train_loader.set_epoch(epoch);
    progress.start_epoch(epoch + 1, o.epochs, train_loader.size());
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, step = 0;
    for (const auto& batch : train_loader) {
      ++step;
      Tensor<T> logits = model.forward(batch_input<T>(batch));
      Tensor<T> loss = loss_fn(logits, batch.labels);
      const double lv = double(loss.item());
      TL_CHECK(std::isfinite(lv), "fit: the loss is ", lv, " at epoch ", epoch + 1, ", step ", step, " (global step ",
               global_step + 1, "); stopped without saving a checkpoint",
               ckpt.empty() ? std::string() : " (the last good one, if any, is '" + ckpt + "')");
      optimizer.zero_grad();
      loss.backward();
      if (o.clip_grad_norm > 0) optim::clip_grad_norm_(params, o.clip_grad_norm);
      optimizer.step();
      if (o.scheduler && o.scheduler_step_per_batch) o.scheduler->step();
      ++global_step;

      ClassificationMeter meter;
      meter.update(logits.detach(), batch.labels);
      correct += static_cast<int64_t>(std::llround(meter.top1() * double(batch.size())));
      loss_sum += lv * double(batch.size());
      seen += batch.size();
      progress.update(step, loss_sum / double(seen), double(correct) / double(seen), seen);
      if (o.log_every_steps > 0 && step % o.log_every_steps == 0)
        metrics.log_step(epoch + 1, step, global_step, lv, meter.top1(), optimizer.lr(0));
      if (o.on_step) o.on_step({epoch, step, global_step, lv, optimizer.lr(0)});
    }
    if (o.scheduler && !o.scheduler_step_per_batch) o.scheduler->step();
    const double train_seconds = progress.epoch_seconds();

    EpochRecord r;
    r.epoch = epoch + 1;
    r.global_step = global_step;
    r.train_loss = seen ? loss_sum / double(seen) : NAN;
    r.train_acc = seen ? double(correct) / double(seen) : NAN;
    r.lr = optimizer.lr(0);
    r.seconds = train_seconds;
    r.images_per_sec = train_seconds > 0 ? double(seen) / train_seconds : NAN;
    if (o.val_loader) {
      EvalResult ev = evaluate(model, *o.val_loader, loss_fn);
      r.val_loss = ev.loss, r.val_top1 = ev.top1, r.val_top5 = ev.top5;
    }
    history.push_back(r);
    metrics.log_epoch(r, history);

    char line[256];
    int n = std::snprintf(line, sizeof line, "epoch %lld/%lld  loss %.4f  acc %.2f%%", (long long)r.epoch,
                          (long long)o.epochs, r.train_loss, 100 * r.train_acc);
    if (o.val_loader)
      n += std::snprintf(line + n, sizeof line - size_t(n), "  val_loss %.4f  val_top1 %.2f%%  val_top5 %.2f%%",
                         r.val_loss, 100 * r.val_top1, 100 * r.val_top5);
    std::snprintf(line + n, sizeof line - size_t(n), "  lr %.4g  %.1fs  %.0f img/s", r.lr, r.seconds, r.images_per_sec);
    progress.end_epoch(line);
    if (o.on_epoch) o.on_epoch(r);

    if (!ckpt.empty() && ((epoch + 1) % o.checkpoint_every == 0 || epoch + 1 == o.epochs))
      write_checkpoint(ckpt, model, optimizer, o.scheduler, rng, epoch + 1, global_step, history);
  }
  return history;
}

}  // namespace tl::train
