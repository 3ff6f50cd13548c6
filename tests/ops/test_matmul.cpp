#include "ops_test_util.hpp"

using namespace ops_test;

namespace {
/// Reference product of two dense row-major matrices by the definition.
std::vector<double> naive_mm(const std::vector<double>& a, const std::vector<double>& b, int64_t m, int64_t k,
                             int64_t n) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}
}  // namespace

TEST_CASE("matmul: 1-D and 2-D cases like torch.matmul") {
  auto a = td({1, 2, 3, 4}, {2, 2});
  auto b = td({5, 6, 7, 8}, {2, 2});
  check_values(tl::matmul(a, b), {2, 2}, {19, 22, 43, 50});
  check_values(a.mm(b), {2, 2}, {19, 22, 43, 50});
  check_values(tl::matmul(td({1, 2, 3}, {3}), td({4, 5, 6}, {3})), {}, {32});    // dot
  check_values(tl::matmul(a, td({1, 1}, {2})), {2}, {3, 7});                    // matrix-vector
  check_values(tl::matmul(td({1, 1}, {2}), a), {2}, {4, 6});                    // vector-matrix
  check_values(tl::matmul(td({1, 2, 3, 4, 5, 6}, {2, 3}), td({1, 0, 0, 1, 1, 1}, {3, 2})), {2, 2}, {4, 5, 10, 11});
  // transposed views are read in place (column-major) and give the same numbers
  check_values(a.t().matmul(b), {2, 2}, {26, 30, 38, 44});
  check_values(a.matmul(b.t()), {2, 2}, {17, 23, 39, 53});
  check_values(a.t().matmul(b.t()), {2, 2}, {23, 31, 34, 46});
  // a strided view that is neither row- nor column-major is copied first
  auto big = tl::arange<double>(16).reshape({4, 4});
  check_values(big.slice(0, 0, 4, 2).slice(1, 0, 4, 2).matmul(a), {2, 2}, {6, 8, 38, 56});
  check_values(tl::matmul(tl::arange<int64_t>(4).reshape({2, 2}), tl::arange<int64_t>(4).reshape({2, 2})), {2, 2},
               {2, 3, 6, 11});
  check_values(tl::matmul(tl::zeros<double>({2, 0}), tl::zeros<double>({0, 3})), {2, 3}, {0, 0, 0, 0, 0, 0});
}

TEST_CASE("matmul: batched with broadcast batch dims") {
  tl::manual_seed(4);
  auto a = tl::randn<double>({2, 1, 3, 4});
  auto b = tl::randn<double>({5, 4, 2});
  auto c = tl::matmul(a, b);
  REQUIRE(c.shape() == tl::Shape{2, 5, 3, 2});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      auto ref = naive_mm(a.select(0, i).select(0, 0).contiguous().to_vector(),
                          b.select(0, j).contiguous().to_vector(), 3, 4, 2);
      check_values(c.select(0, i).select(0, j), {3, 2}, ref, 1e-12);
    }
  // N-D x 2-D (the Linear case, folded into one GEMM) and N-D x 1-D, 1-D x N-D
  auto w = tl::randn<double>({4, 6});
  auto d = tl::matmul(a, w);
  REQUIRE(d.shape() == tl::Shape{2, 1, 3, 6});
  check_values(d.select(0, 1).select(0, 0), {3, 6},
               naive_mm(a.select(0, 1).select(0, 0).contiguous().to_vector(), w.to_vector(), 3, 4, 6), 1e-12);
  CHECK(tl::matmul(a, tl::ones<double>({4})).shape() == tl::Shape{2, 1, 3});
  CHECK(tl::matmul(tl::ones<double>({3}), a).shape() == tl::Shape{2, 1, 4});
  auto e = tl::bmm(tl::randn<double>({3, 2, 4}), tl::randn<double>({3, 4, 5}));
  CHECK(e.shape() == tl::Shape{3, 2, 5});
  // many small products (parallel over the batch) agree with the per-matrix reference
  auto p = tl::randn<double>({64, 8, 8});
  auto q = tl::randn<double>({64, 8, 8});
  auto r = p.bmm(q);
  check_values(r.select(0, 63), {8, 8}, naive_mm(p.select(0, 63).to_vector(), q.select(0, 63).to_vector(), 8, 8, 8),
               1e-12);
}

TEST_CASE("matmul: float GEMM matches a double reference") {
  tl::manual_seed(9);
  auto a = tl::randn<double>({70, 130});
  auto b = tl::randn<double>({130, 90});
  auto ref = naive_mm(a.to_vector(), b.to_vector(), 70, 130, 90);
  auto c = tl::matmul(a.to<float>(), b.to<float>()).to_vector();
  for (size_t i = 0; i < ref.size(); i += 37) CHECK(c[i] == doctest::Approx(ref[i]).epsilon(1e-4).scale(10));
}

TEST_CASE("matmul: errors name the op and both shapes") {
  auto a = tl::zeros<double>({2, 3});
  CHECK_THROWS_WITH_AS(tl::matmul(a, tl::zeros<double>({2, 3})), doctest::Contains("matmul: shapes [2, 3] and [2, 3]"),
                       tl::Error);
  CHECK_THROWS_WITH_AS(tl::matmul(tl::zeros<double>({3}), tl::zeros<double>({4})),
                       doctest::Contains("matmul: 1-D shapes [3] and [4]"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::matmul(tl::zeros<double>({2, 2, 3}), tl::zeros<double>({3, 3, 4})),
                       doctest::Contains("[2, 2, 3] and [3, 3, 4]"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::matmul(tl::zeros<double>({}), a), doctest::Contains("matmul"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::mm(tl::zeros<double>({3}), a), doctest::Contains("mm: expected 2-D"), tl::Error);
  CHECK_THROWS_WITH_AS(tl::bmm(tl::zeros<double>({2, 2, 3}), tl::zeros<double>({3, 3, 4})),
                       doctest::Contains("bmm: batch sizes differ in shapes [2, 2, 3] and [3, 3, 4]"), tl::Error);
}

TEST_CASE("gradcheck: matmul in every form") {
  tl::manual_seed(31);
  auto r = [](tl::Shape s) { return tl::randn<double>(s); };
  auto mm = [](const V& v) { return tl::matmul(v[0], v[1]); };
  check_grad(mm, {r({3}), r({3})});
  check_grad(mm, {r({2, 3}), r({3, 4})});
  check_grad(mm, {r({3}), r({3, 4})});
  check_grad(mm, {r({2, 3}), r({3})});
  check_grad(mm, {r({2, 2, 3}), r({3, 4})});        // b shared by the batch (folded GEMM)
  check_grad(mm, {r({2, 3}), r({2, 3, 4})});        // a shared by the batch
  check_grad(mm, {r({2, 1, 2, 3}), r({3, 3, 2})});  // broadcast batch dims on both sides
  check_grad(mm, {r({2, 2, 3}), r({3})});
  check_grad(mm, {r({3}), r({2, 3, 4})});
  check_grad([](const V& v) { return v[0].t().matmul(v[1].t()); }, {r({3, 2}), r({4, 3})});
  check_grad([](const V& v) { return v[0].transpose(1, 2).matmul(v[1]); }, {r({2, 3, 2}), r({3, 4})});
  check_grad([](const V& v) { return tl::mm(v[0], v[1]); }, {r({2, 3}), r({3, 2})});
  check_grad([](const V& v) { return tl::bmm(v[0], v[1]); }, {r({2, 2, 3}), r({2, 3, 2})});
}
