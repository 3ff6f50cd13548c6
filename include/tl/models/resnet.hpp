#pragma once
// tl::models::ResNet: torchvision's ResNet family (He et al. 2016; ResNeXt, Wide ResNet), built
// module for module as torchvision 0.14 builds it, so that named_parameters() / state_dict() have
// torchvision's names, order and shapes and its published weights load as they are:
//
//   conv1.weight, bn1.{weight,bias,running_mean,running_var,num_batches_tracked},
//   layer{1..4}.{i}.conv{1,2[,3]}.weight, layer{1..4}.{i}.bn{1,2[,3]}.*,
//   layer{2..4}.0.downsample.{0.weight,1.*} (and layer1.0 for Bottleneck nets), fc.{weight,bias}.
//
//   auto model = tl::models::resnet50(1000);   // std::shared_ptr<tl::models::ResNet<float>>
//   auto logits = model->forward(x);          // [N, 1000]
//   auto emb = model->features(x);            // [N, 2048], the pooled embedding
//   model->reset_classifier(10);              // a new head for another task
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tl/nn/module.hpp"  // first: the layers below build on it
#include "tl/nn/activation.hpp"
#include "tl/nn/batch_norm.hpp"
#include "tl/nn/conv2d.hpp"
#include "tl/nn/conv_bn.hpp"
#include "tl/nn/init.hpp"
#include "tl/nn/linear.hpp"
#include "tl/nn/pooling.hpp"
#include "tl/nn/sequential.hpp"
#include "tl/ops/add_relu.hpp"
#include "tl/ops/binary.hpp"
#include "tl/ops/unary.hpp"

namespace tl::models {

/// Choices beyond torchvision's arguments are marked; defaults give torchvision's network.
struct ResNetOptions {
  /// (tl) Stem for small images (CIFAR 32x32, MNIST 28x28): conv1 is 3x3 stride 1 padding 1 and
  /// there is no max-pool, so layer1 sees the full resolution. conv1.weight becomes [64, C, 3, 3].
  bool small_input = false;
  /// Zero the weight of the last BN in each residual branch, so every block starts as the identity.
  bool zero_init_residual = false;
  /// Bottleneck groups (ResNeXt's cardinality) and width per group (64 = plain, 128 = Wide ResNet).
  int64_t groups = 1;
  int64_t width_per_group = 64;
  /// (tl) Input channels of conv1 (1 for grayscale images); torchvision's nets take 3.
  int64_t in_channels = 3;
  /// Randomness for the initialisation; tl::default_generator() when null.
  Generator* generator = nullptr;
};

namespace detail {
/// torchvision's conv3x3: padding = dilation, no bias (a BN follows).
template <class T>
std::shared_ptr<nn::Conv2d<T>> conv3x3(int64_t in, int64_t out, int64_t stride = 1, int64_t groups = 1,
                                       int64_t dilation = 1) {
  return std::make_shared<nn::Conv2d<T>>(in, out, 3, stride, dilation, dilation, groups, false);
}
/// The residual shortcut: x, or downsample(x); a torchvision downsample (conv1x1 + BN) goes
/// through nn::conv_bn_forward (one pass at inference).
template <class T>
Tensor<T> shortcut(const std::shared_ptr<nn::Sequential<T>>& downsample, const Tensor<T>& x) {
  if (!downsample) return x;
  if (downsample->size() == 2) {
    auto conv = std::dynamic_pointer_cast<nn::Conv2d<T>>(downsample->at(0));
    auto bn = std::dynamic_pointer_cast<nn::BatchNorm<T>>(downsample->at(1));
    if (conv && bn) return nn::conv_bn_forward(*conv, *bn, x, false);
  }
  return downsample->forward(x);
}
/// torchvision's conv1x1, no bias.
template <class T>
std::shared_ptr<nn::Conv2d<T>> conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return std::make_shared<nn::Conv2d<T>>(in, out, 1, stride, 0, 1, 1, false);
}
}  // namespace detail

/// Two 3x3 convolutions (ResNet-18/34). Children in torchvision's order: conv1, bn1, relu, conv2,
/// bn2, downsample. The stride, when any, is on conv1.
template <class T>
class BasicBlock : public nn::Module<T> {
 public:
  static constexpr int64_t expansion = 1;
  std::shared_ptr<nn::Conv2d<T>> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d<T>> bn1, bn2;
  std::shared_ptr<nn::ReLU<T>> relu;
  std::shared_ptr<nn::Sequential<T>> downsample;  // null when the shortcut is the identity

  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride = 1,
             std::shared_ptr<nn::Sequential<T>> downsample_ = nullptr, int64_t groups = 1, int64_t base_width = 64,
             int64_t dilation = 1) {
    TL_CHECK(groups == 1 && base_width == 64, "BasicBlock: only supports groups=1 and base_width=64 (got groups=",
             groups, ", base_width=", base_width, "); ResNeXt and Wide ResNet use Bottleneck");
    TL_CHECK(dilation == 1, "BasicBlock: dilation > 1 is not supported (got ", dilation, ")");
    conv1 = this->register_module("conv1", detail::conv3x3<T>(inplanes, planes, stride));
    bn1 = this->register_module("bn1", std::make_shared<nn::BatchNorm2d<T>>(planes));
    relu = this->register_module("relu", std::make_shared<nn::ReLU<T>>());
    conv2 = this->register_module("conv2", detail::conv3x3<T>(planes, planes));
    bn2 = this->register_module("bn2", std::make_shared<nn::BatchNorm2d<T>>(planes));
    if (downsample_) downsample = this->register_module("downsample", std::move(downsample_));
  }

  // conv_bn_forward and conv_bn_add_relu_forward: conv+BN(+shortcut)(+ReLU) as one pass at
  // inference; in training BN+ReLU fused and relu(. + shortcut) in one pass. The relu child is kept for torchvision's structure
  // and names; it holds no state.
  Tensor<T> forward(const Tensor<T>& x) override {
    auto out = nn::conv_bn_forward(*conv1, *bn1, x, true);
    return nn::conv_bn_add_relu_forward(*conv2, *bn2, out, detail::shortcut(downsample, x));
  }
  /// The BN whose weight zero_init_residual zeroes.
  std::shared_ptr<nn::BatchNorm2d<T>> last_bn() const { return bn2; }
  std::string type_name() const override { return "BasicBlock"; }
};

/// 1x1 -> 3x3 (stride, groups) -> 1x1 expanding 4x (ResNet-50 and deeper, "ResNet v1.5": the stride
/// is on the 3x3 conv2, as in torchvision). Children: conv1, bn1, conv2, bn2, conv3, bn3, relu,
/// downsample. Inner width = int(planes * base_width / 64) * groups.
template <class T>
class Bottleneck : public nn::Module<T> {
 public:
  static constexpr int64_t expansion = 4;
  std::shared_ptr<nn::Conv2d<T>> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d<T>> bn1, bn2, bn3;
  std::shared_ptr<nn::ReLU<T>> relu;
  std::shared_ptr<nn::Sequential<T>> downsample;  // null when the shortcut is the identity

  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1,
             std::shared_ptr<nn::Sequential<T>> downsample_ = nullptr, int64_t groups = 1, int64_t base_width = 64,
             int64_t dilation = 1) {
    TL_CHECK(groups > 0 && base_width > 0, "Bottleneck: groups and base_width must be positive (got ", groups, ", ",
             base_width, ")");
    // torchvision computes int(planes * (base_width / 64.0)) * groups; integer math gives the same.
    const int64_t width = planes * base_width / 64 * groups;
    TL_CHECK(width > 0, "Bottleneck: inner width is 0 for planes=", planes, ", base_width=", base_width);
    conv1 = this->register_module("conv1", detail::conv1x1<T>(inplanes, width));
    bn1 = this->register_module("bn1", std::make_shared<nn::BatchNorm2d<T>>(width));
    conv2 = this->register_module("conv2", detail::conv3x3<T>(width, width, stride, groups, dilation));
    bn2 = this->register_module("bn2", std::make_shared<nn::BatchNorm2d<T>>(width));
    conv3 = this->register_module("conv3", detail::conv1x1<T>(width, planes * expansion));
    bn3 = this->register_module("bn3", std::make_shared<nn::BatchNorm2d<T>>(planes * expansion));
    relu = this->register_module("relu", std::make_shared<nn::ReLU<T>>());
    if (downsample_) downsample = this->register_module("downsample", std::move(downsample_));
  }

  Tensor<T> forward(const Tensor<T>& x) override {  // fused as in BasicBlock
    auto out = nn::conv_bn_forward(*conv1, *bn1, x, true);
    out = nn::conv_bn_forward(*conv2, *bn2, out, true);
    return nn::conv_bn_add_relu_forward(*conv3, *bn3, out, detail::shortcut(downsample, x));
  }
  std::shared_ptr<nn::BatchNorm2d<T>> last_bn() const { return bn3; }
  std::string type_name() const override { return "Bottleneck"; }
};

enum class ResNetBlock { basic, bottleneck };

/// The network: stem (conv1, bn1, relu, maxpool), layer1..layer4 (Sequential of blocks named
/// "0", "1", ...), avgpool, fc. One class for every depth and block type.
template <class T>
class ResNet : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Conv2d<T>> conv1;
  std::shared_ptr<nn::BatchNorm2d<T>> bn1;
  std::shared_ptr<nn::ReLU<T>> relu;
  std::shared_ptr<nn::MaxPool2d<T>> maxpool;  // null with options.small_input
  std::shared_ptr<nn::Sequential<T>> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::AdaptiveAvgPool2d<T>> avgpool;
  /// The classifier head, [num_classes, feature_dim()]. Replace it with reset_classifier(), which
  /// also updates the module registry (state_dict, parameters()).
  std::shared_ptr<nn::Linear<T>> fc;

  ResNet(ResNetBlock block, std::array<int64_t, 4> layers, int64_t num_classes = 1000, ResNetOptions options = {})
      : block_(block), options_(options) {
    TL_CHECK(num_classes > 0, "ResNet: num_classes must be positive, got ", num_classes);
    TL_CHECK(options.in_channels > 0, "ResNet: in_channels must be positive, got ", options.in_channels);
    for (int64_t n : layers) TL_CHECK(n > 0, "ResNet: every layer needs at least one block, got ", n);
    const int64_t expansion = block == ResNetBlock::basic ? BasicBlock<T>::expansion : Bottleneck<T>::expansion;
    if (options.small_input)
      conv1 = this->register_module("conv1", std::make_shared<nn::Conv2d<T>>(options.in_channels, inplanes_, 3, 1, 1,
                                                                             1, 1, false));
    else
      conv1 = this->register_module("conv1", std::make_shared<nn::Conv2d<T>>(options.in_channels, inplanes_, 7, 2, 3,
                                                                             1, 1, false));
    bn1 = this->register_module("bn1", std::make_shared<nn::BatchNorm2d<T>>(inplanes_));
    relu = this->register_module("relu", std::make_shared<nn::ReLU<T>>());
    if (!options.small_input) maxpool = this->register_module("maxpool", std::make_shared<nn::MaxPool2d<T>>(3, 2, 1));
    layer1 = this->register_module("layer1", make_layer(64, layers[0], 1));
    layer2 = this->register_module("layer2", make_layer(128, layers[1], 2));
    layer3 = this->register_module("layer3", make_layer(256, layers[2], 2));
    layer4 = this->register_module("layer4", make_layer(512, layers[3], 2));
    avgpool = this->register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d<T>>(1));
    feature_dim_ = 512 * expansion;
    fc = this->register_module("fc", std::make_shared<nn::Linear<T>>(feature_dim_, num_classes));
    // Everything drawn from one generator, so options.generator alone makes the model reproducible.
    reset_parameters(options.generator ? *options.generator : default_generator());
  }

  /// torchvision's initialisation: convs kaiming_normal_(fan_out, relu), BN weight 1 and bias 0,
  /// zero_init_residual if asked, and the head Linear's default init (redrawn unless head is false).
  void reset_parameters(Generator& gen = default_generator(), bool head = true) {
    for_each_module(*this, [&](nn::Module<T>& m) {
      if (auto* c = dynamic_cast<nn::Conv2d<T>*>(&m)) {
        nn::init::kaiming_normal_(c->weight, 0.0, "fan_out", "relu", gen);
      } else if (auto* b = dynamic_cast<nn::BatchNorm2d<T>*>(&m)) {
        nn::init::ones_(b->weight);
        nn::init::zeros_(b->bias);
      }
    });
    if (options_.zero_init_residual)
      for_each_module(*this, [&](nn::Module<T>& m) {
        if (auto* b = dynamic_cast<Bottleneck<T>*>(&m)) nn::init::zeros_(b->last_bn()->weight);
        else if (auto* bb = dynamic_cast<BasicBlock<T>*>(&m)) nn::init::zeros_(bb->last_bn()->weight);
      });
    if (head) fc->reset_parameters(gen);
  }

  /// The pooled embedding [N, feature_dim()]: everything but the head.
  Tensor<T> features(const Tensor<T>& x) {
    TL_CHECK(x.dim() == 4, "ResNet: expected input [N, C, H, W], got shape ", shape_str(x.shape()));
    TL_CHECK(x.size(1) == options_.in_channels, "ResNet: expected ", options_.in_channels,
             " input channels, got shape ", shape_str(x.shape()));
    auto h = nn::conv_bn_forward(*conv1, *bn1, x, true);
    if (maxpool) h = maxpool->forward(h);
    h = layer4->forward(layer3->forward(layer2->forward(layer1->forward(h))));
    return avgpool->forward(h).flatten(1);
  }

  /// Logits [N, num_classes].
  Tensor<T> forward(const Tensor<T>& x) override { return fc->forward(features(x)); }

  /// Replaces the head with a freshly initialised Linear(feature_dim(), num_classes) (drawn from
  /// `gen` when given), both this member and the registered module "fc".
  std::shared_ptr<nn::Linear<T>> reset_classifier(int64_t num_classes, Generator* gen = nullptr) {
    TL_CHECK(num_classes > 0, "ResNet::reset_classifier: num_classes must be positive, got ", num_classes);
    auto head = std::make_shared<nn::Linear<T>>(feature_dim_, num_classes);
    if (gen) head->reset_parameters(*gen);
    fc = this->replace_module("fc", head);
    return fc;
  }

  /// Width of the embedding: 512 (BasicBlock) or 2048 (Bottleneck).
  int64_t feature_dim() const { return feature_dim_; }
  int64_t num_classes() const { return fc->out_features(); }
  ResNetBlock block() const { return block_; }
  const ResNetOptions& options() const { return options_; }
  std::string type_name() const override { return "ResNet"; }

 private:
  /// torchvision's _make_layer: the first block takes the stride and, when the shape changes, a
  /// downsample = Sequential(conv1x1(stride), BN) shortcut.
  std::shared_ptr<nn::Sequential<T>> make_layer(int64_t planes, int64_t blocks, int64_t stride) {
    const bool basic = block_ == ResNetBlock::basic;
    const int64_t expansion = basic ? BasicBlock<T>::expansion : Bottleneck<T>::expansion;
    std::shared_ptr<nn::Sequential<T>> downsample;
    if (stride != 1 || inplanes_ != planes * expansion) {
      downsample = std::make_shared<nn::Sequential<T>>();
      downsample->push_back(detail::conv1x1<T>(inplanes_, planes * expansion, stride));
      downsample->push_back(std::make_shared<nn::BatchNorm2d<T>>(planes * expansion));
    }
    auto seq = std::make_shared<nn::Sequential<T>>();
    for (int64_t i = 0; i < blocks; ++i) {
      const int64_t s = i == 0 ? stride : 1;
      auto ds = i == 0 ? downsample : nullptr;
      if (basic)
        seq->push_back(std::make_shared<BasicBlock<T>>(inplanes_, planes, s, ds, options_.groups,
                                                       options_.width_per_group));
      else
        seq->push_back(std::make_shared<Bottleneck<T>>(inplanes_, planes, s, ds, options_.groups,
                                                       options_.width_per_group));
      inplanes_ = planes * expansion;
    }
    return seq;
  }

  /// Depth-first over m and its descendants (works in the constructor, unlike named_modules()).
  template <class F>
  static void for_each_module(nn::Module<T>& m, F&& f) {
    f(m);
    for (auto& c : m.children()) for_each_module(*c, f);
  }

  ResNetBlock block_;
  ResNetOptions options_;
  int64_t inplanes_ = 64;
  int64_t feature_dim_ = 0;
};

namespace detail {
template <class T>
std::shared_ptr<ResNet<T>> make_resnet(ResNetBlock block, std::array<int64_t, 4> layers, int64_t num_classes,
                                       ResNetOptions options) {
  return std::make_shared<ResNet<T>>(block, layers, num_classes, options);
}
}  // namespace detail

// ---- the factories (torchvision's names and block counts) ----
template <class T = float>
std::shared_ptr<ResNet<T>> resnet18(int64_t num_classes = 1000, ResNetOptions options = {}) {
  return detail::make_resnet<T>(ResNetBlock::basic, {2, 2, 2, 2}, num_classes, options);
}
template <class T = float>
std::shared_ptr<ResNet<T>> resnet34(int64_t num_classes = 1000, ResNetOptions options = {}) {
  return detail::make_resnet<T>(ResNetBlock::basic, {3, 4, 6, 3}, num_classes, options);
}
template <class T = float>
std::shared_ptr<ResNet<T>> resnet50(int64_t num_classes = 1000, ResNetOptions options = {}) {
  return detail::make_resnet<T>(ResNetBlock::bottleneck, {3, 4, 6, 3}, num_classes, options);
}
template <class T = float>
std::shared_ptr<ResNet<T>> resnet101(int64_t num_classes = 1000, ResNetOptions options = {}) {
  return detail::make_resnet<T>(ResNetBlock::bottleneck, {3, 4, 23, 3}, num_classes, options);
}
template <class T = float>
std::shared_ptr<ResNet<T>> resnet152(int64_t num_classes = 1000, ResNetOptions options = {}) {
  return detail::make_resnet<T>(ResNetBlock::bottleneck, {3, 8, 36, 3}, num_classes, options);
}
/// ResNeXt-50 32x4d: groups and width_per_group are set to 32 and 4 (as torchvision overrides them).
template <class T = float>
std::shared_ptr<ResNet<T>> resnext50_32x4d(int64_t num_classes = 1000, ResNetOptions options = {}) {
  options.groups = 32;
  options.width_per_group = 4;
  return detail::make_resnet<T>(ResNetBlock::bottleneck, {3, 4, 6, 3}, num_classes, options);
}
/// Wide ResNet-50-2: bottlenecks twice as wide (width_per_group 128).
template <class T = float>
std::shared_ptr<ResNet<T>> wide_resnet50_2(int64_t num_classes = 1000, ResNetOptions options = {}) {
  options.groups = 1;
  options.width_per_group = 128;
  return detail::make_resnet<T>(ResNetBlock::bottleneck, {3, 4, 6, 3}, num_classes, options);
}

/// A factory by name ("resnet18", ..., "resnext50_32x4d", "wide_resnet50_2"), e.g. for command lines.
template <class T = float>
std::shared_ptr<ResNet<T>> resnet_by_name(const std::string& name, int64_t num_classes = 1000,
                                          ResNetOptions options = {}) {
  if (name == "resnet18") return resnet18<T>(num_classes, options);
  if (name == "resnet34") return resnet34<T>(num_classes, options);
  if (name == "resnet50") return resnet50<T>(num_classes, options);
  if (name == "resnet101") return resnet101<T>(num_classes, options);
  if (name == "resnet152") return resnet152<T>(num_classes, options);
  if (name == "resnext50_32x4d") return resnext50_32x4d<T>(num_classes, options);
  if (name == "wide_resnet50_2") return wide_resnet50_2<T>(num_classes, options);
  tl::detail::fail("resnet_by_name: unknown model '", name,
                   "' (expected resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d or "
                   "wide_resnet50_2)");
}

}  // namespace tl::models
