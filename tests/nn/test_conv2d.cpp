#include <doctest/doctest.h>

#include <optional>

#include <tl/tl.hpp>

#include "nn/test_conv_support.hpp"

using tl::Pair;
using tl::Tensor;
using tl::test::check_close;
using tl::test::cref;
using Shape = tl::Shape;

namespace {

struct ConvCase {
  const char* name;
  bool bias;
  Pair stride, padding, dilation;
  int64_t groups;
  std::optional<tl::PaddingMode> mode = std::nullopt;  // "same" / "valid" instead of `padding`
};
// The same configurations as conv_configs in tests/data/make_conv_reference.py.
const ConvCase kConvCases[] = {
    {"basic", true, 1, 1, 1, 1},          {"stride2", true, 2, 0, 1, 1},
    {"nonsquare", true, {2, 1}, {1, 0}, {1, 2}, 2}, {"dilation2", false, 1, 2, 2, 1},
    {"depthwise", false, 2, 1, 1, 3},     {"pointwise", true, 1, 0, 1, 1},
    {"same_even", true, 1, 0, {1, 2}, 1, tl::kSame}, {"same_odd", false, 1, 0, 1, 2, tl::kSame},
    {"valid", true, 2, 0, 1, 1, tl::kValid},
};

template <class T>
void check_conv_against_pytorch(double rtol) {
  for (const auto& c : kConvCases) {
    const std::string pre = std::string("conv.") + c.name + ".";
    INFO("config ", c.name);
    auto x = cref<T>(pre + "x").requires_grad_();
    auto w = cref<T>(pre + "w").requires_grad_();
    Tensor<T> b = c.bias ? cref<T>(pre + "b").requires_grad_() : Tensor<T>();
    auto y = c.mode ? tl::conv2d(x, w, b, c.stride, *c.mode, c.dilation, c.groups)
                    : tl::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
    check_close(y, pre + "y", rtol);
    y.backward(cref<T>(pre + "gy"));
    check_close(x.grad(), pre + "gx", rtol);
    check_close(w.grad(), pre + "gw", rtol);
    if (c.bias) check_close(b.grad(), pre + "gb", rtol);
  }
}

tl::GradcheckResult conv_gradcheck(const Shape& xs, const Shape& ws, bool bias, Pair stride, Pair padding,
                                   Pair dilation, int64_t groups) {
  tl::Generator gen(7);
  std::vector<Tensor<double>> in{tl::randn<double>(xs, gen), tl::randn<double>(ws, gen)};
  if (bias) in.push_back(tl::randn<double>({ws[0]}, gen));
  return tl::gradcheck(
      [&](const std::vector<Tensor<double>>& v) {
        return tl::conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor<double>(), stride, padding, dilation, groups);
      },
      in);
}

}  // namespace

TEST_CASE("conv2d matches PyTorch (float and double): output and grads of x, w, b") {
  check_conv_against_pytorch<float>(1e-5);
  check_conv_against_pytorch<double>(1e-12);
}

TEST_CASE("conv2d gradcheck") {
  SUBCASE("plain 3x3 with bias") {
    auto r = conv_gradcheck({2, 2, 5, 5}, {3, 2, 3, 3}, true, 1, 0, 1, 1);
    CHECK_MESSAGE(r.ok, r.message);
  }
  SUBCASE("stride 2, padding 1, no bias") {
    auto r = conv_gradcheck({1, 2, 6, 7}, {2, 2, 3, 3}, false, 2, 1, 1, 1);
    CHECK_MESSAGE(r.ok, r.message);
  }
  SUBCASE("dilation 2, padding 2") {
    auto r = conv_gradcheck({1, 2, 7, 6}, {2, 2, 3, 3}, true, 1, 2, 2, 1);
    CHECK_MESSAGE(r.ok, r.message);
  }
  SUBCASE("groups 2, non-square kernel, stride and padding") {
    auto r = conv_gradcheck({2, 4, 6, 5}, {4, 2, 3, 2}, true, {2, 1}, {1, 0}, {1, 2}, 2);
    CHECK_MESSAGE(r.ok, r.message);
  }
  SUBCASE("depthwise (groups = channels)") {
    auto r = conv_gradcheck({1, 3, 5, 5}, {6, 1, 3, 3}, false, 1, 1, 1, 3);
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("conv2d computes a known value and only the requested gradients") {
  // 1 x 1 x 3 x 3 input 1..9, 2x2 kernel of ones: each output is the sum of a 2x2 window.
  Tensor<float> x(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  auto w = tl::ones<float>({1, 1, 2, 2});
  auto b = tl::full<float>({1}, 0.5f).requires_grad_();
  auto y = tl::conv2d(x, w, b);
  CHECK(y.shape() == tl::Shape{1, 1, 2, 2});
  CHECK(y.to_vector() == std::vector<float>{12.5f, 16.5f, 24.5f, 28.5f});
  y.backward(tl::ones_like(y));  // only the bias needs a gradient (e.g. a frozen weight, BitFit)
  CHECK(b.grad().item() == doctest::Approx(4.0));
  CHECK(!w.grad().defined());
  CHECK(!x.grad().defined());
}

TEST_CASE("conv2d takes non-contiguous and unbatched input") {
  tl::Generator gen(3);
  auto base = tl::randn<double>({2, 3, 6, 5}, gen);
  auto w = tl::randn<double>({4, 3, 3, 3}, gen);
  auto xt = base.transpose(2, 3).contiguous().detach().requires_grad_();  // [2, 3, 5, 6] dense
  auto xv = base.detach().requires_grad_();
  auto y1 = tl::conv2d(xv.transpose(2, 3), w, Tensor<double>(), 1, 1);  // a strided view
  auto y2 = tl::conv2d(xt, w, Tensor<double>(), 1, 1);
  CHECK(tl::test::max_abs_diff(y1, y2) < 1e-12);
  y1.backward(tl::ones_like(y1));
  y2.backward(tl::ones_like(y2));
  CHECK(tl::test::max_abs_diff(xv.grad().transpose(2, 3), xt.grad()) < 1e-12);

  auto y3 = tl::conv2d(xt.select(0, 1), w, Tensor<double>(), 1, 1);  // [3, 5, 6] -> [4, 5, 6]
  CHECK(y3.shape() == tl::Shape{4, 5, 6});
  CHECK(tl::test::max_abs_diff(y3, y2.select(0, 1)) < 1e-12);
}

TEST_CASE("conv2d rejects bad shapes with clear errors") {
  using tl::test::throws_with;
  auto x = tl::randn<float>({2, 4, 5, 5});
  auto w = tl::randn<float>({6, 4, 3, 3});
  CHECK(throws_with([&] { tl::conv2d(tl::randn<float>({4, 5}), w); }, "conv2d: expected a 3-d (unbatched) or 4-d"));
  CHECK(throws_with([&] { tl::conv2d(x, tl::randn<float>({6, 4, 3})); }, "expected a 4-d weight"));
  CHECK(throws_with([&] { tl::conv2d(x, tl::randn<float>({6, 3, 3, 3})); },
                    "weight of shape [6, 3, 3, 3] expects input [2, 4, 5, 5] to have 3 channels, but it has 4"));
  CHECK(throws_with([&] { tl::conv2d(x, tl::randn<float>({6, 2, 3, 3}), Tensor<float>(), 1, 0, 1, 4); },
                    "given groups=4, expected weight to be divisible by 4"));
  CHECK(throws_with([&] { tl::conv2d(x, w, Tensor<float>(), 1, 0, 1, 0); }, "groups must be positive"));
  CHECK(throws_with([&] { tl::conv2d(x, tl::randn<float>({6, 4, 7, 3})); },
                    "padded input size per channel (5 x 5)"));
  CHECK(throws_with([&] { tl::conv2d(x, w, Tensor<float>(), 1, 0, 3); }, "(dilated) kernel size (7 x 7)"));
  CHECK(throws_with([&] { tl::conv2d(x, w, tl::zeros<float>({5})); }, "expected a bias of shape [6]"));
  CHECK(throws_with([&] { tl::conv2d(x, w, Tensor<float>(), 0); }, "stride must be positive"));
  CHECK(throws_with([&] { tl::conv2d(x, w, Tensor<float>(), 1, -1); }, "padding must be non-negative"));
}

TEST_CASE("nn::Conv2d: the layer contract") {
  auto conv = std::make_shared<tl::nn::Conv2d<float>>(3, 16, 3, /*stride=*/1, /*padding=*/1);
  auto y = conv->forward(tl::randn<float>({8, 3, 32, 32}));
  CHECK(y.shape() == tl::Shape{8, 16, 32, 32});
  y.backward(tl::ones_like(y));
  REQUIRE(conv->weight.grad().defined());
  REQUIRE(conv->bias.grad().defined());
  CHECK(conv->bias.grad().to_vector() == std::vector<float>(16, 8 * 32 * 32));
  auto np = conv->named_parameters();
  REQUIRE(np.size() == 2);
  CHECK(np[0].first == "weight");
  CHECK(np[1].first == "bias");
  CHECK(conv->weight.shape() == tl::Shape{16, 3, 3, 3});
  CHECK(conv->repr() == "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");

  // PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = 27.
  const float bound = 1.0f / std::sqrt(27.0f);
  float lo = 1, hi = -1;
  for (float v : conv->weight.to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi - lo > 1.6f * bound);  // 432 draws spread over most of the range

  auto dw = std::make_shared<tl::nn::Conv2d<float>>(4, 8, Pair{3, 1}, 2, Pair{1, 0}, 1, 4, /*bias=*/false);
  CHECK(dw->named_parameters().size() == 1);
  CHECK(dw->weight.shape() == tl::Shape{8, 1, 3, 1});
  CHECK(dw->repr() == "Conv2d(4, 8, kernel_size=(3, 1), stride=(2, 2), padding=(1, 0), groups=4, bias=False)");
  CHECK((*dw)(tl::randn<float>({1, 4, 7, 5})).shape() == tl::Shape{1, 8, 4, 3});
  CHECK(tl::test::throws_with([&] { dw->forward(tl::randn<float>({1, 3, 7, 5})); }, "expected input with 4 channels"));
  CHECK(tl::test::throws_with([&] { tl::nn::Conv2d<float>(3, 8, 3, 1, 0, 1, 2); },
                              "in_channels (3) must be divisible by groups (2)"));
}

TEST_CASE("conv2d padding same/valid: shapes, gradcheck, errors, Conv2d printout") {
  auto x = tl::randn<double>({1, 2, 5, 6});
  CHECK(tl::conv2d(x, tl::randn<double>({3, 2, 4, 3}), Tensor<double>(), 1, tl::kSame).shape() ==
        tl::Shape{1, 3, 5, 6});
  CHECK(tl::conv2d(x, tl::randn<double>({3, 2, 4, 3}), Tensor<double>(), 1, tl::kValid).shape() ==
        tl::Shape{1, 3, 2, 4});
  tl::Generator gen(9);
  auto r = tl::gradcheck(
      [](const std::vector<Tensor<double>>& v) { return tl::conv2d(v[0], v[1], v[2], 1, tl::kSame, {2, 1}); },
      {tl::randn<double>({1, 2, 5, 4}, gen), tl::randn<double>({2, 2, 2, 4}, gen), tl::randn<double>({2}, gen)});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(tl::test::throws_with([&] { tl::conv2d(x, tl::randn<double>({3, 2, 3, 3}), Tensor<double>(), 2, tl::kSame); },
                              "padding='same' is not supported for strided convolutions"));
  auto conv = std::make_shared<tl::nn::Conv2d<float>>(2, 4, 3, 1, tl::kSame);
  CHECK(conv->repr() == "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=same)");
  CHECK(conv->forward(tl::randn<float>({1, 2, 7, 5})).shape() == tl::Shape{1, 4, 7, 5});
  CHECK(tl::test::throws_with([] { tl::nn::Conv2d<float>(2, 4, 3, 2, tl::kSame); }, "padding='same'"));
}

TEST_CASE("nn::Conv2d matches functional conv2d and loads a state dict") {
  auto conv = std::make_shared<tl::nn::Conv2d<double>>(2, 3, 3, 2, 1, 1, 1);
  auto x = tl::randn<double>({1, 2, 5, 5});
  auto ref = tl::nn::functional::conv2d(x, conv->weight, conv->bias, 2, 1);
  CHECK(tl::test::max_abs_diff(conv->forward(x), ref) == 0);
  auto sd = conv->state_dict();
  auto other = std::make_shared<tl::nn::Conv2d<double>>(2, 3, 3, 2, 1, 1, 1);
  other->load_state_dict(sd);
  CHECK(tl::test::max_abs_diff(other->forward(x), ref) == 0);
}
