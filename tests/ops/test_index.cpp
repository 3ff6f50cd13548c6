#include "ops_test_util.hpp"

using namespace ops_test;

TEST_CASE("index: gather along dims, smaller index, non-contiguous input") {
  auto x = td({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(tl::gather(x, 1, ti({2, 0, 1, 1}, {2, 2})), {2, 2}, {3, 1, 5, 5});
  check_values(x.gather(0, ti({1, 0, 1}, {1, 3})), {1, 3}, {4, 2, 6});
  check_values(x.gather(-1, ti({0, 2}, {2, 1})), {2, 1}, {1, 6});  // picking one class per row
  check_values(x.t().gather(1, ti({1, 0, 0}, {3, 1})), {3, 1}, {4, 2, 3});
  check_values(x.gather(1, ti({}, {2, 0})), {2, 0}, {});
}

TEST_CASE("index: index_select and its gradient (repeated indices accumulate)") {
  auto x = td({1, 2, 3, 4, 5, 6}, {3, 2});
  check_values(tl::index_select(x, 0, ti({2, 0, 2}, {3})), {3, 2}, {5, 6, 1, 2, 5, 6});
  check_values(x.index_select(1, ti({1}, {1})), {3, 1}, {2, 4, 6});
  check_values(x.index_select(-1, ti({1}, {})), {3, 1}, {2, 4, 6});
  check_values(x.t().index_select(0, ti({1, 0}, {2})), {2, 3}, {2, 4, 6, 1, 3, 5});
  auto w = x.detach().requires_grad_();
  w.index_select(0, ti({2, 0, 2}, {3})).sum().backward();
  check_values(w.grad(), {3, 2}, {1, 1, 0, 0, 2, 2});
  auto v = x.detach().requires_grad_();
  v.gather(1, ti({1, 1, 0, 1, 0, 0}, {3, 2})).sum().backward();
  check_values(v.grad(), {3, 2}, {0, 2, 1, 1, 2, 0});
}

TEST_CASE("index: one_hot") {
  check_values(tl::one_hot(ti({0, 2, 1}, {3})), {3, 3}, {1, 0, 0, 0, 0, 1, 0, 1, 0});
  check_values(tl::one_hot(ti({1, 0}, {2, 1}), 3), {2, 1, 3}, {0, 1, 0, 1, 0, 0});
  check_values(tl::one_hot(ti({2, 0}, {2}).slice(0, 0, 2, 1), 4), {2, 4}, {0, 0, 1, 0, 1, 0, 0, 0});
  CHECK_THROWS_WITH_AS(tl::one_hot(ti({0, 3}, {2}), 3), doctest::Contains("one_hot: class value 3"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::one_hot(ti({-1}, {1}), 3), doctest::Contains("one_hot"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::one_hot(ti({}, {0})), doctest::Contains("one_hot"), tl::Error);
}

TEST_CASE("index: out-of-range indices and bad shapes throw, naming the index and the size") {
  auto x = tl::zeros<double>({2, 3});
  CHECK_THROWS_WITH_AS(x.gather(1, ti({3, 0}, {2, 1})),
                       doctest::Contains("gather: index 3 is out of range for dim 1 of size 3"), tl::Error);
  CHECK_THROWS_WITH_AS(x.gather(1, ti({-1, 0}, {2, 1})), doctest::Contains("index -1"), tl::Error);
  CHECK_THROWS_WITH_AS(x.gather(1, ti({0, 0}, {2})), doctest::Contains("gather: index shape [2]"), tl::Error);
  CHECK_THROWS_WITH_AS(x.gather(0, ti({0, 0, 0, 0}, {1, 4})), doctest::Contains("[2, 3]"), tl::Error);
  CHECK_THROWS_WITH_AS(x.gather(2, ti({0}, {1, 1})), doctest::Contains("gather: dim 2"), tl::Error);
  CHECK_THROWS_WITH_AS(x.index_select(0, ti({0, 2}, {2})),
                       doctest::Contains("index_select: index 2 is out of range for dim 0 of size 2"), tl::Error);
  CHECK_THROWS_WITH_AS(x.index_select(0, ti({0, 0}, {1, 2})), doctest::Contains("index_select: index must be 1-D"),
                       tl::Error);
}

TEST_CASE("gradcheck: gather and index_select") {
  tl::manual_seed(61);
  auto r = [](tl::Shape s) { return tl::randn<double>(s); };
  auto i1 = ti({2, 0, 1, 1, 0, 0}, {2, 3});
  check_grad([i1](const V& v) { return v[0].gather(1, i1); }, {r({2, 4})});
  check_grad([i1](const V& v) { return v[0].gather(0, i1); }, {r({3, 3})});
  check_grad([i1](const V& v) { return v[0].t().gather(1, i1); }, {r({4, 2})});
  auto i2 = ti({1, 1, 0}, {3});
  check_grad([i2](const V& v) { return v[0].index_select(0, i2); }, {r({2, 3})});
  check_grad([i2](const V& v) { return v[0].index_select(-1, i2); }, {r({2, 3, 2})});
  check_grad([i2](const V& v) { return v[0].transpose(0, 1).index_select(1, i2); }, {r({2, 3})});
}
