#include "ops_test_util.hpp"

#include <cmath>
#include <limits>

using namespace ops_test;

TEST_CASE("unary: values of exp, log, sqrt, neg, abs, square, relu, sigmoid, tanh") {
  auto x = td({-2, -0.5, 0, 1, 3}, {5});
  check_values(tl::exp(x), {5}, {0.1353352832366127, 0.6065306597126334, 1.0, 2.718281828459045, 20.085536923187668});
  check_values(x.sigmoid(), {5}, {0.11920292202211755, 0.3775406687981454, 0.5, 0.7310585786300049, 0.9525741268224334});
  check_values(tl::tanh(x), {5}, {-0.9640275800758169, -0.46211715726000974, 0.0, 0.7615941559557649, 0.9950547536867305});
  check_values(-x, {5}, {2, 0.5, 0, -1, -3});
  check_values(x.neg(), {5}, {2, 0.5, 0, -1, -3});
  check_values(x.abs(), {5}, {2, 0.5, 0, 1, 3});
  check_values(x.square(), {5}, {4, 0.25, 0, 1, 9});
  check_values(tl::relu(x), {5}, {0, 0, 0, 1, 3});
  auto p = td({1, 4, 0.25}, {3});
  check_values(p.log(), {3}, {0, std::log(4.0), std::log(0.25)});
  check_values(tl::sqrt(p), {3}, {1, 2, 0.5});
  // integer tensors keep their type
  check_values(tl::abs(ti({-3, 0, 2}, {3})), {3}, {3, 0, 2});
  check_values(-ti({-3, 0, 2}, {3}), {3}, {3, 0, -2});
}

TEST_CASE("unary: pow with a scalar and with a broadcast tensor exponent") {
  auto x = td({1, 2, 3, 4}, {2, 2});
  check_values(x.pow(2), {2, 2}, {1, 4, 9, 16});
  check_values(tl::pow(x, 0.5), {2, 2}, {1, std::sqrt(2.0), std::sqrt(3.0), 2});
  check_values(tl::pow(x, -1.0), {2, 2}, {1, 0.5, 1.0 / 3, 0.25});
  check_values(tl::pow(x, td({1, 2}, {2})), {2, 2}, {1, 4, 3, 16});
  check_values(x.pow(td({3}, {})), {2, 2}, {1, 8, 27, 64});
}

TEST_CASE("unary: clamp with optional bounds, clamp_min, clamp_max") {
  auto x = td({-2, -1, 0, 1, 2}, {5});
  check_values(tl::clamp(x, -1.0, 1.0), {5}, {-1, -1, 0, 1, 1});
  check_values(x.clamp(0.5), {5}, {0.5, 0.5, 0.5, 1, 2});
  check_values(tl::clamp(x, std::nullopt, 0.0), {5}, {-2, -1, 0, 0, 0});
  check_values(tl::clamp_min(x, 0.0), {5}, {0, 0, 0, 1, 2});
  check_values(x.clamp_max(-1), {5}, {-2, -1, -1, -1, -1});
  // min > max: every element becomes max (as PyTorch)
  check_values(tl::clamp(x, 1.0, 0.0), {5}, {0, 0, 0, 0, 0});
  auto f = tf({-2, 0.25f, 7}, {3});
  check_values(f.clamp(0.0f, 1.0f), {3}, {0, 0.25, 1});
  check_values(tl::clamp(f, 0.0, 1.0), {3}, {0, 0.25, 1});  // double bounds convert to float
  CHECK_THROWS_WITH_AS(tl::clamp(x, std::nullopt, std::nullopt), doctest::Contains("clamp"), tl::Error);
}

TEST_CASE("unary: non-contiguous inputs (transposed, sliced)") {
  auto x = td({1, 2, 3, 4, 5, 6}, {2, 3});
  auto t = x.t();  // [3, 2] view
  REQUIRE_FALSE(t.is_contiguous());
  check_values(t.exp(), {3, 2}, {std::exp(1.0), std::exp(4.0), std::exp(2.0), std::exp(5.0), std::exp(3.0), std::exp(6.0)});
  check_values(x.slice(1, 0, 3, 2).square(), {2, 2}, {1, 9, 16, 36});
  CHECK(t.sigmoid().is_contiguous());
}

TEST_CASE("unary: gradients at the kinks follow PyTorch") {
  auto x = td({-1, 0, 1}, {3}).requires_grad_();
  tl::relu(x).sum().backward();
  check_values(x.grad(), {3}, {0, 0, 1});  // relu'(0) = 0
  x.zero_grad();
  tl::abs(x).sum().backward();
  check_values(x.grad(), {3}, {-1, 0, 1});  // abs'(0) = 0
  x.zero_grad();
  tl::clamp(x, 0.0, 1.0).sum().backward();
  check_values(x.grad(), {3}, {0, 1, 1});  // passes where min <= x <= max, bounds included
  x.zero_grad();
  tl::pow(x, 0.0).sum().backward();
  check_values(x.grad(), {3}, {0, 0, 0});  // x^0 is constant
  auto z = td({0, 2}, {2}).requires_grad_();
  auto e = td({2, 1}, {2}).requires_grad_();
  tl::pow(z, e).sum().backward();
  check_values(z.grad(), {2}, {0, 1});
  check_values(e.grad(), {2}, {0, 2 * std::log(2.0)});  // 0^e: d/de taken as 0 (as PyTorch)
}

TEST_CASE("unary: a node saves the detached output, not the output (no reference cycle)") {
  auto x = td({0.5, -0.5}, {2}).requires_grad_();
  std::weak_ptr<tl::TensorImpl<double>> weak;
  {
    auto y = tl::sigmoid(x);
    weak = y.impl();
    CHECK(y.grad_fn() != nullptr);
  }
  CHECK(weak.expired());  // y was freed with its handle: the node did not keep it alive
}

TEST_CASE("unary: sigmoid is stable for large magnitudes in float") {
  auto s = tl::sigmoid(tf({-1e30f, -100.0f, 0.0f, 100.0f, 1e30f}, {5})).to_vector();
  CHECK(s[0] == 0.0f);
  CHECK(s[1] >= 0.0f);
  CHECK(s[1] < 1e-40f);
  CHECK(s[2] == 0.5f);
  CHECK(s[3] == 1.0f);
  CHECK(s[4] == 1.0f);
  for (float v : s) CHECK_FALSE(std::isnan(v));
}

TEST_CASE("unary: large dense inputs take the parallel path and agree with the scalar formula") {
  tl::manual_seed(5);
  auto x = tl::randn<float>({300, 300});
  auto y = x.tanh().to_vector();
  auto xv = x.to_vector();
  for (size_t i = 0; i < xv.size(); i += 997) CHECK(y[i] == doctest::Approx(std::tanh(xv[i])).epsilon(1e-6));
}

TEST_CASE("gradcheck: unary ops") {
  tl::manual_seed(11);
  auto a = tl::randn<double>({2, 3});
  auto pos = tl::rand<double>({2, 3}) + 0.5;
  auto away = td({-1.2, -0.4, 0.3, 0.7, -0.9, 1.5}, {2, 3});  // away from the kink at 0
  check_grad([](const V& v) { return tl::neg(v[0]); }, {a});
  check_grad([](const V& v) { return -v[0].t(); }, {a});
  check_grad([](const V& v) { return tl::exp(v[0]); }, {a});
  check_grad([](const V& v) { return v[0].t().exp(); }, {a});
  check_grad([](const V& v) { return tl::log(v[0]); }, {pos});
  check_grad([](const V& v) { return tl::sqrt(v[0]); }, {pos});
  check_grad([](const V& v) { return tl::square(v[0]); }, {a});
  check_grad([](const V& v) { return tl::sigmoid(v[0]); }, {a});
  check_grad([](const V& v) { return tl::tanh(v[0]); }, {a});
  check_grad([](const V& v) { return tl::tanh(v[0]).sigmoid().exp(); }, {a});  // chains of output-saving nodes
  check_grad([](const V& v) { return tl::pow(v[0], 3.0); }, {a});
  check_grad([](const V& v) { return tl::pow(v[0], -1.5); }, {pos});
  check_grad([](const V& v) { return tl::pow(v[0], v[1]); }, {pos, a});
  check_grad([](const V& v) { return tl::pow(v[0], v[1]); }, {pos, td({0.5, 2.0, -1.0}, {3})});  // broadcast exponent
  check_grad([](const V& v) { return tl::pow(v[0], v[1]); }, {td({1.5}, {1}), a});  // broadcast base
  check_grad([](const V& v) { return tl::abs(v[0]); }, {away});
  check_grad([](const V& v) { return tl::relu(v[0]); }, {away});
  check_grad([](const V& v) { return tl::add_relu(v[0], v[1]); }, {away, td({0.3, -0.6, 0.2, 1.1, -0.1, 0.45}, {2, 3})});
  check_grad([](const V& v) { return tl::add_relu(v[0], v[1]); }, {away, td({0.3, -0.75, 0.2}, {3})});  // broadcast
  check_grad([](const V& v) { return tl::clamp(v[0], -0.5, 0.5); }, {td({-1.1, -0.2, 0.1, 0.4, 0.9, 2.0}, {2, 3})});
  check_grad([](const V& v) { return tl::clamp_min(v[0], 0.0); }, {away});
  check_grad([](const V& v) { return tl::clamp_max(v[0], 0.0); }, {away});
}

TEST_CASE("add_relu: relu(a + b) in one pass, the same values and gradients as add then relu") {
  tl::Generator gen(3);
  for (const tl::Shape& sb : {tl::Shape{4, 8, 33, 35}, tl::Shape{8, 1, 35}}) {  // same shape; broadcast
    auto a = tl::randn<float>({4, 8, 33, 35}, gen), b = tl::randn<float>(sb, gen);
    auto a1 = a.clone().requires_grad_(), b1 = b.clone().requires_grad_();
    auto a2 = a.clone().requires_grad_(), b2 = b.clone().requires_grad_();
    auto y1 = tl::add_relu(a1, b1), y2 = tl::relu(tl::add(a2, b2));
    CHECK(y1.to_vector() == y2.to_vector());
    auto gy = tl::randn<float>(y1.shape(), gen);
    (y1 * gy).sum().backward();
    (y2 * gy).sum().backward();
    CHECK(a1.grad().to_vector() == a2.grad().to_vector());
    CHECK(b1.grad().to_vector() == b2.grad().to_vector());
  }
  // The shared gradient of both inputs must not alias: accumulating into one leaves the other intact.
  auto x = tf({1, -2, 3}, {3}).requires_grad_();
  auto y = tl::add_relu(x, x);  // both inputs are x: its gradient is the sum of the two
  y.sum().backward();
  check_values(x.grad(), {3}, {2, 0, 2});
  CHECK(tl::add_relu(tf({1, -2}, {2}), tf({-3, 4}, {2})).to_vector() == std::vector<float>{0, 2});
}
