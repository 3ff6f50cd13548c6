// multitask: one shared ResNet backbone, three heads on CIFAR-10 images:
//   class10    the 10 classes (cross entropy)
//   animal     animal vs vehicle (2 classes; airplane, automobile, ship, truck are vehicles)
//   brightness the image's mean pixel value (regression, MSE on the standardised value)
// Losses are combined with fixed weights, learned uncertainty weighting (Kendall et al. 2018) or
// GradNorm (Chen et al. 2018). Batches are either joint (every batch labelled for every task, all
// losses each step) or mixed: the training set is split between the tasks and each step trains one
// task's batch, round-robin or in proportion to the tasks' data. Test metrics are per task.
//
//   ./multitask --data cifar-10-batches-bin --weights resnet18.pth --weighting gradnorm --epochs 3
//   ./multitask --data ... --mixing proportional --task-split 0.6,0.3,0.1 --weighting uncertainty
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/args.hpp"
#include "common/cifar.hpp"

namespace {

constexpr const char* kProg = "multitask";
namespace tt = tl::transfer;
using tl::Tensor;

const std::vector<std::string> kTasks = {"class10", "animal", "brightness"};

struct Args {
  std::string weights = "none", data, arch = "resnet18", weighting = "fixed", mixing = "joint";
  std::vector<double> task_weights = {1, 1, 1}, task_split = {0.5, 0.25, 0.25};
  int64_t epochs = 3, batch_size = 64, image_size = 32, limit = 0, test_limit = 0;
  double lr = 0.01, weight_decay = 5e-4, gradnorm_alpha = 1.5, gradnorm_lr = 0.025;
  bool augment = true, plain = false, quiet = false;
  uint64_t seed = 0;
};

void usage() {
  std::printf(
      "usage: %s --data DIR [options]\n"
      "A shared ResNet backbone with three heads on CIFAR-10 (10 classes, animal vs vehicle, mean\n"
      "brightness); prints per-task test metrics.\n\n"
      "  --data DIR             CIFAR-10 binary directory (cifar-10-batches-bin)\n"
      "  --weights FILE         pretrained backbone (.pth or .safetensors; its head is not used);\n"
      "                         default none: random init\n"
      "  --arch NAME            resnet18 (default), resnet34, resnet50, ...\n"
      "  --weighting W          fixed (default): sum of --task-weights x loss;\n"
      "                         uncertainty: learned exp(-s_i) L_i + s_i (Kendall 2018);\n"
      "                         gradnorm: weights balancing the tasks' training rates (Chen 2018; joint only)\n"
      "  --task-weights A,B,C   fixed weights of class10, animal, brightness (default 1,1,1)\n"
      "  --gradnorm-alpha X     GradNorm's asymmetry (default 1.5)\n"
      "  --gradnorm-lr X        GradNorm's step on the weights (default 0.025)\n"
      "  --mixing M             joint (default): every batch trains every task;\n"
      "                         round-robin: the training set is split between the tasks (--task-split)\n"
      "                         and the steps take the tasks' batches in turn;\n"
      "                         proportional: the same split, batches shuffled together, so each task\n"
      "                         trains in proportion to its data\n"
      "  --task-split A,B,C     shares of the training set per task when mixing (default 0.5,0.25,0.25)\n"
      "  --epochs N             (default 3)\n"
      "  --batch-size N         (default 64)\n"
      "  --lr X                 SGD lr, momentum 0.9, cosine schedule (default 0.01)\n"
      "  --weight-decay X       (default 5e-4)\n"
      "  --image-size N         resize to N x N (default 32)\n"
      "  --no-augment           no random crop / flip\n"
      "  --limit N              use the first N training images\n"
      "  --test-limit N         use the first N test images\n"
      "  --seed N               (default 0)\n"
      "  --plain                one line per epoch even on a terminal\n"
      "  --quiet                only the results\n"
      "  --help                 this text\n",
      kProg);
}

Args parse(int argc, char** argv) {
  Args a;
  ex::ArgReader r(argc, argv);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) usage(), std::exit(0);
    else if (r.is("--data")) a.data = r.str();
    else if (r.is("--weights")) a.weights = r.str();
    else if (r.is("--arch")) a.arch = r.choice(ex::resnet_archs());
    else if (r.is("--weighting")) a.weighting = r.choice({"fixed", "uncertainty", "gradnorm"});
    else if (r.is("--task-weights")) a.task_weights = r.reals(0, 1e6);
    else if (r.is("--gradnorm-alpha")) a.gradnorm_alpha = r.real(0);
    else if (r.is("--gradnorm-lr")) a.gradnorm_lr = r.real(0);
    else if (r.is("--mixing")) a.mixing = r.choice({"joint", "round-robin", "proportional"});
    else if (r.is("--task-split")) a.task_split = r.reals(0, 1);
    else if (r.is("--epochs")) a.epochs = r.integer(1);
    else if (r.is("--batch-size")) a.batch_size = r.integer(1);
    else if (r.is("--lr")) a.lr = r.real(0);
    else if (r.is("--weight-decay")) a.weight_decay = r.real(0);
    else if (r.is("--image-size")) a.image_size = r.integer(8, 1024);
    else if (r.is("--no-augment")) a.augment = false;
    else if (r.is("--limit")) a.limit = r.integer(1);
    else if (r.is("--test-limit")) a.test_limit = r.integer(1);
    else if (r.is("--seed")) a.seed = static_cast<uint64_t>(r.integer(0));
    else if (r.is("--plain")) a.plain = true;
    else if (r.is("--quiet")) a.quiet = true;
    else r.unknown();
  }
  if (a.data.empty()) ex::usage_error("--data is required (", ex::kCifarWhat, ")");
  if (a.weights != "none") ex::require_file("--weights", a.weights, "a .pth or .safetensors ResNet weights file");
  if (a.task_weights.size() != 3) ex::usage_error("--task-weights expects 3 numbers (class10, animal, brightness)");
  if (a.task_split.size() != 3) ex::usage_error("--task-split expects 3 numbers (class10, animal, brightness)");
  double split = a.task_split[0] + a.task_split[1] + a.task_split[2];
  if (split > 1 + 1e-9) ex::usage_error("--task-split shares must sum to at most 1, got ", split);
  if (a.weighting == "gradnorm" && a.mixing != "joint")
    ex::usage_error("--weighting gradnorm needs every task's loss at each step: use it with --mixing joint");
  return a;
}

/// Per-channel ImageNet normalisation of a raw [B, 3, H, W] batch (the targets need raw pixels first).
Tensor<float> normalize(const Tensor<float>& raw) {
  static const Tensor<float> mean({tl::data::kImageNetMean[0], tl::data::kImageNetMean[1], tl::data::kImageNetMean[2]},
                                  {1, 3, 1, 1});
  static const Tensor<float> sd({tl::data::kImageNetStd[0], tl::data::kImageNetStd[1], tl::data::kImageNetStd[2]},
                                {1, 3, 1, 1});
  return tl::div(tl::sub(raw, mean), sd);
}

/// The regression head: Linear(D, 1) on features / sqrt(D). MSE's curvature in the head's weights is
/// 2 |f|^2, which for D = 512 pooled ReLU features is in the hundreds: a plain Linear head diverges at
/// lr 0.01 where the classification heads (softmax-bounded) are fine. The scale makes it O(1).
struct ScaledLinear : tl::nn::Module<float> {
  std::shared_ptr<tl::nn::Linear<float>> linear;
  float scale;
  ScaledLinear(int64_t in, int64_t out, tl::Generator& gen) : scale(1.0f / std::sqrt(float(in))) {
    linear = register_module("linear", std::make_shared<tl::nn::Linear<float>>(in, out));
    linear->reset_parameters(gen);
  }
  Tensor<float> forward(const Tensor<float>& x) override {
    return linear->forward(tl::mul(x, tl::scalar_tensor<float>(scale)));
  }
  std::string type_name() const override { return "ScaledLinear"; }
};

/// The three tasks' targets of a batch of raw images.
struct Targets {
  Tensor<int64_t> class10, animal;
  Tensor<float> brightness, brightness_z;  // raw mean pixel value [B]; standardised [B, 1]
};

struct BrightnessScale {
  double mean = 0.5, std = 0.25;
};

Targets targets(const tl::data::Batch& b, const BrightnessScale& s) {
  static const int64_t kAnimal[10] = {0, 0, 1, 1, 1, 1, 1, 1, 0, 0};  // airplane auto bird cat deer dog frog horse ship truck
  Targets t;
  t.class10 = b.labels;
  t.animal = Tensor<int64_t>::uninitialized({b.size()});
  for (int64_t i = 0; i < b.size(); ++i) t.animal.data()[i] = kAnimal[b.labels.data()[i]];
  t.brightness = b.images.mean({1, 2, 3});
  t.brightness_z = tl::div(tl::sub(t.brightness, tl::scalar_tensor<float>(float(s.mean))),
                           tl::scalar_tensor<float>(float(s.std)))
                       .reshape({b.size(), 1});
  return t;
}

/// Mean and std of the training images' brightness (the regression target is standardised with them,
/// so its loss has the scale of the classification losses).
BrightnessScale brightness_scale(const tl::data::Dataset::Ptr& ds, int64_t size) {
  tl::data::DataLoader l(ds, {.batch_size = 256}, ex::eval_transform(size, false));
  double s = 0, s2 = 0;
  int64_t n = 0;
  for (const auto& b : l)
    for (float v : b.images.mean({1, 2, 3}).to_vector()) s += v, s2 += double(v) * v, ++n;
  BrightnessScale r;
  r.mean = s / double(n);
  r.std = std::sqrt(std::max(1e-8, s2 / double(n) - r.mean * r.mean));
  return r;
}

/// Task i's loss on the model's outputs for it.
Tensor<float> task_loss(size_t task, const Tensor<float>& out, const Targets& t) {
  namespace F = tl::nn::functional;
  if (task == 0) return F::cross_entropy(out, t.class10);
  if (task == 1) return F::cross_entropy(out, t.animal);
  return tl::mse_loss(out, t.brightness_z);
}

std::string fmt(const std::vector<double>& v, const char* f = "%.3f") {
  std::string s;
  char buf[32];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, f, x);
    if (!s.empty()) s += ' ';
    s += buf;
  }
  return s;
}

int run(const Args& a) {
  auto data = ex::load_cifar10(a.data, a.limit, a.test_limit);
  tl::manual_seed(a.seed);
  auto backbone = ex::make_resnet(a.arch, 10, a.seed);
  if (a.weights != "none") ex::load_pretrained(*backbone, a.weights, a.arch);
  auto mt = std::make_shared<tt::MultiTaskModel<float>>(backbone);
  tl::Generator gen(a.seed + 1);
  const int64_t D = backbone->feature_dim();
  for (size_t i = 0; i < 2; ++i) {
    auto head = std::make_shared<tl::nn::Linear<float>>(D, i == 0 ? 10 : 2);
    head->reset_parameters(gen);
    mt->add_head(kTasks[i], head);
  }
  mt->add_head(kTasks[2], std::make_shared<ScaledLinear>(D, 1, gen), tt::TaskKind::Regression);
  tt::freeze(*mt, "backbone.fc.*");  // the backbone's own head is not used
  std::printf("shared %s backbone, heads class10 (10), animal (2), brightness (1): %s\n", a.arch.c_str(),
              tt::format_parameter_count(tt::count_parameters(*mt)).c_str());

  const auto scale = brightness_scale(data.train, a.image_size);
  std::printf("brightness target: mean %.4f, std %.4f over the training images (standardised for the loss)\n",
              scale.mean, scale.std);

  // Loss combination.
  std::vector<tt::TaskLossSpec> specs;
  for (size_t i = 0; i < kTasks.size(); ++i)
    specs.push_back({kTasks[i], i == 2 ? tt::TaskKind::Regression : tt::TaskKind::Classification, a.task_weights[i]});
  const bool uncertainty = a.weighting == "uncertainty";
  const auto weighting = uncertainty ? tt::LossWeighting::Uncertainty : tt::LossWeighting::Fixed;
  tt::MultiTaskLoss<float> joint_loss(specs, {.weighting = weighting});
  // mixed batches train one task per step: each task's term has its own (one-task) combiner
  std::vector<std::shared_ptr<tt::MultiTaskLoss<float>>> single;
  for (auto& s : specs) single.push_back(std::make_shared<tt::MultiTaskLoss<float>>(std::vector{s},
                                                                                    tt::MultiTaskLossOptions{.weighting = weighting}));
  tt::GradNorm<float> gradnorm(kTasks.size(), {.alpha = a.gradnorm_alpha, .lr = a.gradnorm_lr});
  // GradNorm's W: the last shared layer, i.e. the last conv of the backbone's last block
  std::vector<Tensor<float>> shared;
  for (auto& [name, p] : mt->named_parameters())
    if (tt::glob_match("backbone.layer4.*conv*.weight", name)) shared = {p};

  using Group = tl::optim::ParamGroupSpec<float, tl::optim::SGDOptions>;
  std::vector<Group> groups = {{.params = tt::trainable_parameters(*mt)}};
  if (uncertainty) {  // the log-variances train without weight decay
    std::vector<Tensor<float>> lv = a.mixing == "joint" ? joint_loss.parameters() : std::vector<Tensor<float>>{};
    if (a.mixing != "joint")
      for (auto& s : single) lv.push_back(s->log_vars);
    groups.push_back({.params = lv, .weight_decay = 0.0});
  }
  tl::optim::SGD<float> opt(groups, {.lr = a.lr, .momentum = 0.9, .weight_decay = a.weight_decay});
  tl::optim::CosineAnnealingLR sched(opt, a.epochs);

  // Data: one loader with every task's labels (joint), or one loader per task on its share.
  const auto train_tf = ex::train_transform(a.image_size, a.augment, false);
  std::vector<std::unique_ptr<tl::data::DataLoader>> loaders;
  if (a.mixing == "joint") {
    loaders.push_back(std::make_unique<tl::data::DataLoader>(
        data.train, tl::data::DataLoaderOptions{.batch_size = a.batch_size, .shuffle = true, .seed = a.seed}, train_tf));
  } else {
    const int64_t n = data.train->size();
    std::vector<int64_t> lengths;
    for (double f : a.task_split) lengths.push_back(static_cast<int64_t>(std::floor(f * double(n))));
    lengths.push_back(n - lengths[0] - lengths[1] - lengths[2]);  // the unused rest
    auto parts = tl::data::random_split(data.train, lengths, a.seed);
    for (size_t i = 0; i < kTasks.size(); ++i) {
      if (lengths[i] == 0) ex::usage_error("--task-split gives task ", kTasks[i], " no training images");
      loaders.push_back(std::make_unique<tl::data::DataLoader>(
          parts[i], tl::data::DataLoaderOptions{.batch_size = a.batch_size, .shuffle = true, .seed = a.seed + i},
          train_tf));
    }
    std::printf("mixing %s: task images %lld / %lld / %lld, batches per epoch %lld / %lld / %lld\n", a.mixing.c_str(),
                (long long)lengths[0], (long long)lengths[1], (long long)lengths[2], (long long)loaders[0]->size(),
                (long long)loaders[1]->size(), (long long)loaders[2]->size());
  }
  std::vector<int64_t> batches;
  for (auto& l : loaders) batches.push_back(l->size());
  tt::TaskBatchScheduler scheduler(batches, tt::task_mixing_from_name(a.mixing == "joint" ? "round-robin" : a.mixing),
                                   a.seed);
  std::printf("weighting %s; %lld epochs of %lld steps; %lld training, %lld test images at %lldx%lld\n",
              a.weighting.c_str(), (long long)a.epochs, (long long)scheduler.steps_per_epoch(),
              (long long)data.train->size(), (long long)data.test->size(), (long long)a.image_size,
              (long long)a.image_size);

  tl::train::Progress progress(ex::progress_mode(a.plain, a.quiet));
  for (int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    mt->train();
    const auto schedule = scheduler.epoch(epoch);
    std::vector<std::vector<int64_t>> orders;
    for (auto& l : loaders) orders.push_back(l->order(epoch));
    std::vector<int64_t> next(loaders.size(), 0);
    std::vector<double> loss_sum(kTasks.size(), 0.0);
    std::vector<int64_t> loss_n(kTasks.size(), 0);
    double total_sum = 0;
    int64_t images = 0, step = 0, correct10 = 0, seen10 = 0;
    auto count10 = [&](const Tensor<float>& logits, const Targets& t) {  // class10 train accuracy for the bar
      auto pred = logits.detach().argmax(1);
      for (int64_t i = 0; i < pred.numel(); ++i) correct10 += pred.data()[i] == t.class10.data()[i];
      seen10 += pred.numel();
    };
    progress.start_epoch(epoch + 1, a.epochs, int64_t(schedule.size()));
    for (size_t which : schedule) {
      const auto b = loaders[which]->make_batch(orders[which], epoch, next[which]++);
      const auto t = targets(b, scale);
      const auto x = normalize(b.images);
      opt.zero_grad();
      double total = 0;
      if (a.mixing == "joint") {
        auto out = mt->forward_all(x);
        std::vector<Tensor<float>> losses;
        for (size_t i = 0; i < kTasks.size(); ++i) losses.push_back(task_loss(i, out.at(kTasks[i]), t));
        count10(out.at("class10"), t);
        if (a.weighting == "gradnorm") {
          total = gradnorm.backward(losses, shared);
        } else {
          auto l = joint_loss(losses);
          l.backward();
          total = l.item();
        }
        for (size_t i = 0; i < kTasks.size(); ++i) loss_sum[i] += losses[i].item(), ++loss_n[i];
      } else {
        auto out = mt->forward(x, kTasks[which]);
        auto li = task_loss(which, out, t);
        if (which == 0) count10(out, t);
        auto l = (*single[which])({li});
        l.backward();
        total = l.item();
        loss_sum[which] += li.item(), ++loss_n[which];
      }
      opt.step();
      TL_CHECK(std::isfinite(total), "the loss became ", total, " at epoch ", epoch + 1, " step ", step + 1,
               " (try a lower --lr)");
      total_sum += total;
      images += b.size();
      ++step;
      progress.update(step, total_sum / double(step), seen10 ? double(correct10) / double(seen10) : 0.0, images);
    }
    sched.step();
    std::vector<double> mean_loss, weights;
    for (size_t i = 0; i < kTasks.size(); ++i) mean_loss.push_back(loss_n[i] ? loss_sum[i] / double(loss_n[i]) : NAN);
    if (a.weighting == "gradnorm") weights = gradnorm.weights();
    else if (a.mixing == "joint") weights = joint_loss.weights();
    else
      for (auto& s : single) weights.push_back(s->weights()[0]);
    char line[256];
    std::snprintf(line, sizeof line, "epoch %lld/%lld: losses class10/animal/brightness %s | weights %s | %.1fs",
                  (long long)epoch + 1, (long long)a.epochs, fmt(mean_loss, "%.4f").c_str(), fmt(weights).c_str(),
                  progress.epoch_seconds());
    progress.end_epoch(line);
  }

  // Per-task test metrics.
  tl::data::DataLoader test(data.test, {.batch_size = 128}, ex::eval_transform(a.image_size, false));
  tt::TaskMetrics metrics;
  double bsum = 0, bsum2 = 0;
  int64_t bn = 0;
  {
    tt::EvalModeGuard<float> eval(*mt);
    tl::NoGradGuard no_grad;
    for (const auto& b : test) {
      const auto t = targets(b, scale);
      auto out = mt->forward_all(normalize(b.images));
      metrics.add_classification("class10", out.at("class10"), t.class10);
      metrics.add_classification("animal", out.at("animal"), t.animal);
      auto pred = tl::add(tl::mul(out.at("brightness").reshape({b.size()}), tl::scalar_tensor<float>(float(scale.std))),
                          tl::scalar_tensor<float>(float(scale.mean)));
      metrics.add_regression("brightness", pred, t.brightness);
      for (float v : t.brightness.to_vector()) bsum += v, bsum2 += double(v) * v, ++bn;
    }
  }
  auto v = metrics.values();
  const double var = bsum2 / double(bn) - (bsum / double(bn)) * (bsum / double(bn));
  std::printf("test (%lld images):\n", (long long)bn);
  std::printf("  class10     accuracy %6.2f%%  (chance 10%%)\n", 100 * v.at("class10"));
  std::printf("  animal      accuracy %6.2f%%  (vehicle vs animal; chance 50-60%%)\n", 100 * v.at("animal"));
  std::printf("  brightness  MSE %.5f, R^2 %.3f  (the test targets' variance is %.5f)\n", v.at("brightness"),
              var > 0 ? 1 - v.at("brightness") / var : 0.0, var);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_main(kProg, [&] { return run(parse(argc, argv)); });
}
