// The conv-net building blocks composed, as a ResNet stem uses them.
#include <doctest/doctest.h>

#include <tl/tl.hpp>

#include "nn/test_conv_support.hpp"

using tl::Tensor;

TEST_CASE("conv2d -> batch_norm -> max_pool2d -> adaptive_avg_pool2d: gradcheck through the chain") {
  tl::Generator gen(21);
  std::vector<Tensor<double>> in{tl::randn<double>({2, 2, 6, 5}, gen), tl::randn<double>({3, 2, 3, 3}, gen),
                                 tl::rand<double>({3}, gen) + 0.5, tl::randn<double>({3}, gen)};
  auto r = tl::gradcheck(
      [](const std::vector<Tensor<double>>& v) {
        auto y = tl::conv2d(v[0].transpose(2, 3), v[1], Tensor<double>(), 1, 1);  // a non-contiguous input
        y = tl::batch_norm(y, Tensor<double>(), Tensor<double>(), v[2], v[3], /*training=*/true);
        y = tl::max_pool2d(y, 3, 2, 1);
        return tl::adaptive_avg_pool2d(y, {2, 1});
      },
      in);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("a conv/bn/pool stem as modules: train then eval, and an empty batch") {
  tl::manual_seed(3);
  auto conv = std::make_shared<tl::nn::Conv2d<float>>(3, 8, 7, 2, 3, 1, 1, /*bias=*/false);
  auto bn = std::make_shared<tl::nn::BatchNorm2d<float>>(8);
  auto pool = std::make_shared<tl::nn::MaxPool2d<float>>(3, 2, 1);
  auto gap = std::make_shared<tl::nn::AdaptiveAvgPool2d<float>>(1);
  auto x = tl::randn<float>({4, 3, 32, 32});
  auto z = bn->forward(conv->forward(x));  // [4, 8, 16, 16]
  REQUIRE(z.shape() == tl::Shape{4, 8, 16, 16});
  // Training-mode BN output: zero mean and unit (biased) variance per channel.
  auto zv = z.to_vector();
  for (int64_t c = 0; c < 8; ++c) {
    double s = 0, s2 = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 256; ++i) {
        double v = zv[(n * 8 + c) * 256 + i];
        s += v, s2 += v * v;
      }
    CHECK(std::abs(s / 1024) < 1e-5);
    CHECK(s2 / 1024 == doctest::Approx(1.0).epsilon(1e-3));
  }
  auto y = gap->forward(pool->forward(z));
  CHECK(y.shape() == tl::Shape{4, 8, 1, 1});
  y.sum().backward();
  REQUIRE(conv->weight.grad().defined());
  CHECK(bn->weight.grad().defined());
  bn->eval();
  auto ye = gap->forward(pool->forward(bn->forward(conv->forward(x))));
  CHECK(ye.shape() == tl::Shape{4, 8, 1, 1});
  CHECK(bn->num_batches_tracked.item() == 1.0f);

  // An empty batch flows through conv and pooling (as in PyTorch).
  auto e = pool->forward(conv->forward(tl::zeros<float>({0, 3, 32, 32})));
  CHECK(e.shape() == tl::Shape{0, 8, 8, 8});
  CHECK(tl::adaptive_avg_pool2d(e, 2).shape() == tl::Shape{0, 8, 2, 2});
}
