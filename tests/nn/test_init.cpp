#include <doctest/doctest.h>

#include <cmath>

#include <tl/tl.hpp>

namespace init = tl::nn::init;

namespace {
struct Stats {
  double mean = 0, std = 0, min = 1e300, max = -1e300;
};
template <class T>
Stats stats_of(const tl::Tensor<T>& t) {
  Stats s;
  auto v = t.to_vector();
  for (T x : v) {
    s.mean += x;
    s.min = std::min<double>(s.min, x);
    s.max = std::max<double>(s.max, x);
  }
  s.mean /= static_cast<double>(v.size());
  for (T x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));
  return s;
}
}  // namespace

TEST_CASE("init: fans and gains follow torch.nn.init") {
  auto w = tl::empty<float>({16, 3, 5, 5});
  auto [fi, fo] = init::calculate_fan_in_and_fan_out(w);
  CHECK(fi == 75);
  CHECK(fo == 400);
  auto l = tl::empty<float>({10, 4});
  CHECK(init::calculate_fan_in_and_fan_out(l) == std::pair<int64_t, int64_t>{4, 10});
  CHECK_THROWS_AS(init::calculate_fan_in_and_fan_out(tl::empty<float>({3})), tl::Error);

  CHECK(init::calculate_gain("linear") == 1.0);
  CHECK(init::calculate_gain("conv2d") == 1.0);
  CHECK(init::calculate_gain("sigmoid") == 1.0);
  CHECK(init::calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("relu") == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("leaky_relu") == doctest::Approx(std::sqrt(2.0 / (1 + 0.0001))));
  CHECK(init::calculate_gain("leaky_relu", 0.0) == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK(init::calculate_gain("selu") == 0.75);
  CHECK_THROWS_AS(init::calculate_gain("swish"), tl::Error);
}

TEST_CASE("init: uniform, normal, constant, eye") {
  tl::Generator gen(3);
  auto t = init::uniform_(tl::empty<double>({200, 100}), -2.0, 3.0, gen);
  auto s = stats_of(t);
  CHECK(s.min >= -2.0);
  CHECK(s.max < 3.0);
  CHECK(s.mean == doctest::Approx(0.5).epsilon(0.02));
  CHECK(s.std == doctest::Approx(5.0 / std::sqrt(12.0)).epsilon(0.02));

  auto n = init::normal_(tl::empty<double>({200, 100}), 1.0, 0.5, gen);
  s = stats_of(n);
  CHECK(s.mean == doctest::Approx(1.0).epsilon(0.01));
  CHECK(s.std == doctest::Approx(0.5).epsilon(0.02));

  auto tn = init::trunc_normal_(tl::empty<double>({100, 100}), 0.0, 1.0, -1.0, 1.5, gen);
  s = stats_of(tn);
  CHECK(s.min >= -1.0);
  CHECK(s.max <= 1.5);

  // In-place on a parameter that requires grad, and on a non-contiguous view.
  auto p = tl::zeros<float>({3, 4}).requires_grad_();
  init::constant_(p, 2.5);
  CHECK(p.to_vector() == std::vector<float>(12, 2.5f));
  auto col = p.select(1, 2);  // a strided view
  init::zeros_(col.detach());
  CHECK(p.at({1, 2}) == 0.0f);
  CHECK(p.at({1, 1}) == 2.5f);
  init::ones_(p);
  CHECK(p.to_vector() == std::vector<float>(12, 1.0f));

  auto e = init::eye_(tl::full<float>({2, 3}, 5.0f));
  CHECK(e.to_vector() == std::vector<float>{1, 0, 0, 0, 1, 0});
}

TEST_CASE("init: same seed, same values") {
  tl::Generator g1(42), g2(42);
  auto a = init::kaiming_normal_(tl::empty<float>({8, 8}), 0.0, "fan_in", "relu", g1);
  auto b = init::kaiming_normal_(tl::empty<float>({8, 8}), 0.0, "fan_in", "relu", g2);
  CHECK(a.to_vector() == b.to_vector());
}

TEST_CASE("init: xavier and kaiming statistics") {
  tl::Generator gen(7);
  // xavier_uniform: bound = sqrt(6 / (fan_in + fan_out)); std = bound / sqrt(3)
  auto w = init::xavier_uniform_(tl::empty<double>({300, 200}), 1.0, gen);
  double bound = std::sqrt(6.0 / 500.0);
  auto s = stats_of(w);
  CHECK(s.max <= bound);
  CHECK(s.min >= -bound);
  CHECK(s.max > 0.99 * bound);
  CHECK(s.std == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));

  auto xn = init::xavier_normal_(tl::empty<double>({300, 200}), 2.0, gen);
  CHECK(stats_of(xn).std == doctest::Approx(2.0 * std::sqrt(2.0 / 500.0)).epsilon(0.02));

  // kaiming_uniform default (a=0, fan_in, leaky_relu): bound = sqrt(6 / fan_in)
  auto k = init::kaiming_uniform_(tl::empty<double>({64, 32, 3, 3}), 0.0, "fan_in", "leaky_relu", gen);
  double kb = std::sqrt(6.0 / (32 * 9));
  s = stats_of(k);
  CHECK(s.max <= kb);
  CHECK(s.min >= -kb);
  CHECK(s.max > 0.99 * kb);

  // fan_out mode and relu: std = sqrt(2 / fan_out)
  auto kn = init::kaiming_normal_(tl::empty<double>({64, 32, 3, 3}), 0.0, "fan_out", "relu", gen);
  CHECK(stats_of(kn).std == doctest::Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.03));
  CHECK_THROWS_AS(init::kaiming_normal_(tl::empty<double>({4, 4}), 0.0, "fan_middle"), tl::Error);

  // PyTorch's default layer init: weight and bias in U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  auto lw = tl::empty<double>({100, 50});
  auto lb = tl::empty<double>({100});
  init::default_layer_init(lw, lb, gen);
  double lbound = 1.0 / std::sqrt(50.0);
  s = stats_of(lw);
  CHECK(s.max <= lbound);
  CHECK(s.min >= -lbound);
  CHECK(s.max > 0.98 * lbound);
  CHECK(s.std == doctest::Approx(lbound / std::sqrt(3.0)).epsilon(0.03));
  s = stats_of(lb);
  CHECK(s.max <= lbound);
  CHECK(s.min >= -lbound);
}
