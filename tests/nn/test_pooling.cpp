#include <doctest/doctest.h>

#include <tl/tl.hpp>

#include "nn/test_conv_support.hpp"

using tl::Pair;
using tl::Tensor;
using tl::test::check_close;
using tl::test::cref;
using tl::test::throws_with;

namespace {

/// Runs f on pool.<name>.x and compares output and input gradient with PyTorch's.
template <class T, class F>
void check_pool(const std::string& name, F f, double rtol) {
  const std::string pre = "pool." + name + ".";
  INFO(pre);
  auto x = cref<T>(pre + "x").requires_grad_();
  Tensor<T> y = f(x);
  check_close(y, pre + "y", rtol);
  y.backward(cref<T>(pre + "gy"));
  check_close(x.grad(), pre + "gx", rtol);
}

// The same calls as pool_configs in tests/data/make_conv_reference.py.
template <class T>
void check_all_pools(double rtol) {
  namespace F = tl::nn::functional;
  using X = const Tensor<T>&;
  check_pool<T>("max_k2", [](X x) { return F::max_pool2d(x, 2); }, rtol);
  check_pool<T>("max_k3s2p1", [](X x) { return F::max_pool2d(x, 3, 2, 1); }, rtol);
  check_pool<T>("max_ceil", [](X x) { return F::max_pool2d(x, 3, 2, 0, 1, true); }, rtol);
  check_pool<T>("max_dil2", [](X x) { return F::max_pool2d(x, {3, 2}, {1, 2}, {1, 0}, 2); }, rtol);
  check_pool<T>("avg_k2", [](X x) { return F::avg_pool2d(x, 2); }, rtol);
  check_pool<T>("avg_k3s2p1", [](X x) { return F::avg_pool2d(x, 3, 2, 1); }, rtol);
  check_pool<T>("avg_nopad", [](X x) { return F::avg_pool2d(x, 3, 2, 1, false, false); }, rtol);
  check_pool<T>("avg_ceil", [](X x) { return F::avg_pool2d(x, {3, 2}, {2, 2}, {1, 1}, true); }, rtol);
  check_pool<T>("avg_ceil_nopad", [](X x) { return F::avg_pool2d(x, 3, 2, 1, true, false); }, rtol);
  check_pool<T>("avg_overlap", [](X x) { return F::avg_pool2d(x, 3, 1); }, rtol);
  check_pool<T>("adaptive_avg_5x3", [](X x) { return F::adaptive_avg_pool2d(x, {5, 3}); }, rtol);
  check_pool<T>("adaptive_avg_1", [](X x) { return F::adaptive_avg_pool2d(x, 1); }, rtol);
  check_pool<T>("adaptive_avg_up", [](X x) { return F::adaptive_avg_pool2d(x, {5, 6}); }, rtol);
  check_pool<T>("adaptive_max_4x3", [](X x) { return F::adaptive_max_pool2d(x, {4, 3}); }, rtol);
}

template <class F>
void pool_gradcheck(const tl::Shape& shape, F f) {
  tl::Generator gen(5);
  auto r = tl::gradcheck([&](const std::vector<Tensor<double>>& v) { return f(v[0]); },
                         {tl::randn<double>(shape, gen)});
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace

TEST_CASE("pooling matches PyTorch: max, avg, adaptive avg/max, outputs and grads") {
  check_all_pools<double>(1e-12);
  check_all_pools<float>(1e-5);
}

TEST_CASE("pooling gradcheck") {
  using X = const Tensor<double>&;
  SUBCASE("max_pool2d, padding and ceil_mode") {
    pool_gradcheck({2, 2, 5, 6}, [](X x) { return tl::max_pool2d(x, 3, 2, 1, 1, true); });
  }
  SUBCASE("max_pool2d, overlapping dilated windows") {
    pool_gradcheck({1, 2, 6, 6}, [](X x) { return tl::max_pool2d(x, 2, 1, 1, 2); });
  }
  SUBCASE("avg_pool2d, padding counted") {
    pool_gradcheck({2, 2, 5, 6}, [](X x) { return tl::avg_pool2d(x, 3, 2, 1); });
  }
  SUBCASE("avg_pool2d, ceil_mode, padding not counted, overlapping") {
    pool_gradcheck({1, 2, 6, 5}, [](X x) { return tl::avg_pool2d(x, {3, 2}, 1, 1, true, false); });
  }
  SUBCASE("avg_pool2d, divisor_override") {
    pool_gradcheck({1, 2, 4, 4}, [](X x) { return tl::avg_pool2d(x, 2, 2, 0, false, true, 3); });
  }
  SUBCASE("adaptive_avg_pool2d, non-divisible sizes") {
    pool_gradcheck({2, 2, 7, 5}, [](X x) { return tl::adaptive_avg_pool2d(x, {3, 2}); });
  }
  SUBCASE("adaptive_max_pool2d, non-divisible sizes") {
    pool_gradcheck({1, 2, 7, 5}, [](X x) { return tl::adaptive_max_pool2d(x, {3, 4}); });
  }
}

TEST_CASE("pooling known values, indices and unbatched input") {
  auto x = tl::arange<float>(16.0f).reshape({1, 1, 4, 4});
  auto [m, idx] = tl::max_pool2d_with_indices(x, 2);
  CHECK(m.to_vector() == std::vector<float>{5, 7, 13, 15});
  CHECK(idx.to_vector() == std::vector<int64_t>{5, 7, 13, 15});
  CHECK(tl::avg_pool2d(x, 2).to_vector() == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
  // 3x3 windows with stride 2 and padding 1 over a 4x4 plane: corner windows see 4 values of 9.
  auto a = tl::avg_pool2d(x, 3, 2, 1);
  CHECK(a.at({0, 0, 0, 0}) == doctest::Approx((0 + 1 + 4 + 5) / 9.0));
  auto a2 = tl::avg_pool2d(x, 3, 2, 1, false, /*count_include_pad=*/false);
  CHECK(a2.at({0, 0, 0, 0}) == doctest::Approx((0 + 1 + 4 + 5) / 4.0));
  CHECK(tl::adaptive_avg_pool2d(x, 1).item() == doctest::Approx(7.5));
  auto [am, aidx] = tl::adaptive_max_pool2d_with_indices(x, {1, 2});
  CHECK(am.to_vector() == std::vector<float>{13, 15});
  CHECK(aidx.to_vector() == std::vector<int64_t>{13, 15});
  // ceil_mode keeps a last partial window: 5 -> ceil((5-2)/2)+1 = 3 outputs instead of 2.
  CHECK(tl::max_pool2d(tl::randn<float>({1, 1, 5, 5}), 2, 2, 0, 1, true).shape() == tl::Shape{1, 1, 3, 3});
  auto u = tl::max_pool2d(x.select(0, 0), 2);  // unbatched [C, H, W]
  CHECK(u.shape() == tl::Shape{1, 2, 2});
  CHECK(u.to_vector() == std::vector<float>{5, 7, 13, 15});

  // The gradient goes to the argmax only; NaN propagates.
  auto xg = tl::arange<float>(16.0f).reshape({1, 1, 4, 4}).detach().requires_grad_();
  tl::max_pool2d(xg, 2).sum().backward();
  auto g = xg.grad().to_vector();
  CHECK(g[5] == 1.0f);
  CHECK(g[0] == 0.0f);
  CHECK(g[15] == 1.0f);
  auto xn = tl::zeros<float>({1, 1, 2, 2});
  xn.at_ref({0, 0, 1, 0}) = std::nanf("");
  CHECK(std::isnan(tl::max_pool2d(xn, 2).item()));
}

TEST_CASE("pooling rejects bad arguments with clear errors") {
  auto x = tl::randn<float>({1, 2, 4, 4});
  CHECK(throws_with([&] { tl::max_pool2d(tl::randn<float>({4, 4}), 2); }, "max_pool2d: expected a 3-d (unbatched) or 4-d"));
  CHECK(throws_with([&] { tl::max_pool2d(x, 2, 2, 2); }, "padding should be at most half of kernel size"));
  CHECK(throws_with([&] { tl::max_pool2d(x, 5); }, "gives an empty output"));
  CHECK(throws_with([&] { tl::avg_pool2d(x, 0); }, "avg_pool2d: kernel_size must be positive"));
  CHECK(throws_with([&] { tl::avg_pool2d(x, 2, 0); }, "stride must be positive"));
  CHECK(throws_with([&] { tl::avg_pool2d(x, 2, 2, 0, false, true, 0); }, "divisor_override must be positive"));
  CHECK(throws_with([&] { tl::adaptive_avg_pool2d(x, {0, 1}); }, "adaptive_avg_pool2d: output_size must be positive"));
  CHECK(throws_with([&] { tl::adaptive_max_pool2d(tl::randn<float>({2, 3, 4, 4, 4}), 1); }, "adaptive_max_pool2d: expected"));
}

TEST_CASE("pooling modules: forward, printout") {
  auto mp = std::make_shared<tl::nn::MaxPool2d<float>>(3, 2, 1);
  CHECK(mp->repr() == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)");
  CHECK(mp->forward(tl::randn<float>({2, 4, 8, 8})).shape() == tl::Shape{2, 4, 4, 4});
  auto mp2 = std::make_shared<tl::nn::MaxPool2d<float>>(2);
  CHECK(mp2->repr() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  auto ap = std::make_shared<tl::nn::AvgPool2d<float>>(Pair{3, 2}, 2, 1);
  CHECK(ap->repr() == "AvgPool2d(kernel_size=(3, 2), stride=2, padding=1)");
  CHECK((*ap)(tl::randn<float>({1, 1, 7, 6})).shape() == tl::Shape{1, 1, 4, 4});
  auto gap = std::make_shared<tl::nn::AdaptiveAvgPool2d<float>>(Pair{1, 1});
  CHECK(gap->repr() == "AdaptiveAvgPool2d(output_size=(1, 1))");
  auto x = tl::randn<float>({2, 3, 5, 7}).requires_grad_();
  auto y = gap->forward(x);
  CHECK(y.shape() == tl::Shape{2, 3, 1, 1});
  auto xv = x.to_vector();
  for (int64_t plane = 0; plane < 6; ++plane) {  // global average pooling = the mean of each plane
    double s = 0;
    for (int64_t i = 0; i < 35; ++i) s += xv[plane * 35 + i];
    CHECK(y.to_vector()[plane] == doctest::Approx(s / 35).epsilon(1e-6));
  }
  auto amp = std::make_shared<tl::nn::AdaptiveMaxPool2d<float>>(2);
  CHECK(amp->repr() == "AdaptiveMaxPool2d(output_size=(2, 2))");
  CHECK(amp->forward(x).shape() == tl::Shape{2, 3, 2, 2});
  CHECK(mp->named_parameters().empty());
  CHECK(throws_with([] { tl::nn::AdaptiveAvgPool2d<float>(0); }, "output_size must be positive"));
}
