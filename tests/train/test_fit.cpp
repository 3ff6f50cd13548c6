#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "train/tiny.hpp"
#include <tl/train/train.hpp>

#include "support/temp_dir.hpp"

namespace tt = tl::train;
namespace td = tl::data;
namespace fs = std::filesystem;

namespace {

// One training setup, built from scratch each time; init_seed varies the initial weights so a
// resume that failed to restore them would show.
struct Run {
  std::shared_ptr<tl_test::Tiny> model;
  std::unique_ptr<tl::optim::SGD<float>> opt;
  std::unique_ptr<tl::optim::CosineAnnealingLR> sched;
  std::unique_ptr<td::DataLoader> train, val;
  explicit Run(uint64_t init_seed, int workers = 2) {
    tl::manual_seed(init_seed);
    model = std::make_shared<tl_test::Tiny>(16, 3);
    opt = std::make_unique<tl::optim::SGD<float>>(model->parameters(),
                                                  tl::optim::SGDOptions{.lr = 0.2, .momentum = 0.9, .weight_decay = 1e-4});
    sched = std::make_unique<tl::optim::CosineAnnealingLR>(*opt, 5);
    train = std::make_unique<td::DataLoader>(
        tl_test::toy_data(60, 3, 7),
        td::DataLoaderOptions{.batch_size = 8, .shuffle = true, .num_workers = workers, .seed = 99},
        td::Compose{td::RandomCrop(4, 1), td::RandomHorizontalFlip()});
    val = std::make_unique<td::DataLoader>(tl_test::toy_data(30, 3, 8), td::DataLoaderOptions{.batch_size = 16});
  }
  tt::FitOptions<float> options(int64_t epochs, const std::string& dir, bool resume) {
    return {.epochs = epochs, .scheduler = sched.get(), .clip_grad_norm = 1.0, .val_loader = val.get(),
            .progress = tt::ProgressMode::kQuiet, .metrics_path = dir.empty() ? "" : dir + "/metrics.jsonl",
            .checkpoint_dir = dir, .resume = resume};
  }
  std::vector<std::vector<float>> weights() const {
    std::vector<std::vector<float>> w;
    for (const auto& e : model->state_dict()) w.push_back(e.tensor.to_vector());
    for (const auto& e : opt->state_dict()) w.push_back(e.tensor.to_vector());
    w.push_back({static_cast<float>(opt->lr(0))});
    return w;
  }
};
}  // namespace

TEST_CASE("fit: stop after epoch k, resume, and reach bit for bit the uninterrupted weights") {
  const int64_t epochs = 5;
  Run full(1);
  auto h_full = tt::fit(*full.model, *full.opt, *full.train, full.options(epochs, "", false));
  REQUIRE(h_full.size() == 5u);
  CHECK(h_full.back().train_loss < 0.8 * h_full.front().train_loss);  // it learned something
  CHECK(h_full.back().val_top1 > 0.6);
  CHECK(h_full.back().lr < h_full.front().lr);  // cosine schedule stepped
  const double next_draw = tl::default_generator().uniform();

  const tl::test::TempDir tmp;
  const std::string dir = tmp.str();
  Run first(1);
  auto h1 = tt::fit(*first.model, *first.opt, *first.train, first.options(2, dir, false));  // "killed" after epoch 2
  CHECK(h1.size() == 2u);
  REQUIRE(fs::exists(tt::checkpoint_path(dir)));

  Run second(12345);  // other initial weights: must be overwritten by the checkpoint
  tl::default_generator().manual_seed(777);  // and another RNG state
  auto h2 = tt::fit(*second.model, *second.opt, *second.train, second.options(epochs, dir, true));
  REQUIRE(h2.size() == 5u);
  CHECK(second.weights() == full.weights());
  CHECK(tl::default_generator().uniform() == next_draw);
  for (size_t e = 0; e < 5; ++e) {
    CHECK(h2[e].train_loss == h_full[e].train_loss);
    CHECK(h2[e].val_top1 == h_full[e].val_top1);
  }
  // the metrics file holds the first run's epochs, a resume marker, then the rest
  std::ifstream f(dir + "/metrics.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  REQUIRE(lines.size() == 6u);
  CHECK(lines[2].find("\"kind\":\"resume\",\"epoch\":2") != std::string::npos);
  CHECK(lines[5].find("\"kind\":\"epoch\",\"epoch\":5") != std::string::npos);
  CHECK(fs::exists(dir + "/metrics.csv"));
  CHECK(fs::exists(dir + "/metrics.svg"));
}

TEST_CASE("fit: a crash in the middle of an epoch resumes from the last checkpoint to the same weights") {
  const int64_t epochs = 4;
  Run full(2, 0);
  tt::fit(*full.model, *full.opt, *full.train, full.options(epochs, "", false));

  const tl::test::TempDir tmp;
  const std::string dir = tmp.str();
  Run crashing(2, 1);
  auto opts = crashing.options(epochs, dir, false);
  opts.checkpoint_every = 2;
  opts.on_step = [](const tt::StepInfo& s) {
    if (s.epoch == 2 && s.step == 4) throw std::runtime_error("simulated kill");
  };
  CHECK_THROWS_AS(tt::fit(*crashing.model, *crashing.opt, *crashing.train, opts), std::runtime_error);
  CHECK(tt::load_checkpoint<float>(tt::checkpoint_path(dir)).epoch == 2);

  Run resumed(3, 2);  // and another worker count: the data do not depend on it
  tt::fit(*resumed.model, *resumed.opt, *resumed.train, resumed.options(epochs, dir, true));
  CHECK(resumed.weights() == full.weights());
}

TEST_CASE("fit: a NaN loss stops the run naming the step and keeps the last good checkpoint") {
  const tl::test::TempDir tmp;
  const std::string dir = tmp.str();
  Run run(4, 0);
  auto opts = run.options(3, dir, false);
  int64_t calls = 0;
  opts.loss = [&](const tl::Tensor<float>& x, const tl::Tensor<int64_t>& y) {
    auto l = tl::nn::functional::cross_entropy(x, y);
    return ++calls == 11 ? l * std::numeric_limits<float>::quiet_NaN() : l;  // epoch 2 (8 steps/epoch), step 3
  };
  opts.val_loader = nullptr;
  std::vector<uint8_t> saved;
  opts.on_epoch = [&](const tt::EpochRecord&) {};
  try {
    tt::fit(*run.model, *run.opt, *run.train, opts);
    FAIL("expected tl::Error");
  } catch (const tl::Error& e) {
    std::string m = e.what();
    CHECK(m.find("loss is nan at epoch 2, step 3 (global step 11)") != std::string::npos);
    CHECK(m.find("without saving") != std::string::npos);
  }
  auto ck = tt::load_checkpoint<float>(tt::checkpoint_path(dir));
  CHECK(ck.epoch == 1);
  CHECK(ck.global_step == 8);
  // the weights in memory are those before the bad step; the file is the epoch-1 checkpoint
  CHECK(ck.history.size() == 1u);
}

TEST_CASE("evaluate: top-1, top-5, confusion matrix, and the model's mode is restored") {
  struct Identity : tl::nn::Module<float> {
    tl::Tensor<float> forward(const tl::Tensor<float>& x) override { return x.flatten(1); }
  };
  // images [1, 1, 6] used directly as logits over 6 classes
  tl::Tensor<float> img({0, 9, 1, 2, 3, 4,   // label 1: top-1 hit
                         5, 0, 1, 2, 3, 4,   // label 1: lowest -> miss
                         0, 1, 2, 3, 4, 5},  // label 1: 5th highest -> top-5 hit
                        {3, 1, 1, 6});
  auto ds = std::make_shared<td::TensorDataset>(img, tl::Tensor<int64_t>({1, 1, 1}, {3}));
  td::DataLoader dl(ds, {.batch_size = 2});
  Identity m;
  m.train();
  auto r = tt::evaluate<float>(m, dl, [](const tl::Tensor<float>& x, const tl::Tensor<int64_t>& y) {
    return tl::nn::functional::cross_entropy(x, y);
  });
  CHECK(m.is_training());
  CHECK(r.count == 3);
  CHECK(r.top1 == doctest::Approx(1.0 / 3));
  CHECK(r.top5 == doctest::Approx(2.0 / 3));
  CHECK(r.confusion.at({1, 1}) == 1);
  CHECK(r.confusion.at({1, 0}) == 1);
  CHECK(r.confusion.at({1, 5}) == 1);
  double want = 0;  // mean cross entropy by hand
  for (int i = 0; i < 3; ++i) {
    double s = 0;
    for (int c = 0; c < 6; ++c) s += std::exp(double(img.at({i, 0, 0, c})));
    want += std::log(s) - double(img.at({i, 0, 0, 1}));
  }
  CHECK(r.loss == doctest::Approx(want / 3).epsilon(1e-5));
}
