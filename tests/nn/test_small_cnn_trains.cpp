#include <doctest/doctest.h>

#include <chrono>

#include <tl/tl.hpp>

namespace nn = tl::nn;

namespace {
// 8x8 images of 4 classes: a bright 3x3 blob in one of the four quadrants (jittered by a pixel),
// plus Gaussian noise. Labels are the quadrant.
struct Blobs {
  tl::Tensor<float> x;
  tl::Tensor<int64_t> y;
};
Blobs make_blobs(int64_t n, tl::Generator& gen) {
  Blobs b{tl::randn<float>({n, 1, 8, 8}, gen) * 0.3f, tl::Tensor<int64_t>::uninitialized({n})};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cls = gen.randint(4);
    b.y.data()[i] = cls;
    const int64_t r0 = (cls / 2) * 4 + gen.randint(2), c0 = (cls % 2) * 4 + gen.randint(2);
    for (int64_t r = r0; r < r0 + 3 && r < 8; ++r)
      for (int64_t c = c0; c < c0 + 3 && c < 8; ++c) b.x.at_ref({i, 0, r, c}) += 1.0f;
  }
  return b;
}
double accuracy(const tl::Tensor<float>& logits, const tl::Tensor<int64_t>& y) {
  int64_t right = 0;
  for (int64_t i = 0; i < logits.shape()[0]; ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < logits.shape()[1]; ++c)
      if (logits.at({i, c}) > logits.at({i, best})) best = c;
    right += best == y.data()[i];
  }
  return static_cast<double>(right) / static_cast<double>(logits.shape()[0]);
}
}  // namespace

TEST_CASE("a small CNN (Conv-BN-ReLU-MaxPool-Flatten-Linear) learns a separable image problem") {
  const auto t0 = std::chrono::steady_clock::now();
  tl::Generator gen(123);
  Blobs train = make_blobs(256, gen), test = make_blobs(200, gen);
  tl::manual_seed(7);
  auto net = std::make_shared<nn::Sequential<float>>(
      std::make_shared<nn::Conv2d<float>>(1, 8, 3, 1, 1), std::make_shared<nn::BatchNorm2d<float>>(8),
      std::make_shared<nn::ReLU<float>>(), std::make_shared<nn::MaxPool2d<float>>(2),
      std::make_shared<nn::Flatten<float>>(), std::make_shared<nn::Linear<float>>(8 * 4 * 4, 4));
  tl::optim::Adam<float> opt(net->parameters(), {.lr = 0.01});
  nn::CrossEntropyLoss<float> criterion;

  net->eval();
  const double before = accuracy(net->forward(test.x), test.y);
  net->train();
  const int64_t batch = 32;
  float last_loss = 0;
  for (int epoch = 0; epoch < 8; ++epoch)
    for (int64_t i = 0; i < 256; i += batch) {
      auto loss = criterion(net->forward(train.x.narrow(0, i, batch)), train.y.narrow(0, i, batch));
      opt.zero_grad();
      loss.backward();
      opt.step();
      last_loss = loss.item();
    }
  net->eval();
  const double after = accuracy(net->forward(test.x), test.y);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("held-out accuracy ", before, " -> ", after, ", last train loss ", last_loss, ", ", secs, " s");
  CHECK(before < 0.5);
  CHECK(after > 0.95);
  CHECK(last_loss < 0.3f);
}
