// Trains a small CNN on Fashion-MNIST with tl::train::fit: a live progress bar on a terminal,
// metrics as JSON lines + CSV + an SVG chart, checkpoints every epoch, and --resume.
//
//   sudo apt-get install dataset-fashion-mnist     # -> /usr/share/datasets/fashion-mnist
//   ./train_fashion_mnist --epochs 2 --metrics run/metrics.jsonl --checkpoint-dir run
//   ./train_fashion_mnist --epochs 4 --metrics run/metrics.jsonl --checkpoint-dir run --resume
//   (then open run/metrics.svg in a browser)
#include <cstdio>
#include <cstdlib>
#include <string>

#include <tl/tl.hpp>
#include <tl/train/train.hpp>

namespace {

struct Args {
  std::string data = "/usr/share/datasets/fashion-mnist";
  int64_t epochs = 2, batch_size = 64, limit = 0, workers = 2;
  double lr = 0.05;
  uint64_t seed = 0;
  std::string metrics = "fashion_mnist_run/metrics.jsonl", checkpoint_dir;
  bool resume = false, quiet = false, plain = false, augment = true;
};

void usage(const char* prog) {
  std::printf(
      "usage: %s [options]\n"
      "Trains a small CNN (2 conv + 1 linear) on Fashion-MNIST with tl::train::fit.\n\n"
      "  --data DIR            IDX files, plain or .gz (default /usr/share/datasets/fashion-mnist)\n"
      "  --epochs N            number of epochs (default 2)\n"
      "  --batch-size N        (default 64)\n"
      "  --lr X                SGD learning rate, momentum 0.9, cosine schedule (default 0.05)\n"
      "  --limit N             use only the first N training images (quick runs)\n"
      "  --workers N           data-loading threads (default 2)\n"
      "  --seed N              seed for init, shuffling and augmentation (default 0)\n"
      "  --no-augment          no random crop / flip\n"
      "  --metrics PATH        JSON lines; PATH with .csv and .svg written next to it\n"
      "                        (default fashion_mnist_run/metrics.jsonl; '' to disable)\n"
      "  --checkpoint-dir DIR  save a checkpoint there after every epoch\n"
      "  --resume              continue from DIR's checkpoint (same seed => same weights)\n"
      "  --plain               one line per epoch even on a terminal\n"
      "  --quiet               no progress output\n"
      "  --help                this text\n",
      prog);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      TL_CHECK(i + 1 < argc, "missing value after ", k);
      return argv[++i];
    };
    if (k == "--help" || k == "-h") {
      usage(argv[0]);
      std::exit(0);
    } else if (k == "--data") a.data = value();
    else if (k == "--epochs") a.epochs = std::stoll(value());
    else if (k == "--batch-size") a.batch_size = std::stoll(value());
    else if (k == "--lr") a.lr = std::stod(value());
    else if (k == "--limit") a.limit = std::stoll(value());
    else if (k == "--workers") a.workers = std::stoll(value());
    else if (k == "--seed") a.seed = std::stoull(value());
    else if (k == "--no-augment") a.augment = false;
    else if (k == "--metrics") a.metrics = value();
    else if (k == "--checkpoint-dir") a.checkpoint_dir = value();
    else if (k == "--resume") a.resume = true;
    else if (k == "--plain") a.plain = true;
    else if (k == "--quiet") a.quiet = true;
    else tl::detail::fail("unknown option '", k, "' (see --help)");
  }
  return a;
}

std::shared_ptr<tl::nn::Sequential<float>> small_cnn() {
  using namespace tl::nn;
  return std::make_shared<Sequential<float>>(
      std::make_shared<Conv2d<float>>(1, 16, 3, 1, 1), std::make_shared<ReLU<float>>(),
      std::make_shared<MaxPool2d<float>>(2),  // 14x14
      std::make_shared<Conv2d<float>>(16, 32, 3, 1, 1), std::make_shared<ReLU<float>>(),
      std::make_shared<MaxPool2d<float>>(2),  // 7x7
      std::make_shared<Flatten<float>>(), std::make_shared<Linear<float>>(32 * 7 * 7, 10));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    namespace td = tl::data;
    tl::manual_seed(a.seed);  // weight init (and dropout, if any) draw from the default generator

    td::Dataset::Ptr train_set = td::FashionMNIST(a.data, true);
    td::Dataset::Ptr test_set = td::FashionMNIST(a.data, false);
    if (a.limit > 0 && a.limit < train_set->size()) {
      std::vector<int64_t> first(static_cast<size_t>(a.limit));
      for (int64_t i = 0; i < a.limit; ++i) first[static_cast<size_t>(i)] = i;
      train_set = td::subset(train_set, first);
    }
    // Fashion-MNIST's mean/std; augmentation as for small images: shifted crops and mirrors.
    td::Normalize norm({0.2860f}, {0.3530f});
    td::TransformFn train_tf = a.augment ? td::TransformFn(td::Compose{td::RandomCrop(28, 2), td::RandomHorizontalFlip(), norm})
                                         : td::TransformFn(norm);
    td::DataLoader train(train_set,
                         {.batch_size = a.batch_size, .shuffle = true, .num_workers = int(a.workers), .seed = a.seed},
                         train_tf);
    td::DataLoader test(test_set, {.batch_size = 256, .num_workers = int(a.workers)}, norm);

    auto model = small_cnn();
    tl::optim::SGD<float> opt(model->parameters(), {.lr = a.lr, .momentum = 0.9, .weight_decay = 5e-4});
    tl::optim::CosineAnnealingLR sched(opt, a.epochs);

    auto progress = a.quiet ? tl::train::ProgressMode::kQuiet
                            : a.plain ? tl::train::ProgressMode::kPlain : tl::train::ProgressMode::kAuto;
    if (!a.quiet)
      std::printf("Fashion-MNIST: %lld training images, %lld test images, %lld epochs of %lld steps\n",
                  (long long)train_set->size(), (long long)test_set->size(), (long long)a.epochs,
                  (long long)train.size());
    auto history = tl::train::fit(*model, opt, train,
                                  {.epochs = a.epochs,
                                   .scheduler = &sched,
                                   .val_loader = &test,
                                   .progress = progress,
                                   .metrics_path = a.metrics,
                                   .checkpoint_dir = a.checkpoint_dir,
                                   .resume = a.resume});

    auto final_eval = tl::train::evaluate<float>(*model, test);
    if (!a.quiet) {
      std::printf("test top-1 %.2f%%, top-5 %.2f%%\nconfusion matrix (rows: true class, columns: predicted):\n",
                  100 * final_eval.top1, 100 * final_eval.top5);
      auto names = test_set->classes();
      for (int64_t r = 0; r < 10; ++r) {
        std::printf("%12s", names[static_cast<size_t>(r)].c_str());
        for (int64_t c = 0; c < 10; ++c) std::printf(" %4lld", (long long)final_eval.confusion.at({r, c}));
        std::printf("\n");
      }
      if (!a.metrics.empty()) std::printf("metrics: %s (chart: %s)\n", a.metrics.c_str(),
                                          std::filesystem::path(a.metrics).replace_extension(".svg").c_str());
    }
    (void)history;
    return 0;
  } catch (const tl::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
