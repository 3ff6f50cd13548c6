#pragma once
// CIFAR-10 and ResNet plumbing shared by the transfer examples: the dataset with --limit, the
// transforms for a given input size, a ResNet by name, and accuracy over a loader.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <tl/tl.hpp>
#include <tl/train/train.hpp>

#include "args.hpp"

namespace ex {

inline constexpr const char* kCifarWhat =
    "a CIFAR-10 binary directory: data_batch_1..5.bin and test_batch.bin, as in cifar-10-batches-bin";

struct Cifar {
  tl::data::Dataset::Ptr train, test;
};

/// The first n examples of ds (all when n <= 0 or n >= size).
inline tl::data::Dataset::Ptr first_n(tl::data::Dataset::Ptr ds, int64_t n) {
  if (n <= 0 || n >= ds->size()) return ds;
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  return tl::data::subset(std::move(ds), std::move(idx));
}

/// CIFAR-10 from --data DIR; a missing directory or file is a usage error (exit 2).
inline Cifar load_cifar10(const std::string& dir, int64_t limit, int64_t test_limit) {
  namespace fs = std::filesystem;
  require_dir("--data", dir, kCifarWhat);
  for (const char* f : {"data_batch_1.bin", "test_batch.bin"})
    if (!fs::is_regular_file(fs::path(dir) / f))
      usage_error("--data '", dir, "' has no ", f, " (expected ", kCifarWhat, ")");
  return {first_n(tl::data::CIFAR10(dir, true), limit), first_n(tl::data::CIFAR10(dir, false), test_limit)};
}

/// Training transform: resize to size x size (CIFAR is 32x32), random crop with size/8 padding and
/// horizontal flip when augmenting, then ImageNet's normalisation (what pretrained weights expect).
inline tl::data::TransformFn train_transform(int64_t size, bool augment, bool normalize = true) {
  tl::data::Compose c;
  if (size != 32) c.push_back(tl::data::Resize(size, size));
  if (augment) {
    c.push_back(tl::data::RandomCrop(size, size / 8));
    c.push_back(tl::data::RandomHorizontalFlip());
  }
  if (normalize) c.push_back(tl::data::Normalize::imagenet());
  if (c.size() == 0) return {};
  return c;
}

inline tl::data::TransformFn eval_transform(int64_t size, bool normalize = true) {
  return train_transform(size, false, normalize);
}

inline const std::vector<std::string>& resnet_archs() {
  static const std::vector<std::string> a = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                             "resnext50_32x4d", "wide_resnet50_2"};
  return a;
}

/// A torchvision-shaped ResNet with `classes` outputs, initialised from a generator seeded `seed`.
inline std::shared_ptr<tl::models::ResNet<float>> make_resnet(const std::string& arch, int64_t classes, uint64_t seed) {
  tl::Generator gen(seed);
  return tl::models::resnet_by_name<float>(arch, classes, {.generator = &gen});
}

/// Loads a pretrained file into `model`, skipping a head of another shape; prints what happened.
inline tl::transfer::BackboneLoadReport load_pretrained(tl::models::ResNet<float>& model, const std::string& path,
                                                        const std::string& arch) {
  tl::transfer::BackboneLoadReport r;
  try {
    r = tl::transfer::load_backbone(model, path);
  } catch (const tl::Error& e) {
    std::string msg = e.what();
    if (msg.find("do not fit") == std::string::npos) throw;
    // the first line has the counts; the lists of names that follow can run to hundreds
    throw tl::Error(msg.substr(0, msg.find('\n')) + " (is '" + path + "' a " + arch + " weights file? see --arch)");
  }
  std::printf("loaded %zu tensors from %s", r.loaded.size(), path.c_str());
  if (!r.skipped.empty()) {
    std::printf("; new head, skipped:");
    for (const auto& s : r.skipped) std::printf(" %s", s.c_str());
  }
  std::printf("\n");
  return r;
}

inline tl::train::ProgressMode progress_mode(bool plain, bool quiet) {
  return quiet ? tl::train::ProgressMode::kQuiet : plain ? tl::train::ProgressMode::kPlain : tl::train::ProgressMode::kAuto;
}

/// Top-1 accuracy (0..1) of forward(x) over a loader, in eval mode without a graph.
template <class Forward>
double accuracy(Forward&& forward, tl::data::DataLoader& loader) {
  tl::NoGradGuard no_grad;
  int64_t correct = 0, seen = 0;
  for (const auto& b : loader) {
    auto pred = forward(b.images).argmax(1);
    for (int64_t i = 0; i < b.size(); ++i) correct += pred.data()[i] == b.labels.data()[i];
    seen += b.size();
  }
  return seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
}

inline double accuracy(tl::nn::Module<float>& model, tl::data::DataLoader& loader) {
  tl::transfer::EvalModeGuard<float> eval(model);
  return accuracy([&](const tl::Tensor<float>& x) { return model.forward(x); }, loader);
}

/// "12.3 MB" for a file.
inline std::string file_size_str(const std::string& path) {
  char buf[32];
  const double b = static_cast<double>(std::filesystem::file_size(path));
  if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  return buf;
}

}  // namespace ex
