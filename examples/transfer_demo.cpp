// transfer_demo: reuse what a network learned where labels are plentiful (the source) to learn a
// task where they are scarce (the target), five ways, on Fashion-MNIST; the protocol is the one of
// examples/transfer_demo_pytorch.py, step for step (docs/transfer.md).
//
//   sudo apt-get install dataset-fashion-mnist    # -> /usr/share/datasets/fashion-mnist
//   ./transfer_demo                               # scenario lowres, K = 10, under 10 minutes on 2 cores
//   ./transfer_demo --scenario split --seeds 0,1,2
//   ./transfer_demo --quick                       # a few seconds: a smoke run for CI
//
// Writes DIR/results_<scenario>.{csv,json,svg} and keeps the pretrained source model in
// DIR/source_<scenario>_<epochs>ep_seed<S>.safetensors (reused when run again).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <tl/tl.hpp>
#include <tl/train/train.hpp>

#include "common/args.hpp"
#include "transfer_demo/data.hpp"
#include "transfer_demo/report.hpp"
#include "transfer_demo/resnet8.hpp"

namespace {

using demo::Split;
using demo::Tensor;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kMethods = {"scratch", "linear_probe", "finetune", "adapters", "multitask"};

struct Args {
  std::string scenario = "lowres", out = "transfer_demo_out", data = "/usr/share/datasets/fashion-mnist";
  std::vector<int64_t> ks = {10}, seeds = {0, 1, 2};
  std::vector<std::string> methods = kMethods;
  int64_t steps = 300, source_epochs = 3, threads = 2, source_limit = 0, test_limit = 0, source_seed = 1000;
  bool quick = false, plain = false;
};

void usage(const char* prog) {
  std::printf(
      "usage: %s [options]\n"
      "Pretrains a ResNet-8 on plentiful Fashion-MNIST images (the source), then learns a target with\n"
      "K labelled images per class five ways (scratch, linear probe, fine-tune, adapters, multi-task)\n"
      "with the same step budget, and reports test accuracy, trainable parameters and time.\n\n"
      "  --scenario lowres|split  lowres (default): same 10 classes seen through a low-resolution camera;\n"
      "                           split: source classes 0-4, target classes 5-9 (transfer barely helps)\n"
      "  --k N[,N...]             labelled target images per class (default 10; several -> chart vs K)\n"
      "  --seeds S[,S...]         seeds for the target runs; the table shows their mean (default 0,1,2)\n"
      "  --steps N                target training steps per method, batch 32 (default 300)\n"
      "  --source-epochs N        source pretraining epochs, batch 128 (default 3)\n"
      "  --source-seed S          seed of the source pretraining (default 1000)\n"
      "  --out DIR                results and the source weights file (default transfer_demo_out)\n"
      "  --data DIR               Fashion-MNIST IDX files, plain or .gz\n"
      "                           (default /usr/share/datasets/fashion-mnist)\n"
      "  --threads N              OpenMP threads (default 2)\n"
      "  --methods M[,M...]       a subset of scratch,linear_probe,finetune,adapters,multitask (default all)\n"
      "  --quick                  tiny smoke run: 200 source images, 1 epoch, 20 steps, seed 0, 500 test images\n"
      "  --plain                  no live progress bar, one line per stage\n"
      "  --help                   this text\n",
      prog);
}

Args parse(int argc, char** argv) {
  Args a;
  bool steps_set = false, seeds_set = false, epochs_set = false;
  ex::ArgReader r(argc, argv);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) {
      usage(argv[0]);
      std::exit(0);
    } else if (r.is("--scenario")) {
      a.scenario = r.str();
      TL_CHECK(a.scenario == "lowres" || a.scenario == "split", "transfer_demo: --scenario must be lowres or split, got '",
               a.scenario, "'");
    } else if (r.is("--k")) a.ks = r.integers(1);
    else if (r.is("--seeds")) a.seeds = r.integers(0), seeds_set = true;
    else if (r.is("--steps")) a.steps = r.integer(1), steps_set = true;
    else if (r.is("--source-epochs")) a.source_epochs = r.integer(1), epochs_set = true;
    else if (r.is("--source-seed")) a.source_seed = r.integer(0);
    else if (r.is("--out")) a.out = r.str();
    else if (r.is("--data")) a.data = r.str();
    else if (r.is("--threads")) a.threads = r.integer(1);
    else if (r.is("--methods")) a.methods = r.subset(kMethods);
    else if (r.is("--quick")) a.quick = true;
    else if (r.is("--plain")) a.plain = true;
    else r.unknown();
  }
  if (a.quick) {  // explicit options still win
    if (!steps_set) a.steps = 20;
    if (!seeds_set) a.seeds = {0};
    if (!epochs_set) a.source_epochs = 1;
    a.source_limit = 200;
    a.test_limit = 500;
  }
  TL_CHECK(std::filesystem::is_directory(a.data), "transfer_demo: --data '", a.data,
           "' is not a directory. Fashion-MNIST comes with `sudo apt-get install dataset-fashion-mnist` "
           "(/usr/share/datasets/fashion-mnist)");
  return a;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t count(const std::vector<Tensor>& ps) {
  int64_t n = 0;
  for (auto& p : ps) n += p.numel();
  return n;
}

/// Top-1 accuracy in percent of fn on a split, in batches of 500 without the graph.
double accuracy(const std::function<Tensor(const Tensor&)>& fn, const Split& s) {
  tl::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t i = 0; i < s.size(); i += 500) {
    const int64_t n = std::min<int64_t>(500, s.size() - i);
    auto pred = fn(s.x.narrow(0, i, n)).argmax(1);
    const int64_t* p = pred.data();
    const int64_t* y = s.y.data() + i;
    for (int64_t j = 0; j < n; ++j) correct += p[j] == y[j];
  }
  return s.size() ? 100.0 * double(correct) / double(s.size()) : 0.0;
}

/// One training run: `steps` SGD steps (momentum 0.9, nesterov, weight decay 5e-4) with a cosine lr,
/// on batches of `bs` drawn from `data` (random 2-px crops when `augment`); `loss` maps a batch to
/// (loss, logits) and `set_train_mode` puts the model in its training mode.
struct TrainSpec {
  std::vector<Tensor> params;
  double lr = 0;
  int64_t steps = 0, bs = 32;
  bool augment = true;
  std::function<std::pair<Tensor, Tensor>(const Tensor&, const tl::Tensor<int64_t>&)> loss;
  std::function<void()> set_train_mode;
};

void train(const TrainSpec& t, const Split& data, tl::Generator& gen, tl::train::Progress& progress,
           int64_t steps_per_epoch = 0) {
  tl::optim::SGD<float> opt(t.params, {.lr = t.lr, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
  tl::optim::CosineAnnealingLR sched(opt, t.steps);
  t.set_train_mode();
  const int64_t per_epoch = steps_per_epoch > 0 ? steps_per_epoch : t.steps;
  const int64_t epochs = (t.steps + per_epoch - 1) / per_epoch;
  double loss_sum = 0, correct = 0;
  int64_t seen = 0, step = 0;
  for (auto& idx : demo::batch_plan(data.size(), t.bs, t.steps, gen)) {
    if (step % per_epoch == 0) {
      progress.start_epoch(step / per_epoch + 1, epochs, std::min(per_epoch, t.steps - step));
      loss_sum = correct = 0;
      seen = 0;
    }
    auto x = data.x.index_select(0, idx);
    if (t.augment) x = demo::random_crop(x, 2, gen);
    auto y = data.y.index_select(0, idx);
    auto [loss, logits] = t.loss(x, y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    sched.step();
    ++step;
    const int64_t n = y.numel();
    loss_sum += double(loss.item()) * double(n);
    auto pred = logits.detach().argmax(1);
    for (int64_t j = 0; j < n; ++j) correct += pred.data()[j] == y.data()[j];
    seen += n;
    const int64_t in_epoch = (step - 1) % per_epoch + 1;
    progress.update(in_epoch, loss_sum / double(seen), correct / double(seen), seen);
    if (in_epoch == per_epoch || step == t.steps) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "    epoch %lld/%lld: loss %.4f, train acc %.2f%%, %.1fs", (long long)(step / per_epoch + (step % per_epoch != 0)),
                    (long long)epochs, loss_sum / double(seen), 100.0 * correct / double(seen), progress.epoch_seconds());
      if (epochs > 1) progress.end_epoch(buf);  // a method's single run is summarised by its table line
    }
  }
}

TrainSpec classify(demo::Mod& model, std::vector<Tensor> params, double lr, int64_t steps) {
  TrainSpec t;
  t.params = std::move(params);
  t.lr = lr;
  t.steps = steps;
  t.loss = [&model](const Tensor& x, const tl::Tensor<int64_t>& y) {
    auto logits = model.forward(x);
    return std::pair{tl::nn::functional::cross_entropy(logits, y), logits};
  };
  t.set_train_mode = [&model] { model.train(); };
  return t;
}

/// The source model: loaded from its weights file if there, else pretrained and saved.
std::shared_ptr<demo::ResNet8> source_model(const Args& a, const demo::Scenario& sc, tl::train::Progress& progress) {
  namespace fs = std::filesystem;
  const std::string path = (fs::path(a.out) / ("source_" + a.scenario + "_" + std::to_string(a.source_epochs) + "ep_seed" +
                                                std::to_string(a.source_seed) + (a.quick ? "_quick" : "") +
                                                ".safetensors")).string();
  // Seeded before the model is made: the source seed fixes its initial weights as well as the
  // batches (the source model's accuracy on the shifted images varies by several points with both).
  tl::manual_seed(uint64_t(a.source_seed));
  auto m = demo::ResNet8::make(sc.n_source);
  if (fs::exists(path)) {
    m->load_state_dict(tl::io::load_safetensors<float>(path));
    std::printf("source: loaded %s (delete it to pretrain again)\n", path.c_str());
  } else {
    tl::Generator gen(uint64_t(a.source_seed));
    const int64_t per_epoch = sc.source.size() / 128 > 0 ? sc.source.size() / 128 : 1;
    const int64_t steps = a.source_epochs * per_epoch;
    std::printf("source: pretraining ResNet-8 on %lld images, %lld epochs of %lld steps (batch 128, lr 0.1 cosine)\n",
                (long long)sc.source.size(), (long long)a.source_epochs, (long long)per_epoch);
    std::fflush(stdout);
    auto t0 = Clock::now();
    auto spec = classify(*m, m->parameters(), 0.1, steps);
    spec.bs = 128;
    train(spec, sc.source, gen, progress, per_epoch);
    tl::io::save_safetensors(path, m->state_dict());
    std::printf("source: %lld steps in %.0fs, saved %s\n", (long long)steps, seconds_since(t0), path.c_str());
  }
  m->eval();
  return m;
}

std::shared_ptr<demo::ResNet8> copy_of(const demo::ResNet8& source, int64_t n_classes) {
  auto m = demo::ResNet8::make(n_classes);
  m->load_state_dict(source.state_dict());
  return m;
}

/// A copy of the source network with a fresh head for `n_classes` (PyTorch's default Linear init):
/// every source tensor except fc.* loaded, which also checks that the architectures agree.
std::shared_ptr<demo::ResNet8> pretrained_with_new_head(const demo::ResNet8& source, int64_t n_classes) {
  auto m = demo::ResNet8::make(n_classes);
  tl::transfer::load_backbone(*m, source.state_dict(), {.skip = {"fc.*"}});
  return m;
}

/// The five ways to learn the target, for one K and one seed.
std::vector<demo::Result> run_methods(const Args& a, const demo::Scenario& sc, const Split& target,
                                      const demo::ResNet8& source, int64_t k, int64_t seed, tl::train::Progress& progress) {
  tl::Generator gen{0};
  const int64_t nt = sc.n_target, steps = a.steps;
  std::vector<demo::Result> out;
  auto timed = [&](const std::string& name, const std::function<std::pair<double, int64_t>()>& fn) {
    if (std::find(a.methods.begin(), a.methods.end(), name) == a.methods.end()) return;
    // Each method draws from its own stream (seed * 100 + its index), so running a subset of the
    // methods (--methods) gives each the same figures as the full run.
    const uint64_t stream = uint64_t(seed) * 100 + uint64_t(std::find(kMethods.begin(), kMethods.end(), name) - kMethods.begin());
    tl::manual_seed(stream);
    gen = tl::Generator{stream};
    auto t0 = Clock::now();
    auto [acc, trainable] = fn();
    out.push_back({name, k, seed, acc, trainable, seconds_since(t0)});
    if (progress.mode() == tl::train::ProgressMode::kBar) std::printf("\r\033[K");  // clears the bar
    std::printf("  K %lld seed %lld %-12s %6.2f%%  trainable %7lld  %5.1fs\n", (long long)k, (long long)seed,
                name.c_str(), acc, (long long)trainable, out.back().seconds);
    std::fflush(stdout);
  };

  timed("scratch", [&] {
    auto m = demo::ResNet8::make(nt);
    train(classify(*m, m->parameters(), 0.05, steps), target, gen, progress);
    m->eval();
    return std::pair{accuracy([&](const Tensor& x) { return m->forward(x); }, sc.test), count(m->parameters())};
  });

  timed("linear_probe", [&] {
    auto m = copy_of(source, sc.n_source);
    m->eval();
    // The frozen backbone's features of the K*classes images, computed once (no augmentation).
    Split feats{tl::transfer::extract_features(*m, target.x), target.y};
    auto head = std::make_shared<tl::nn::Linear<float>>(64, nt);
    auto spec = classify(*head, head->parameters(), 0.1, steps);
    spec.augment = false;
    train(spec, feats, gen, progress);
    return std::pair{accuracy([&](const Tensor& x) { return head->forward(m->features(x)); }, sc.test),
                     count(head->parameters())};
  });

  timed("finetune", [&] {
    auto m = pretrained_with_new_head(source, nt);
    train(classify(*m, m->parameters(), 0.02, steps), target, gen, progress);
    m->eval();
    return std::pair{accuracy([&](const Tensor& x) { return m->forward(x); }, sc.test), count(m->parameters())};
  });

  timed("adapters", [&] {
    auto m = pretrained_with_new_head(source, nt);
    // A residual 1x1 conv + BN beside each 3x3 conv of the blocks; the backbone is frozen, its
    // BatchNorms keep the source's statistics, and only the adapters and the head train.
    tl::transfer::add_adapters(*m, {.kind = tl::transfer::AdapterKind::Residual, .generator = &gen});
    auto params = tl::transfer::trainable_parameters(*m);
    train(classify(*m, params, 0.05, steps), target, gen, progress);
    m->eval();
    return std::pair{accuracy([&](const Tensor& x) { return m->forward(x); }, sc.test), count(params)};
  });

  timed("multitask", [&] {
    // One backbone, two heads: the source's (kept, still trained on source batches) and the target's.
    auto backbone = copy_of(source, sc.n_source);
    tl::transfer::MultiTaskModel<float> model(backbone);
    auto source_head = model.add_head("source", std::make_shared<tl::nn::Linear<float>>(64, sc.n_source));
    source_head->load_state_dict(backbone->fc->state_dict());
    model.add_head("target", std::make_shared<tl::nn::Linear<float>>(64, nt));
    tl::transfer::freeze(model, "backbone.fc.*");  // the backbone's own head is not used
    auto params = tl::transfer::trainable_parameters(model);
    auto src_batches = demo::batch_plan(sc.source.size(), 32, steps, gen);
    size_t next = 0;
    TrainSpec spec;
    spec.params = params;
    spec.lr = 0.02;
    spec.steps = steps;
    spec.set_train_mode = [&] { model.train(); };
    // One concatenated batch through the shared backbone, so BatchNorm sees both domains together.
    spec.loss = [&](const Tensor& x, const tl::Tensor<int64_t>& y) {
      auto& sidx = src_batches[next++];
      auto sx = demo::random_crop(sc.source.x.index_select(0, sidx), 2, gen);
      const int64_t n = y.numel();
      auto f = model.features(tl::cat(std::vector<Tensor>{x, sx}, 0));
      auto logits = model.head_forward("target", f.narrow(0, 0, n));
      auto src_logits = model.head_forward("source", f.narrow(0, n, sidx.numel()));
      auto loss = tl::add(tl::nn::functional::cross_entropy(logits, y),
                          tl::nn::functional::cross_entropy(src_logits, sc.source.y.index_select(0, sidx)));
      return std::pair{loss, logits};
    };
    train(spec, target, gen, progress);
    model.eval();
    return std::pair{accuracy([&](const Tensor& x) { return model.forward(x, "target"); }, sc.test), count(params)};
  });
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto t_start = Clock::now();
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up at once in logs and pipes too
    Args a = parse(argc, argv);
    omp_set_num_threads(int(a.threads));
    std::filesystem::create_directories(a.out);
    tl::train::Progress progress(a.plain ? tl::train::ProgressMode::kPlain : tl::train::ProgressMode::kAuto);

    int64_t k_max = 0;
    for (auto k : a.ks) k_max = std::max(k_max, k);
    // All K share one load: the first K of each class are a prefix of the first k_max.
    auto sc = demo::load_scenario(a.data, a.scenario, k_max, a.source_limit, a.test_limit);
    std::printf("transfer_demo: scenario %s, source %lld images (%lld classes), target %lld classes, K = %s, "
                "test %lld images, %lld steps per method, seeds %s, %lld threads\n",
                a.scenario.c_str(), (long long)sc.source.size(), (long long)sc.n_source, (long long)sc.n_target,
                demo::join(a.ks).c_str(), (long long)sc.test.size(), (long long)a.steps, demo::join(a.seeds).c_str(),
                (long long)a.threads);
    auto source = source_model(a, sc, progress);
    double source_acc = -1;
    if (a.scenario == "lowres") {  // the source's classes are the target's only there (split: other classes)
      source_acc = accuracy([&](const Tensor& x) { return source->forward(x); }, sc.test);
      std::printf("source head on the target's test set (no target training): %.2f%%\n", source_acc);
    }

    std::vector<demo::Result> results;
    for (auto k : a.ks) {
      std::vector<int64_t> keep;  // the first k of each class
      std::vector<int64_t> taken(size_t(sc.n_target), 0);
      for (int64_t i = 0; i < sc.target.size(); ++i) {
        auto c = size_t(sc.target.y.data()[i]);
        if (taken[c] < k) keep.push_back(i), ++taken[c];
      }
      tl::Tensor<int64_t> idx(keep, {int64_t(keep.size())});
      Split target{sc.target.x.index_select(0, idx), sc.target.y.index_select(0, idx)};
      for (auto seed : a.seeds) {
        std::printf("K = %lld (%lld labelled images), seed %lld:\n", (long long)k, (long long)target.size(), (long long)seed);
        for (auto& r : run_methods(a, sc, target, *source, k, seed, progress)) results.push_back(r);
      }
    }
    demo::Report report{a.scenario, a.ks, a.seeds, a.steps, a.source_epochs, a.threads, source_acc, results,
                        seconds_since(t_start)};
    std::printf("\n%s", report.table().c_str());
    auto base = (std::filesystem::path(a.out) / ("results_" + a.scenario)).string();
    report.write(base);
    std::printf("wrote %s.csv, %s.json, %s.svg; total %.0fs\n", base.c_str(), base.c_str(), base.c_str(),
                seconds_since(t_start));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
