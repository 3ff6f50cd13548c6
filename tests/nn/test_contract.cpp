// The foundation issue's API contract, verbatim, with its comments checked.
#include <doctest/doctest.h>

#include <tl/tl.hpp>

TEST_CASE("the foundation API contract compiles and behaves as commented") {
  tl::manual_seed(0);
  auto x = tl::randn<float>({8, 3, 32, 32});
  auto a = tl::ones<float>({2, 3}) + tl::ones<float>({2, 3});       // a.data()[5] == 2
  CHECK(a.data()[5] == 2.0f);
  auto t = tl::Tensor<double>(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == tl::Shape{2, 3});
  auto conv = std::make_shared<tl::nn::Conv2d<float>>(3, 16, 3, /*stride=*/1, /*padding=*/1);
  auto y = conv->forward(x);                                         // shape {8, 16, 32, 32}
  CHECK(y.shape() == tl::Shape{8, 16, 32, 32});
  y.backward(tl::ones_like(y));                                      // conv->weight.grad() is set
  REQUIRE(conv->weight.grad().defined());
  CHECK(conv->weight.grad().shape() == conv->weight.shape());
  std::vector<std::string> names;
  for (auto& [name, p] : conv->named_parameters()) names.push_back(name);  // "weight", "bias"
  CHECK(names == std::vector<std::string>{"weight", "bias"});
  auto w = tl::Tensor<float>(std::vector<float>(6, 1.f), {2, 3});
  w.requires_grad_(true);
  CHECK(w.requires_grad());
  auto loss = tl::nn::functional::cross_entropy(tl::randn<float>({4, 10}), tl::Tensor<int64_t>(std::vector<int64_t>{1, 2, 3, 4}, {4}));
  CHECK(loss.numel() == 1);
  CHECK(loss.item() > 0.0f);
  tl::optim::SGD<float> opt(conv->parameters(), {.lr = 0.1, .momentum = 0.9});
  auto before = conv->bias.to_vector();
  auto bias_grad = conv->bias.grad().to_vector();
  opt.zero_grad(); opt.step();
  CHECK(!conv->weight.grad().defined());  // zero_grad drops gradients; step() then skips them
  CHECK(conv->bias.to_vector() == before);
  // one real step: bias -= lr * grad (the first momentum buffer is the gradient itself)
  conv->bias.set_grad(tl::Tensor<float>(bias_grad, conv->bias.shape()));
  opt.step();
  CHECK(conv->bias.to_vector()[0] == doctest::Approx(before[0] - 0.1f * bias_grad[0]));
}
