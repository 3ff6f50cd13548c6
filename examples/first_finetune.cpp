// A first fine-tune (docs/getting-started.md shows this file): a pretrained ResNet-18 gets a new
// 10-class head, its early layers are frozen, and the rest trains on CIFAR-10 with a smaller
// learning rate for the backbone than for the head.
//   first_finetune resnet18.pth cifar-10-batches-bin [epochs] [out.safetensors]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <tl/tl.hpp>

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::fprintf(stderr, "usage: first_finetune WEIGHTS(.pth|.safetensors) CIFAR10_BIN_DIR [EPOCHS] [OUT.safetensors]\n");
    return 2;
  }
  const int64_t epochs = argc > 3 ? std::atoll(argv[3]) : 1;
  if (epochs < 1) {
    std::fprintf(stderr, "first_finetune: EPOCHS must be an integer >= 1, got '%s'\n", argv[3]);
    return 2;
  }
  const std::string out = argc > 4 ? argv[4] : "finetuned.safetensors";
  tl::manual_seed(0);

  // The pretrained network, with a fresh head for 10 classes (the file's fc.* has another shape
  // and is skipped; every other tensor must match, or load_backbone throws naming it).
  auto model = tl::models::resnet18<float>(10);
  auto report = tl::transfer::load_backbone(*model, argv[1]);
  std::printf("weights: %s\n", report.str().c_str());

  // Freeze the stem and the first stage (their BatchNorms keep their pretrained statistics).
  for (const char* pattern : {"conv1.*", "bn1.*", "layer1.*"}) tl::transfer::freeze(*model, pattern);
  tl::transfer::freeze_batchnorm(*model, "bn1");       // module names, not parameter names
  tl::transfer::freeze_batchnorm(*model, "layer1.*");
  std::printf("parameters: %s\n",
              tl::transfer::format_parameter_count(tl::transfer::count_parameters(*model)).c_str());

  // The data, normalised as the pretrained weights expect, flipped at random for training.
  namespace td = tl::data;
  auto train_set = td::CIFAR10(argv[2], /*train=*/true), test_set = td::CIFAR10(argv[2], /*train=*/false);
  td::DataLoader train(train_set, {.batch_size = 64, .shuffle = true},
                       td::Compose{td::RandomHorizontalFlip(), td::Normalize::imagenet()});
  td::DataLoader test(test_set, {.batch_size = 128}, td::Compose{td::Normalize::imagenet()});

  // Head at lr 0.01, backbone at 0.001; SGD with momentum; a cosine schedule over the epochs.
  auto groups = tl::transfer::param_groups_by_pattern(*model, {{"fc.*", 0.01}, {"*", 0.001}});
  tl::optim::SGD<float> opt(groups, {.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4});
  tl::optim::CosineAnnealingLR sched(opt, epochs);
  tl::train::fit(*model, opt, train, {.epochs = epochs, .scheduler = &sched, .val_loader = &test});

  auto result = tl::train::evaluate<float>(*model, test);
  std::printf("test accuracy: %.2f%% (%lld images)\n", 100 * result.top1, static_cast<long long>(result.count));
  tl::io::save_safetensors(out, model->state_dict());  // torchvision's names: PyTorch loads this file
  std::printf("saved %s\n", out.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "first_finetune: %s\n", e.what());
  return 1;
}
