// adapter_resnet: one pretrained backbone, a small file per task. Adapters (residual, bottleneck or
// LoRA) are inserted into a pretrained ResNet whose own weights stay frozen; only the adapters and
// a new head train on CIFAR-10. The adapters go to their own .safetensors file, which is then
// loaded into a fresh copy of the backbone to show that it reproduces the task's outputs exactly.
//
//   ./adapter_resnet --weights resnet18.pth --data cifar-10-batches-bin --adapter residual --epochs 3
//   ./adapter_resnet --weights resnet50.safetensors --arch resnet50 --data ... --adapter lora --rank 4
#include <cmath>
#include <cstdio>
#include <string>

#include "common/args.hpp"
#include "common/cifar.hpp"

namespace {

constexpr const char* kProg = "adapter_resnet";
namespace tt = tl::transfer;

struct Args {
  std::string weights, data, arch = "resnet18", adapter = "residual", out = "adapters.safetensors", metrics;
  int64_t rank = 8, reduction = 4, epochs = 3, batch_size = 64, image_size = 32, limit = 0, test_limit = 0, workers = 2;
  double alpha = 8, lr = 0.05, weight_decay = 5e-4;
  bool train_bn = false, augment = true, plain = false, quiet = false;
  uint64_t seed = 0;
};

void usage() {
  std::printf(
      "usage: %s --weights FILE --data DIR [options]\n"
      "Trains adapters + a new head in a frozen pretrained ResNet on CIFAR-10, saves the adapters to\n"
      "their own file and checks that a fresh backbone with that file reproduces the outputs exactly.\n\n"
      "  --weights FILE        pretrained ResNet weights (.pth or .safetensors, torchvision names)\n"
      "  --arch NAME           resnet18 (default), resnet34, resnet50, ...: must match the weights\n"
      "  --data DIR            CIFAR-10 binary directory (cifar-10-batches-bin)\n"
      "  --adapter KIND        residual (default): 1x1 conv + BN beside each 3x3 conv (Rebuffi 2017);\n"
      "                        bottleneck: series down/up 1x1 convs after each 3x3 conv (up at zero);\n"
      "                        lora: low-rank update B*A of each 3x3 conv's weight (B at zero)\n"
      "  --rank N              LoRA rank (default 8)\n"
      "  --alpha X             LoRA alpha, scaling alpha/rank (default 8)\n"
      "  --reduction N         bottleneck hidden channels = channels / N (default 4)\n"
      "  --train-bn            the backbone's BatchNorms train too (default: frozen, eval mode)\n"
      "  --epochs N            (default 3)\n"
      "  --batch-size N        (default 64)\n"
      "  --lr X                SGD lr for adapters and head, momentum 0.9, cosine (default 0.05)\n"
      "  --weight-decay X      (default 5e-4)\n"
      "  --image-size N        resize the 32x32 images to N x N (default 32)\n"
      "  --no-augment          no random crop / flip\n"
      "  --limit N             use the first N training images\n"
      "  --test-limit N        use the first N test images\n"
      "  --workers N           data-loading threads (default 2)\n"
      "  --seed N              (default 0)\n"
      "  --out FILE            the adapter file to write (default adapters.safetensors)\n"
      "  --metrics FILE        per-epoch metrics as JSON lines (+ .csv, .svg)\n"
      "  --plain               one line per epoch even on a terminal\n"
      "  --quiet               only the results\n"
      "  --help                this text\n",
      kProg);
}

Args parse(int argc, char** argv) {
  Args a;
  ex::ArgReader r(argc, argv);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) usage(), std::exit(0);
    else if (r.is("--weights")) a.weights = r.str();
    else if (r.is("--arch")) a.arch = r.choice(ex::resnet_archs());
    else if (r.is("--data")) a.data = r.str();
    else if (r.is("--adapter")) a.adapter = r.choice({"residual", "bottleneck", "lora"});
    else if (r.is("--rank")) a.rank = r.integer(1, 4096);
    else if (r.is("--alpha")) a.alpha = r.real(0);
    else if (r.is("--reduction")) a.reduction = r.integer(1, 4096);
    else if (r.is("--train-bn")) a.train_bn = true;
    else if (r.is("--epochs")) a.epochs = r.integer(1);
    else if (r.is("--batch-size")) a.batch_size = r.integer(1);
    else if (r.is("--lr")) a.lr = r.real(0);
    else if (r.is("--weight-decay")) a.weight_decay = r.real(0);
    else if (r.is("--image-size")) a.image_size = r.integer(8, 1024);
    else if (r.is("--no-augment")) a.augment = false;
    else if (r.is("--limit")) a.limit = r.integer(1);
    else if (r.is("--test-limit")) a.test_limit = r.integer(1);
    else if (r.is("--workers")) a.workers = r.integer(0, 64);
    else if (r.is("--seed")) a.seed = static_cast<uint64_t>(r.integer(0));
    else if (r.is("--out")) a.out = r.str();
    else if (r.is("--metrics")) a.metrics = r.str();
    else if (r.is("--plain")) a.plain = true;
    else if (r.is("--quiet")) a.quiet = true;
    else r.unknown();
  }
  ex::require_file("--weights", a.weights, "a .pth or .safetensors ResNet weights file");
  if (a.data.empty()) ex::usage_error("--data is required (", ex::kCifarWhat, ")");
  ex::require_safetensors_output("--out", a.out);
  return a;
}

tt::AdapterOptions adapter_options(const Args& a, tl::Generator* gen) {
  tt::AdapterOptions o;
  o.kind = a.adapter == "lora" ? tt::AdapterKind::LoRA
           : a.adapter == "bottleneck" ? tt::AdapterKind::Bottleneck
                                       : tt::AdapterKind::Residual;
  o.rank = a.rank;
  o.alpha = a.alpha;
  o.reduction = a.reduction;
  o.train_bn = a.train_bn;
  o.generator = gen;
  return o;
}

/// The pretrained backbone with a fresh 10-class head and adapters (drawn from `seed`).
std::shared_ptr<tl::models::ResNet<float>> adapted_model(const Args& a, uint64_t seed, bool verbose) {
  auto model = ex::make_resnet(a.arch, 10, seed);
  if (verbose) ex::load_pretrained(*model, a.weights, a.arch);
  else tt::load_backbone(*model, a.weights);
  tl::Generator gen(seed + 1);
  auto report = tt::add_adapters(*model, adapter_options(a, &gen));
  if (verbose)
    std::printf("%s adapters on %zu convs (%s ... %s); %s\n", a.adapter.c_str(), report.adapted.size(),
                report.adapted.front().c_str(), report.adapted.back().c_str(),
                tt::format_parameter_count(report.params).c_str());
  return model;
}

int run(const Args& a) {
  auto data = ex::load_cifar10(a.data, a.limit, a.test_limit);
  tl::manual_seed(a.seed);
  auto model = adapted_model(a, a.seed, true);
  const auto counts = tt::count_parameters(*model);
  std::printf("trainable parameters: %lld of %lld (%.2f%%)\n", (long long)counts.trainable, (long long)counts.total,
              100.0 * counts.fraction());

  tl::data::DataLoader train(data.train,
                             {.batch_size = a.batch_size, .shuffle = true, .num_workers = int(a.workers), .seed = a.seed},
                             ex::train_transform(a.image_size, a.augment));
  tl::data::DataLoader test(data.test, {.batch_size = 128, .num_workers = int(a.workers)}, ex::eval_transform(a.image_size));
  std::printf("CIFAR-10: %lld training and %lld test images at %lldx%lld; %lld epochs of %lld steps\n",
              (long long)data.train->size(), (long long)data.test->size(), (long long)a.image_size,
              (long long)a.image_size, (long long)a.epochs, (long long)train.size());
  tl::optim::SGD<float> opt(tt::trainable_parameters(*model), {.lr = a.lr, .momentum = 0.9, .weight_decay = a.weight_decay});
  tl::optim::CosineAnnealingLR sched(opt, a.epochs);
  auto history = tl::train::fit(*model, opt, train,
                                {.epochs = a.epochs,
                                 .scheduler = &sched,
                                 .val_loader = &test,
                                 .progress = ex::progress_mode(a.plain, a.quiet),
                                 .metrics_path = a.metrics});
  double secs = 0;
  for (const auto& h : history) secs += h.seconds;
  const double acc = ex::accuracy(*model, test);
  std::printf("test accuracy: %.2f%% (%lld images); time per epoch %.2fs\n", 100 * acc, (long long)data.test->size(),
              secs / double(history.size()));

  // The task's own file: adapters, their BNs and the head; the backbone file stays shared.
  const size_t n = tt::save_adapters(a.out, *model, {{"arch", a.arch}, {"adapter", a.adapter}});
  std::printf("saved %zu adapter tensors to %s (%s; the backbone file %s is %s)\n", n, a.out.c_str(),
              ex::file_size_str(a.out).c_str(), a.weights.c_str(), ex::file_size_str(a.weights).c_str());

  // A fresh backbone, adapted the same way but with other random adapters, then the task file.
  auto fresh = adapted_model(a, a.seed + 100, false);
  tt::load_adapters(a.out, *fresh);
  model->eval();
  fresh->eval();
  tl::NoGradGuard no_grad;
  double max_diff = 0;
  int64_t images = 0;
  for (const auto& b : test) {
    auto y0 = model->forward(b.images).to_vector(), y1 = fresh->forward(b.images).to_vector();
    for (size_t i = 0; i < y0.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(y0[i] - y1[i])));
    images += b.size();
  }
  const double fresh_acc = ex::accuracy(*fresh, test);
  std::printf("reloaded into a fresh backbone: test accuracy %.2f%%, max |logit difference| %g over %lld images%s\n",
              100 * fresh_acc, max_diff, (long long)images, max_diff == 0 ? " (bit-exact)" : "");
  TL_CHECK(max_diff == 0, "the reloaded adapters do not reproduce the outputs (max difference ", max_diff, ")");

  if (a.adapter == "lora") {  // merged LoRA: the same function at the plain network's cost
    const size_t merged = tt::merge_lora(*fresh);
    double merge_diff = 0;
    for (const auto& b : test) {
      auto y0 = model->forward(b.images).to_vector(), y1 = fresh->forward(b.images).to_vector();
      for (size_t i = 0; i < y0.size(); ++i) merge_diff = std::max(merge_diff, double(std::fabs(y0[i] - y1[i])));
    }
    std::printf("merged %zu LoRA layers into their base weights: max |logit difference| %g (float rounding)\n", merged,
                merge_diff);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_main(kProg, [&] { return run(parse(argc, argv)); });
}
