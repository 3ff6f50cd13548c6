// tl::nn::conv_bn_forward: the fused inference path (conv + eval BN + ReLU in one pass) against the
// modules run in sequence, and the cases that must take the modules' path.
#include <doctest/doctest.h>

#include <tl/tl.hpp>

#include "support/ref_file.hpp"

using tl::Tensor;
using tl::test::max_abs_diff;

namespace {

/// A conv and a BN with non-trivial running statistics and affine parameters.
template <class T>
struct ConvBn {
  tl::nn::Conv2d<T> conv;
  tl::nn::BatchNorm2d<T> bn;
  ConvBn(int64_t C, int64_t K, int64_t ks, int64_t stride, int64_t pad, int64_t groups, bool bias, bool affine)
      : conv(C, K, ks, stride, pad, 1, groups, bias), bn(K, 1e-5, 0.1, affine) {
    tl::Generator gen(9);
    tl::NoGradGuard ng;
    bn.running_mean.copy_(tl::randn<T>({K}, gen) * T(0.5));
    bn.running_var.copy_(tl::rand<T>({K}, gen) + T(0.3));
    if (affine) {
      bn.weight.copy_(tl::rand<T>({K}, gen) + T(0.5));
      bn.bias.copy_(tl::randn<T>({K}, gen));
    }
    bn.eval();
  }
  Tensor<T> reference(const Tensor<T>& x, bool relu) {
    auto y = bn.forward(conv.forward(x));
    return relu ? tl::relu(y) : y;
  }
};

/// max |a - b| relative to max(1, max |b|).
template <class T>
double rel_diff(const Tensor<T>& a, const Tensor<T>& b) {
  double scale = 1;
  for (T v : b.to_vector()) scale = std::max(scale, std::abs(static_cast<double>(v)));
  return max_abs_diff(a, b) / scale;
}

}  // namespace

TEST_CASE("conv_bn_forward at inference equals conv, then BN, then ReLU (fused path)") {
  tl::Generator gen(4);
  struct Case {
    int64_t N, C, H, K, ks, stride, pad, groups;
    bool bias, affine;
  };
  const Case cases[] = {{2, 8, 12, 16, 3, 1, 1, 1, false, true},  {3, 16, 9, 24, 1, 1, 0, 1, false, true},
                        {2, 6, 11, 10, 3, 2, 1, 2, true, true},    {1, 3, 20, 8, 7, 2, 3, 1, false, false},
                        {4, 12, 1, 12, 3, 1, 1, 1, true, true},    {2, 6, 8, 6, 3, 1, 1, 6, false, true}};  // depthwise
  for (const Case& c : cases)
    for (bool relu : {false, true}) {
      INFO("C=", c.C, " K=", c.K, " ks=", c.ks, " stride=", c.stride, " groups=", c.groups, " relu=", relu);
      ConvBn<float> m(c.C, c.K, c.ks, c.stride, c.pad, c.groups, c.bias, c.affine);
      auto x = tl::randn<float>({c.N, c.C, c.H, c.H}, gen);
      tl::NoGradGuard ng;
      auto fused = tl::nn::conv_bn_forward(m.conv, m.bn, x, relu);
      auto want = m.reference(x, relu);
      CHECK(rel_diff(fused, want) <= 2e-6);
      CHECK(!fused.grad_fn());
    }
  // Double: the affine form differs from (x - mean) * invstd * gamma + beta only by rounding.
  ConvBn<double> md(5, 7, 3, 1, 1, 1, true, true);
  auto xd = tl::randn<double>({2, 5, 6, 6}, gen);
  tl::NoGradGuard ng;
  CHECK(rel_diff(tl::nn::conv_bn_forward(md.conv, md.bn, xd, true), md.reference(xd, true)) <= 1e-13);
}

TEST_CASE("conv_bn_forward takes the modules' path when training or recording gradients") {
  tl::Generator gen(6);
  ConvBn<double> m(4, 6, 3, 1, 1, 1, false, true);
  auto x = tl::randn<double>({2, 4, 5, 5}, gen);
  // Gradients recorded (no NoGradGuard): the graph exists and matches the modules' gradients.
  auto y = tl::nn::conv_bn_forward(m.conv, m.bn, x, true);
  REQUIRE(y.grad_fn());
  CHECK(y.grad_fn()->name() == "BatchNormReluBackward");
  // Training mode: batch statistics, running statistics updated as by bn.forward.
  m.bn.train();
  const auto before = m.bn.running_mean.to_vector();
  tl::NoGradGuard ng;
  auto yt = tl::nn::conv_bn_forward(m.conv, m.bn, x, false);
  CHECK(m.bn.running_mean.to_vector() != before);
  CHECK(m.bn.num_batches_tracked.item() == 1.0);
  auto mean_c0 = 0.0;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 25; ++i) mean_c0 += yt.to_vector()[n * 6 * 25 + i];
  CHECK(std::abs(mean_c0 / 50 - m.bn.bias.to_vector()[0]) < 1e-9);  // batch-normalised: channel mean = beta
}

TEST_CASE("ResNet eval under NoGradGuard (fused conv+BN+ReLU) equals the same net with gradients recorded") {
  auto model = tl::models::resnet18<float>(10);
  tl::Generator gen(2);
  {
    tl::NoGradGuard ng;  // non-trivial running statistics everywhere
    for (auto& [name, buf] : model->named_buffers())
      if (name.find("running_mean") != std::string::npos) buf.copy_(tl::randn<float>(buf.shape(), gen) * 0.1f);
      else if (name.find("running_var") != std::string::npos) buf.copy_(tl::rand<float>(buf.shape(), gen) + 0.5f);
  }
  model->eval();
  auto x = tl::randn<float>({2, 3, 40, 40}, gen);
  auto slow = model->forward(x);  // grad mode on: the modules' path, BN+ReLU fused but no folding
  REQUIRE(slow.grad_fn());
  tl::NoGradGuard ng;
  auto fast = model->forward(x);
  CHECK(!fast.grad_fn());
  CHECK(rel_diff(fast, slow.detach()) <= 1e-5);
}

TEST_CASE("conv_bn_add_relu_forward equals relu(bn(conv(x)) + shortcut), fused or not") {
  tl::Generator gen(8);
  ConvBn<float> m(8, 16, 3, 1, 1, 1, false, true);
  auto x = tl::randn<float>({2, 8, 10, 10}, gen), s = tl::randn<float>({2, 16, 10, 10}, gen);
  auto want = tl::relu(m.reference(x, false) + s);
  auto recorded = tl::nn::conv_bn_add_relu_forward(m.conv, m.bn, x, s);  // gradients on: add_relu after the modules
  REQUIRE(recorded.grad_fn());
  CHECK(recorded.grad_fn()->name() == "AddReluBackward");
  CHECK(rel_diff(recorded, want.detach()) <= 2e-6);
  tl::NoGradGuard ng;
  auto fused = tl::nn::conv_bn_add_relu_forward(m.conv, m.bn, x, s);  // the shortcut added in the epilogue
  CHECK(!fused.grad_fn());
  CHECK(rel_diff(fused, want) <= 2e-6);
  int64_t clipped = 0;
  for (float v : fused.to_vector()) clipped += v == 0.f;
  CHECK(clipped > 100);  // the ReLU acted: the comparison covers both sides of it
  // A shortcut of another shape (broadcast) takes the unfused path with the same result.
  auto s1 = tl::randn<float>({1, 16, 1, 1}, gen);
  CHECK(rel_diff(tl::nn::conv_bn_add_relu_forward(m.conv, m.bn, x, s1), tl::relu(m.reference(x, false) + s1)) <= 2e-6);
}

TEST_CASE("ResNet-50 eval under NoGradGuard (shortcut fused into conv3's epilogue) equals the recorded forward") {
  auto model = tl::models::resnet50<float>(10);
  tl::Generator gen(3);
  {
    tl::NoGradGuard ng;
    for (auto& [name, buf] : model->named_buffers())
      if (name.find("running_mean") != std::string::npos) buf.copy_(tl::randn<float>(buf.shape(), gen) * 0.1f);
      else if (name.find("running_var") != std::string::npos) buf.copy_(tl::rand<float>(buf.shape(), gen) + 0.5f);
  }
  model->eval();
  auto x = tl::randn<float>({1, 3, 32, 32}, gen);
  auto slow = model->forward(x);
  REQUIRE(slow.grad_fn());
  tl::NoGradGuard ng;
  auto fast = model->forward(x);
  CHECK(rel_diff(fast, slow.detach()) <= 1e-5);
}
