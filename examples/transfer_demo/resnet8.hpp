#pragma once
// The demo's ResNet-8 (16/32/64 channels): a stem and three of tl::models' BasicBlocks, so
// tl::transfer (add_adapters, load_backbone, freezing) works on it as on any tl ResNet. Names and
// order follow examples/transfer_demo_pytorch.py, so a state dict means the same in both.
#include <memory>
#include <string>

#include <tl/tl.hpp>

namespace demo {

using Mod = tl::nn::Module<float>;
using Tensor = tl::Tensor<float>;
using Block = tl::models::BasicBlock<float>;

inline std::shared_ptr<tl::nn::Conv2d<float>> conv(int64_t cin, int64_t cout, int64_t k, int64_t stride) {
  return std::make_shared<tl::nn::Conv2d<float>>(cin, cout, k, stride, k / 2, 1, 1, /*bias=*/false);
}

/// torchvision's BasicBlock with a 1x1 conv + BN shortcut when the shape changes.
inline std::shared_ptr<Block> block(int64_t cin, int64_t cout, int64_t stride) {
  std::shared_ptr<tl::nn::Sequential<float>> down;
  if (stride != 1 || cin != cout)
    down = std::make_shared<tl::nn::Sequential<float>>(
        std::vector<std::shared_ptr<Mod>>{conv(cin, cout, 1, stride), std::make_shared<tl::nn::BatchNorm2d<float>>(cout)});
  return std::make_shared<Block>(cin, cout, stride, down);
}

class ResNet8 : public Mod {
 public:
  std::shared_ptr<tl::nn::Conv2d<float>> conv1;
  std::shared_ptr<tl::nn::BatchNorm2d<float>> bn1;
  std::shared_ptr<Block> layer1, layer2, layer3;
  std::shared_ptr<tl::nn::Linear<float>> fc;
  explicit ResNet8(int64_t num_classes) {
    conv1 = register_module("conv1", conv(1, 16, 3, 1));
    bn1 = register_module("bn1", std::make_shared<tl::nn::BatchNorm2d<float>>(16));
    layer1 = register_module("layer1", block(16, 16, 1));
    layer2 = register_module("layer2", block(16, 32, 2));
    layer3 = register_module("layer3", block(32, 64, 2));
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
  std::string type_name() const override { return "ResNet8"; }
};

}  // namespace demo
