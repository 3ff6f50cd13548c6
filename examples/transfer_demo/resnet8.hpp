#pragma once
// The demo's ResNet-8 (16/32/64 channels) and its residual adapter, built from tl::nn pieces.
// Names and order follow examples/transfer_demo_pytorch.py, so a state dict means the same in both.
#include <memory>
#include <string>

#include <tl/tl.hpp>

namespace demo {

using Mod = tl::nn::Module<float>;
using Tensor = tl::Tensor<float>;

inline std::shared_ptr<tl::nn::Conv2d<float>> conv(int64_t cin, int64_t cout, int64_t k, int64_t stride) {
  return std::make_shared<tl::nn::Conv2d<float>>(cin, cout, k, stride, k / 2, 1, 1, /*bias=*/false);
}

/// Residual adapter (Rebuffi et al., 2017): a 1x1 conv + BN in parallel with a 3x3 conv.
/// The BN's weight starts at zero, so the adapted network starts as the pretrained one.
class Adapter : public Mod {
 public:
  std::shared_ptr<Mod> conv;
  std::shared_ptr<tl::nn::Sequential<float>> adapter;
  Adapter(std::shared_ptr<tl::nn::Conv2d<float>> base) {
    conv = register_module("conv", std::shared_ptr<Mod>(base));
    auto bn = std::make_shared<tl::nn::BatchNorm2d<float>>(base->out_channels);
    adapter = register_module("adapter", std::make_shared<tl::nn::Sequential<float>>(std::vector<std::shared_ptr<Mod>>{
                                             demo::conv(base->in_channels, base->out_channels, 1, base->stride.h), bn}));
    tl::NoGradGuard g;
    bn->weight.fill_(0.f);
  }
  Tensor forward(const Tensor& x) override { return tl::add(conv->forward(x), adapter->forward(x)); }
  std::string type_name() const override { return "Adapter"; }
};

/// torchvision's BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, plus identity or 1x1 conv+BN shortcut, ReLU.
class Block : public Mod {
 public:
  std::shared_ptr<Mod> conv1, bn1, conv2, bn2, downsample;
  Block(int64_t cin, int64_t cout, int64_t stride) {
    conv1 = register_module("conv1", std::shared_ptr<Mod>(conv(cin, cout, 3, stride)));
    bn1 = register_module("bn1", std::shared_ptr<Mod>(std::make_shared<tl::nn::BatchNorm2d<float>>(cout)));
    conv2 = register_module("conv2", std::shared_ptr<Mod>(conv(cout, cout, 3, 1)));
    bn2 = register_module("bn2", std::shared_ptr<Mod>(std::make_shared<tl::nn::BatchNorm2d<float>>(cout)));
    if (stride != 1 || cin != cout)
      downsample = register_module(
          "downsample", std::shared_ptr<Mod>(std::make_shared<tl::nn::Sequential<float>>(std::vector<std::shared_ptr<Mod>>{
                            conv(cin, cout, 1, stride), std::make_shared<tl::nn::BatchNorm2d<float>>(cout)})));
  }
  Tensor forward(const Tensor& x) override {
    auto out = bn1->forward(conv1->forward(x)).relu();
    out = bn2->forward(conv2->forward(out));
    return tl::add(out, downsample ? downsample->forward(x) : x).relu();
  }
  /// Puts a residual adapter beside both 3x3 convs (the convs themselves are kept as they are).
  void add_adapters() {
    conv1 = replace_module("conv1", std::shared_ptr<Mod>(
                                        std::make_shared<Adapter>(std::dynamic_pointer_cast<tl::nn::Conv2d<float>>(conv1))));
    conv2 = replace_module("conv2", std::shared_ptr<Mod>(
                                        std::make_shared<Adapter>(std::dynamic_pointer_cast<tl::nn::Conv2d<float>>(conv2))));
  }
  std::string type_name() const override { return "BasicBlock"; }
};

class ResNet8 : public Mod {
 public:
  std::shared_ptr<Mod> conv1, bn1;
  std::shared_ptr<Block> layer1, layer2, layer3;
  std::shared_ptr<tl::nn::Linear<float>> fc;
  explicit ResNet8(int64_t num_classes) {
    conv1 = register_module("conv1", std::shared_ptr<Mod>(conv(1, 16, 3, 1)));
    bn1 = register_module("bn1", std::shared_ptr<Mod>(std::make_shared<tl::nn::BatchNorm2d<float>>(16)));
    layer1 = register_module("layer1", std::make_shared<Block>(16, 16, 1));
    layer2 = register_module("layer2", std::make_shared<Block>(16, 32, 2));
    layer3 = register_module("layer3", std::make_shared<Block>(32, 64, 2));
    fc = register_module("fc", std::make_shared<tl::nn::Linear<float>>(64, num_classes));
  }
  /// A ResNet-8 with torchvision's init: kaiming normal (fan_out, relu) for the convs, in module
  /// order; BN 1/0 and Linear's default stay. (named_modules needs the object in a shared_ptr.)
  static std::shared_ptr<ResNet8> make(int64_t num_classes) {
    auto m = std::make_shared<ResNet8>(num_classes);
    for (auto& [name, mod] : m->named_modules())
      if (auto c = std::dynamic_pointer_cast<tl::nn::Conv2d<float>>(mod))
        tl::nn::init::kaiming_normal_(c->weight, 0.0, "fan_out", "relu");
    return m;
  }
  /// Globally average-pooled features [N, 64].
  Tensor features(const Tensor& x) {
    auto h = bn1->forward(conv1->forward(x)).relu();
    h = layer3->forward(layer2->forward(layer1->forward(h)));
    return h.mean({2, 3});
  }
  Tensor forward(const Tensor& x) override { return fc->forward(features(x)); }
  /// A new head for `n` classes (PyTorch's default Linear init).
  void new_head(int64_t n) { fc = replace_module("fc", std::make_shared<tl::nn::Linear<float>>(64, n)); }
  std::string type_name() const override { return "ResNet8"; }
};

}  // namespace demo
