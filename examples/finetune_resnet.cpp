// finetune_resnet: the classic transfer recipe. A pretrained ResNet (.pth or .safetensors, e.g.
// torchvision's ImageNet weights) gets a new 10-class head and is fine-tuned on CIFAR-10; prints the
// test accuracy, and optionally saves the result.
//
//   ./finetune_resnet --weights resnet18.pth --data cifar-10-batches-bin --epochs 3 --image-size 64
//   ./finetune_resnet --weights resnet18.pth --data ... --freeze 'conv1.*,bn1.*,layer1.*'   # early layers fixed
//   ./finetune_resnet --weights resnet18.pth --data ... --linear-probe                       # head only, cached features
//   ./finetune_resnet --weights resnet50.safetensors --arch resnet50 --data ... --save cifar_resnet50.safetensors
//
// The backbone trains at --lr x --backbone-lr-mult (parameter groups by name), the new head at --lr.
// BatchNorms whose parameters are all frozen stay in eval mode (their running statistics are the
// pretrained ones, untouched by CIFAR batches).
#include <cstdio>
#include <string>
#include <vector>

#include "common/args.hpp"
#include "common/cifar.hpp"

namespace {

constexpr const char* kProg = "finetune_resnet";

struct Args {
  std::string weights, data, arch = "resnet18", save, metrics;
  std::vector<std::string> freeze;
  bool linear_probe = false, augment = true, plain = false, quiet = false;
  int64_t epochs = 3, batch_size = 64, image_size = 32, limit = 0, test_limit = 0, workers = 2;
  double lr = 0.01, backbone_lr_mult = 0.1, weight_decay = 5e-4;
  uint64_t seed = 0;
};

void usage() {
  std::printf(
      "usage: %s --weights FILE --data DIR [options]\n"
      "Fine-tunes a pretrained ResNet on CIFAR-10 with a new 10-class head; prints test accuracy.\n\n"
      "  --weights FILE          pretrained weights, .pth (torch.save of a state_dict) or .safetensors,\n"
      "                          with torchvision's names; a head of another size is skipped.\n"
      "                          'none': random init (the from-scratch baseline)\n"
      "  --arch NAME             resnet18 (default), resnet34, resnet50, resnet101, resnet152,\n"
      "                          resnext50_32x4d, wide_resnet50_2: must match the weights\n"
      "  --data DIR              CIFAR-10 binary directory (cifar-10-batches-bin)\n"
      "  --epochs N              (default 3)\n"
      "  --batch-size N          (default 64)\n"
      "  --lr X                  the head's learning rate, SGD momentum 0.9, cosine schedule (default 0.01)\n"
      "  --backbone-lr-mult X    the backbone trains at lr * X (default 0.1; 1 = one lr for all)\n"
      "  --weight-decay X        (default 5e-4)\n"
      "  --freeze P[,P...]       freeze parameters whose names match these globs, e.g. 'conv1.*,bn1.*,layer1.*'\n"
      "  --linear-probe          freeze the whole backbone, compute its features once, train the head on them\n"
      "  --image-size N          resize the 32x32 images to N x N (default 32; pretrained nets like 64+)\n"
      "  --no-augment            no random crop / flip\n"
      "  --limit N               use the first N training images (quick runs)\n"
      "  --test-limit N          use the first N test images\n"
      "  --workers N             data-loading threads (default 2)\n"
      "  --seed N                head init, shuffling, augmentation (default 0)\n"
      "  --save FILE             write the fine-tuned model (.safetensors)\n"
      "  --metrics FILE          per-epoch metrics as JSON lines (+ .csv, .svg next to it)\n"
      "  --plain                 one line per epoch even on a terminal\n"
      "  --quiet                 only the final result\n"
      "  --help                  this text\n",
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
    else if (r.is("--epochs")) a.epochs = r.integer(1);
    else if (r.is("--batch-size")) a.batch_size = r.integer(1);
    else if (r.is("--lr")) a.lr = r.real(0);
    else if (r.is("--backbone-lr-mult")) a.backbone_lr_mult = r.real(0);
    else if (r.is("--weight-decay")) a.weight_decay = r.real(0);
    else if (r.is("--freeze")) a.freeze = r.list();
    else if (r.is("--linear-probe")) a.linear_probe = true;
    else if (r.is("--image-size")) a.image_size = r.integer(8, 1024);
    else if (r.is("--no-augment")) a.augment = false;
    else if (r.is("--limit")) a.limit = r.integer(1);
    else if (r.is("--test-limit")) a.test_limit = r.integer(1);
    else if (r.is("--workers")) a.workers = r.integer(0, 64);
    else if (r.is("--seed")) a.seed = static_cast<uint64_t>(r.integer(0));
    else if (r.is("--save")) a.save = r.str();
    else if (r.is("--metrics")) a.metrics = r.str();
    else if (r.is("--plain")) a.plain = true;
    else if (r.is("--quiet")) a.quiet = true;
    else r.unknown();
  }
  if (a.weights.empty()) ex::usage_error("--weights is required (a pretrained ResNet file, or 'none'; see --help)");
  if (a.weights != "none") ex::require_file("--weights", a.weights, "a .pth or .safetensors ResNet weights file");
  if (a.data.empty()) ex::usage_error("--data is required (", ex::kCifarWhat, ")");
  if (!a.save.empty()) ex::require_safetensors_output("--save", a.save);
  if (a.linear_probe && !a.freeze.empty()) ex::usage_error("--linear-probe already freezes the backbone; drop --freeze");
  return a;
}

/// Freezes the parameters matching each glob; a glob that matches nothing is a usage error.
void freeze_patterns(tl::models::ResNet<float>& model, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    bool any = false;
    for (auto& [name, t] : model.named_parameters()) any = any || tl::transfer::glob_match(p, name);
    if (!any)
      ex::usage_error("--freeze pattern '", p, "' matches no parameter (names look like conv1.weight, ",
                      "layer1.0.conv1.weight, fc.bias)");
    tl::transfer::freeze(model, p);
  }
  // a BatchNorm with every parameter frozen keeps its pretrained running statistics too
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<tl::nn::BatchNorm<float>*>(m.get())) {
      bool frozen = true;
      for (auto& t : bn->parameters()) frozen = frozen && !t.requires_grad();
      if (frozen) tl::transfer::freeze_batchnorm(model, name);
    }
}

int run(const Args& a) {
  auto data = ex::load_cifar10(a.data, a.limit, a.test_limit);
  tl::manual_seed(a.seed);
  auto model = ex::make_resnet(a.arch, 10, a.seed);
  if (a.weights != "none") ex::load_pretrained(*model, a.weights, a.arch);
  else std::printf("no pretrained weights: %s from random init (the from-scratch baseline)\n", a.arch.c_str());

  tl::data::DataLoader test(data.test, {.batch_size = 128, .num_workers = int(a.workers)}, ex::eval_transform(a.image_size));
  std::printf("CIFAR-10: %lld training and %lld test images at %lldx%lld\n", (long long)data.train->size(),
              (long long)data.test->size(), (long long)a.image_size, (long long)a.image_size);

  if (a.linear_probe) {
    // frozen backbone, no augmentation: its features are computed once, then only the head trains
    tl::transfer::freeze(*model);
    tl::transfer::freeze_batchnorm(*model);
    tl::transfer::unfreeze(*model, "fc.*");
    std::printf("linear probe: %s\n", tl::transfer::format_parameter_count(tl::transfer::count_parameters(*model)).c_str());
    tl::transfer::EpochTimer timer;
    timer.start();
    tl::data::DataLoader train(data.train, {.batch_size = 256, .num_workers = int(a.workers)},
                               ex::eval_transform(a.image_size));
    std::vector<tl::Tensor<float>> feats;
    std::vector<tl::Tensor<int64_t>> labels;
    for (const auto& b : train) {
      feats.push_back(tl::transfer::extract_features(*model, b.images));
      labels.push_back(b.labels);
    }
    auto f = tl::cat(feats, 0);
    auto y = tl::cat(labels, 0);
    std::printf("features: %s cached in %.1fs\n", tl::shape_str(f.shape()).c_str(), timer.stop());
    timer.start();
    auto losses = tl::transfer::linear_probe(f, y, *model->fc,
                                             {.epochs = a.epochs, .batch_size = a.batch_size, .lr = a.lr,
                                              .weight_decay = a.weight_decay, .seed = a.seed});
    const double secs = timer.stop();
    for (size_t e = 0; e < losses.size() && !a.quiet; ++e)
      std::printf("epoch %zu/%zu: head loss %.4f\n", e + 1, losses.size(), losses[e]);
    std::printf("head trained in %.2fs (%.3fs per epoch)\n", secs, secs / double(a.epochs));
  } else {
    freeze_patterns(*model, a.freeze);
    if (a.backbone_lr_mult == 0) {  // lr 0 would still cost the backward pass: freeze instead
      tl::transfer::freeze(*model, "*");
      tl::transfer::freeze_batchnorm(*model);
      tl::transfer::unfreeze(*model, "fc.*");
    }
    std::printf("parameters: %s\n", tl::transfer::format_parameter_count(tl::transfer::count_parameters(*model)).c_str());
    auto groups = tl::transfer::param_groups_by_pattern(*model, {{"fc.*", a.lr}, {"*", a.lr * a.backbone_lr_mult}});
    tl::optim::SGD<float> opt(groups, {.lr = a.lr, .momentum = 0.9, .weight_decay = a.weight_decay});
    tl::optim::CosineAnnealingLR sched(opt, a.epochs);
    tl::data::DataLoader train(data.train,
                               {.batch_size = a.batch_size, .shuffle = true, .num_workers = int(a.workers), .seed = a.seed},
                               ex::train_transform(a.image_size, a.augment));
    std::printf("fine-tuning %lld epochs of %lld steps: head lr %g, backbone lr %g\n", (long long)a.epochs,
                (long long)train.size(), a.lr, a.lr * a.backbone_lr_mult);
    auto history = tl::train::fit(*model, opt, train,
                                  {.epochs = a.epochs,
                                   .scheduler = &sched,
                                   .val_loader = &test,
                                   .progress = ex::progress_mode(a.plain, a.quiet),
                                   .metrics_path = a.metrics});
    double secs = 0;
    for (const auto& h : history) secs += h.seconds;
    std::printf("time per epoch: %.2fs (training only)\n", secs / double(history.size()));
  }

  auto result = tl::train::evaluate<float>(*model, test);
  std::printf("test accuracy: top-1 %.2f%%, top-5 %.2f%% (%lld images)\n", 100 * result.top1, 100 * result.top5,
              (long long)result.count);
  if (!a.save.empty()) {
    tl::io::save_safetensors(a.save, model->state_dict(), {{"arch", a.arch}, {"num_classes", "10"}});
    std::printf("saved %s (%s)\n", a.save.c_str(), ex::file_size_str(a.save).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_main(kProg, [&] { return run(parse(argc, argv)); });
}
