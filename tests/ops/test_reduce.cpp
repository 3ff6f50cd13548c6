#include "ops_test_util.hpp"

#include <cmath>
#include <limits>

using namespace ops_test;

TEST_CASE("reduce: sum and mean over dims, keepdim, negative and unordered dims") {
  auto x = tl::arange<double>(24).reshape({2, 3, 4});
  check_values(x.sum({0, 2}), {3}, {60, 92, 124});
  check_values(x.sum({2, -3}), {3}, {60, 92, 124});
  check_values(x.sum({0, 2}, true), {1, 3, 1}, {60, 92, 124});
  check_values(x.mean({-1}), {2, 3}, {1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  check_values(tl::mean(x, {1}, true), {2, 1, 4}, {4, 5, 6, 7, 16, 17, 18, 19});
  check_values(x.sum({}), {}, {276});  // {} means all dims
  check_values(x.sum({}, true), {1, 1, 1}, {276});
  check_values(tl::sum(x, {0, 1, 2}), {}, {276});
  // non-contiguous input
  check_values(x.transpose(0, 2).sum({1}), {4, 2}, {12, 48, 15, 51, 18, 54, 21, 57});
  // 0-d input: dim 0 / -1 are allowed and change nothing
  check_values(td({5}, {}).sum({0}), {}, {5});
  // zero-size dims: sum is 0, mean is NaN (as PyTorch)
  check_values(tl::zeros<double>({2, 0}).sum({1}), {2}, {0, 0});
  CHECK(std::isnan(tl::zeros<double>({2, 0}).mean({1}).to_vector()[0]));
  // integer sums stay exact
  check_values(tl::arange<int64_t>(6).reshape({2, 3}).sum({1}), {2}, {3, 12});
}

TEST_CASE("reduce: float sums accumulate in double") {
  // 2^24 + 1 ones: a float accumulator would stop at 16777216.
  const int64_t n = (int64_t{1} << 24) + 8;
  auto x = tl::ones<float>({1, n});
  CHECK(x.sum({1}).item() == static_cast<float>(n));
  auto y = tl::ones<float>({n / 8, 8});
  check_values(y.sum({0}), {8}, std::vector<double>(8, static_cast<double>(n / 8)));
}

TEST_CASE("reduce: large sums over middle dims match a scalar loop") {
  tl::manual_seed(2);
  auto x = tl::randn<double>({7, 300, 45});
  auto s = x.sum({1});
  auto v = x.to_vector();
  for (int64_t o : {0, 6})
    for (int64_t i : {0, 44}) {
      double ref = 0;
      for (int64_t k = 0; k < 300; ++k) ref += v[(o * 300 + k) * 45 + i];
      CHECK(s.at({o, i}) == doctest::Approx(ref).epsilon(1e-12));
    }
}

TEST_CASE("reduce: max/min over all and over a dim, argmax/argmin") {
  auto y = td({1, 5, 5, 7, 2, 7}, {2, 3});
  check_values(y.max(), {}, {7});
  check_values(tl::min(y), {}, {1});
  auto [v, i] = y.max(1);
  check_values(v, {2}, {5, 7});
  check_values(i, {2}, {1, 0});  // first occurrence
  auto m = tl::min(y, 0, true);
  check_values(m.values, {1, 3}, {1, 2, 5});
  check_values(m.indices, {1, 3}, {0, 1, 0});
  check_values(y.max(-1, true).values, {2, 1}, {5, 7});
  check_values(y.argmax(), {}, {3});
  check_values(tl::argmin(y), {}, {0});
  check_values(y.argmax(1), {2}, {1, 0});
  check_values(y.argmin(0, true), {1, 3}, {0, 1, 0});
  check_values(y.t().argmax(0), {2}, {1, 0});  // transposed view
  check_values(ti({3, -2, 9}, {3}).max(0).values, {}, {9});
  // NaN propagates (as PyTorch)
  auto n = tf({1, std::numeric_limits<float>::quiet_NaN(), 3}, {3}).max(0);
  CHECK(std::isnan(n.values.item()));
  CHECK(n.indices.item() == 1);
}

TEST_CASE("reduce: max gradients") {
  auto y = td({1, 5, 5, 7, 2, 7}, {2, 3}).requires_grad_();
  y.max().backward();
  check_values(y.grad(), {2, 3}, {0, 0, 0, 0.5, 0, 0.5});  // ties share evenly (as PyTorch)
  y.zero_grad();
  y.max(1).values.sum().backward();
  check_values(y.grad(), {2, 3}, {0, 1, 0, 1, 0, 0});  // to the first max element
  y.zero_grad();
  (y.min(0, true).values * td({1, 2, 3}, {3})).sum().backward();
  check_values(y.grad(), {2, 3}, {1, 0, 3, 0, 2, 0});
}

TEST_CASE("reduce: var, std (correction, keepdim)") {
  auto z = td({1, 2, 4, 3, 3, 9}, {2, 3});
  check_values(z.var({1}), {2}, {2.333333333333333, 12.0});
  check_values(z.var({1}, 0), {2}, {1.5555555555555554, 8.0});
  check_values(z.var(), {}, {7.866666666666667});
  check_values(tl::std(z, {0, 1}), {}, {2.8047578623950176});
  check_values(z.var({0}, 1, true), {1, 3}, {2.0, 0.5, 12.5});
  check_values(z.std({-1}), {2}, {std::sqrt(2.333333333333333), std::sqrt(12.0)});
  CHECK(std::isnan(td({3}, {1}).var().item()));  // one element, correction 1: 0/0 (as PyTorch)
  CHECK_THROWS_WITH_AS(z.var({}, -1), doctest::Contains("var"), tl::Error);
}

TEST_CASE("reduce: logsumexp is stable") {
  auto x = tl::arange<double>(1, 7).reshape({2, 3});
  check_values(x.logsumexp(1), {2}, {3.4076059644443806, 6.407605964444381});
  check_values(tl::logsumexp(x, 0, true), {1, 3}, {4.048587351573742, 5.048587351573742, 6.048587351573742});
  const float inf = std::numeric_limits<float>::infinity();
  auto f = tl::logsumexp(tf({-inf, -inf, 1000, 1000}, {2, 2}), -1).to_vector();
  CHECK(f[0] == -inf);
  CHECK(f[1] == doctest::Approx(1000.6931762695312).epsilon(1e-6));
}

TEST_CASE("reduce: errors name the op and the shape") {
  auto x = tl::zeros<double>({2, 3});
  CHECK_THROWS_WITH_AS(x.sum({2}), doctest::Contains("sum: dim 2"), tl::Error);
  CHECK_THROWS_WITH_AS(x.mean({1, -1}), doctest::Contains("mean: dim 1 appears more than once"), tl::Error);
  CHECK_THROWS_WITH_AS(x.max(3), doctest::Contains("max"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::zeros<double>({2, 0}).max(1), doctest::Contains("[2, 0]"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::zeros<double>({0}).max(), doctest::Contains("max"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::zeros<double>({0}).argmin(), doctest::Contains("argmin"), tl::Error);
  CHECK_THROWS_WITH_AS(x.logsumexp(-3), doctest::Contains("logsumexp"), tl::Error);
}

TEST_CASE("gradcheck: reductions") {
  tl::manual_seed(21);
  auto a = tl::randn<double>({2, 3, 4});
  check_grad([](const V& v) { return v[0].sum({1}); }, {a});
  check_grad([](const V& v) { return v[0].sum({0, 2}, true); }, {a});
  check_grad([](const V& v) { return v[0].sum({}, true); }, {a});
  check_grad([](const V& v) { return v[0].transpose(0, 2).sum({-1}); }, {a});
  check_grad([](const V& v) { return v[0].mean({-1}); }, {a});
  check_grad([](const V& v) { return v[0].mean({0, 1}, true); }, {a});
  check_grad([](const V& v) { return v[0].max(); }, {a});
  check_grad([](const V& v) { return v[0].min(); }, {a});
  check_grad([](const V& v) { return v[0].max(1).values; }, {a});
  check_grad([](const V& v) { return v[0].min(-1, true).values; }, {a});
  check_grad([](const V& v) { return v[0].t().max(0).values; }, {tl::randn<double>({3, 5})});
  check_grad([](const V& v) { return v[0].var({1}); }, {a});
  check_grad([](const V& v) { return v[0].var({0, 2}, 0, true); }, {a});
  check_grad([](const V& v) { return v[0].var(); }, {a});
  check_grad([](const V& v) { return v[0].std({2}); }, {a});
  check_grad([](const V& v) { return v[0].logsumexp(1); }, {a});
  check_grad([](const V& v) { return v[0].logsumexp(-1, true); }, {a * 30.0});
}
