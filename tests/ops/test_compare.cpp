#include "ops_test_util.hpp"

#include <limits>

using namespace ops_test;

TEST_CASE("compare: element-wise comparisons with broadcasting and scalars") {
  auto a = td({1, 2, 3, 4}, {2, 2});
  auto b = td({2, 3}, {2});
  check_values(tl::eq(a, b), {2, 2}, {0, 0, 0, 0});
  check_values(a == td({1, 4}, {2}), {2, 2}, {1, 0, 0, 1});
  check_values(a != td({1, 4}, {2}), {2, 2}, {0, 1, 1, 0});
  check_values(a < b, {2, 2}, {1, 1, 0, 0});
  check_values(tl::le(a, b), {2, 2}, {1, 1, 0, 0});
  check_values(a > b, {2, 2}, {0, 0, 1, 1});
  check_values(a >= b, {2, 2}, {0, 0, 1, 1});
  check_values(a.le(2.0), {2, 2}, {1, 1, 0, 0});
  check_values(a > 2.5, {2, 2}, {0, 0, 1, 1});
  check_values(2.5 > a, {2, 2}, {1, 1, 0, 0});
  check_values(a.t() == a, {2, 2}, {1, 0, 0, 1});  // transposed view
  check_values(a.ge(td({3}, {1, 1})), {2, 2}, {0, 0, 1, 1});
  check_values(ti({1, 2, 3}, {3}).ne(int64_t{2}), {3}, {1, 0, 1});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  check_values(tf({nan, 1}, {2}) == tf({nan, 1}, {2}), {2}, {0, 1});  // NaN != NaN
  auto m = a > 2.0;
  static_assert(std::is_same_v<decltype(m), tl::Tensor<bool>>);
  CHECK_THROWS_WITH_AS(tl::lt(a, td({1, 2, 3}, {3})), doctest::Contains("lt: shapes [2, 2] and [3]"), tl::Error);
  CHECK_THROWS_WITH_AS((void)(a == td({1, 2, 3}, {3})), doctest::Contains("eq: shapes [2, 2] and [3]"), tl::Error);
}

TEST_CASE("compare: where with broadcasting, scalars and gradients") {
  auto c = tl::Tensor<bool>(std::vector<bool>{true, false}, {2});
  auto a = td({1, 2, 3, 4}, {2, 2});
  auto b = td({10}, {1});
  check_values(tl::where(c, a, b), {2, 2}, {1, 10, 3, 10});
  check_values(tl::where(a > 2.0, a, 0.0), {2, 2}, {0, 0, 3, 4});
  check_values(tl::where(a > 2.0, -1.0, a.t()), {2, 2}, {1, 3, -1, -1});
  auto x = a.detach().requires_grad_();
  auto y = b.detach().requires_grad_();
  tl::where(c, x, y).sum().backward();
  check_values(x.grad(), {2, 2}, {1, 0, 1, 0});
  check_values(y.grad(), {1}, {2});
  CHECK_THROWS_WITH_AS(tl::where(tl::Tensor<bool>(std::vector<bool>{true, false, true}, {3}), a, b),
                       doctest::Contains("where"), tl::Error);
}

TEST_CASE("compare: maximum and minimum (NaN propagates, ties split the gradient)") {
  auto a = td({1, 5, 3}, {3});
  auto b = td({2, 5, 0}, {3});
  check_values(tl::maximum(a, b), {3}, {2, 5, 3});
  check_values(a.minimum(b), {3}, {1, 5, 0});
  check_values(tl::maximum(a, td({2}, {})), {3}, {2, 5, 3});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(tl::maximum(td({nan, 1}, {2}), td({0, nan}, {2})).to_vector()[0]));
  CHECK(std::isnan(tl::minimum(td({nan, 1}, {2}), td({0, nan}, {2})).to_vector()[1]));
  auto x = a.detach().requires_grad_();
  auto y = b.detach().requires_grad_();
  tl::maximum(x, y).sum().backward();
  check_values(x.grad(), {3}, {0, 0.5, 1});
  check_values(y.grad(), {3}, {1, 0.5, 0});
}

TEST_CASE("gradcheck: where, maximum, minimum") {
  tl::manual_seed(51);
  auto r = [](tl::Shape s) { return tl::randn<double>(s); };
  auto c = r({2, 3}) > 0.0;
  auto c1 = r({3}) > 0.0;
  check_grad([c](const V& v) { return tl::where(c, v[0], v[1]); }, {r({2, 3}), r({2, 3})});
  check_grad([c1](const V& v) { return tl::where(c1, v[0], v[1]); }, {r({2, 1}), r({3})});
  check_grad([c](const V& v) { return tl::where(c, v[0].t(), 0.5); }, {r({3, 2})});
  check_grad([](const V& v) { return tl::maximum(v[0], v[1]); }, {r({2, 3}), r({3})});
  check_grad([](const V& v) { return tl::minimum(v[0], v[1]); }, {r({2, 1}), r({2, 3})});
}
