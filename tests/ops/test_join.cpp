#include "ops_test_util.hpp"

using namespace ops_test;

TEST_CASE("join: cat along any dim, negative dims, non-contiguous inputs") {
  auto a = td({1, 2, 3, 4}, {2, 2});
  auto b = td({5, 6}, {1, 2});
  check_values(tl::cat(std::vector{a, b}), {3, 2}, {1, 2, 3, 4, 5, 6});
  check_values(tl::cat(std::vector{a, b.t()}, -1), {2, 3}, {1, 2, 5, 3, 4, 6});
  check_values(tl::cat(std::vector{a.t(), a}, 1), {2, 4}, {1, 3, 1, 2, 2, 4, 3, 4});
  check_values(tl::cat(std::vector{a}, 0), {2, 2}, {1, 2, 3, 4});
  check_values(tl::cat(std::vector{tl::zeros<double>({0, 2}), b}), {1, 2}, {5, 6});
  auto x = tl::arange<int64_t>(12).reshape({2, 3, 2});
  check_values(tl::cat(std::vector{x, x.slice(1, 0, 1)}, 1), {2, 4, 2},
               {0, 1, 2, 3, 4, 5, 0, 1, 6, 7, 8, 9, 10, 11, 6, 7});
  auto m = tl::Tensor<bool>(std::vector<bool>{true, false}, {2});
  check_values(tl::cat(std::vector{m, m}), {4}, {1, 0, 1, 0});
}

TEST_CASE("join: stack along a new dim") {
  auto a = td({1, 2, 3}, {3});
  auto b = td({4, 5, 6}, {3});
  check_values(tl::stack(std::vector{a, b}), {2, 3}, {1, 2, 3, 4, 5, 6});
  check_values(tl::stack(std::vector{a, b}, 1), {3, 2}, {1, 4, 2, 5, 3, 6});
  check_values(tl::stack(std::vector{a, b}, -1), {3, 2}, {1, 4, 2, 5, 3, 6});
  check_values(tl::stack(std::vector{td({7}, {}), td({8}, {})}), {2}, {7, 8});
}

TEST_CASE("join: gradients are split back to each input") {
  auto a = td({1, 2, 3, 4}, {2, 2}).requires_grad_();
  auto b = td({5, 6}, {2, 1}).requires_grad_();
  auto c = tl::zeros<double>({2, 1});  // does not need grad
  auto y = tl::cat(std::vector{a, c, b}, 1);
  (y * td({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4})).sum().backward();
  check_values(a.grad(), {2, 2}, {1, 2, 5, 6});
  check_values(b.grad(), {2, 1}, {4, 8});
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("join: errors name the op and both shapes") {
  auto a = tl::zeros<double>({2, 3});
  CHECK_THROWS_WITH_AS(tl::cat(std::vector<tl::Tensor<double>>{}), doctest::Contains("cat: expected a non-empty list"),
                       tl::Error);
  CHECK_THROWS_WITH_AS(tl::cat(std::vector{a, tl::zeros<double>({3, 3})}, 1),
                       doctest::Contains("cat: tensor 0 of shape [2, 3] and tensor 1 of shape [3, 3]"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::cat(std::vector{a, tl::zeros<double>({6})}),
                       doctest::Contains("shape [2, 3] and tensor 1 of shape [6]"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::cat(std::vector{a, a}, 2), doctest::Contains("cat: dim 2"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::cat(std::vector{tl::zeros<double>({})}), doctest::Contains("cat: zero-dimensional"),
                       tl::Error);
  CHECK_THROWS_WITH_AS(tl::stack(std::vector<tl::Tensor<double>>{}), doctest::Contains("stack"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::stack(std::vector{a, tl::zeros<double>({3, 2})}),
                       doctest::Contains("stack: tensor 0 of shape [2, 3] and tensor 1 of shape [3, 2]"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::stack(std::vector{a, a}, 3), doctest::Contains("stack: dim 3"), tl::Error);
}

TEST_CASE("gradcheck: cat and stack") {
  tl::manual_seed(41);
  auto r = [](tl::Shape s) { return tl::randn<double>(s); };
  check_grad([](const V& v) { return tl::cat(v, 0); }, {r({2, 3}), r({1, 3}), r({3, 3})});
  check_grad([](const V& v) { return tl::cat(v, -1); }, {r({2, 2, 1}), r({2, 2, 3})});
  check_grad([](const V& v) { return tl::cat(std::vector{v[0].t(), v[1]}, 1); }, {r({2, 3}), r({3, 1})});
  check_grad([](const V& v) { return tl::stack(v, 1); }, {r({2, 3}), r({2, 3})});
  check_grad([](const V& v) { return tl::stack(v, -1); }, {r({4}), r({4}), r({4})});
}
