#include <doctest/doctest.h>

#include <sstream>
#include <tl/tl.hpp>

TEST_CASE("the foundation API contract compiles and behaves") {
  tl::manual_seed(0);
  auto x = tl::randn<float>({8, 3, 32, 32});
  CHECK(x.shape() == tl::Shape{8, 3, 32, 32});
  auto a = tl::ones<float>({2, 3}) + tl::ones<float>({2, 3});
  CHECK(a.data()[5] == 2.0f);
  auto t = tl::Tensor<double>(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.at({1, 2}) == 6.0);
  CHECK(t.numel() == 6);
  CHECK(t.dim() == 2);
}

TEST_CASE("construction checks the number of values") {
  CHECK_THROWS_AS(tl::Tensor<float>(std::vector<float>{1, 2, 3}, {2, 2}), tl::Error);
  CHECK_THROWS_WITH_AS(tl::Tensor<float>(std::vector<float>{1, 2, 3}, {2, 2}),
                       doctest::Contains("[2, 2]"), tl::Error);
}

TEST_CASE("factories") {
  CHECK(tl::zeros<float>({3}).to_vector() == std::vector<float>{0, 0, 0});
  CHECK(tl::full<double>({2}, 2.5).to_vector() == std::vector<double>{2.5, 2.5});
  CHECK(tl::arange<float>(5).to_vector() == std::vector<float>{0, 1, 2, 3, 4});
  CHECK(tl::arange<double>(1, 2, 0.25).to_vector() == std::vector<double>{1, 1.25, 1.5, 1.75});
  tl::manual_seed(42);
  auto r1 = tl::randn<float>({100});
  tl::manual_seed(42);
  auto r2 = tl::randn<float>({100});
  CHECK(r1.to_vector() == r2.to_vector());
  auto u = tl::rand<double>({1000});
  for (double v : u.to_vector()) {
    CHECK(v >= 0.0);
    CHECK(v < 1.0);
  }
  double m = u.mean().item();
  CHECK(m == doctest::Approx(0.5).epsilon(0.05));
  auto n = tl::randn<double>({20000});
  CHECK(n.mean().item() == doctest::Approx(0.0).epsilon(0.03));
  CHECK((n * n).mean().item() == doctest::Approx(1.0).epsilon(0.03));
}

TEST_CASE("generator state round-trips") {
  tl::Generator g(7);
  g.normal();
  auto st = g.state();
  double a = g.normal(), b = g.uniform();
  tl::Generator h;
  h.set_state(st);
  CHECK(h.normal() == a);
  CHECK(h.uniform() == b);
}

TEST_CASE("views share storage") {
  auto x = tl::arange<float>(12).reshape({3, 4});
  auto tr = x.transpose(0, 1);
  CHECK(tr.shape() == tl::Shape{4, 3});
  CHECK(!tr.is_contiguous());
  CHECK(tr.at({3, 2}) == 11.0f);
  CHECK(tr.contiguous().to_vector() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  auto n = x.narrow(1, 1, 2);
  CHECK(n.to_vector() == std::vector<float>{1, 2, 5, 6, 9, 10});
  n.at_ref({0, 0}) = 100;
  CHECK(x.at({0, 1}) == 100.0f);
  CHECK(x.select(0, 2).to_vector() == std::vector<float>{8, 9, 10, 11});
  CHECK(x.slice(1, 0, 4, 2).to_vector() == std::vector<float>{0, 2, 4, 6, 8, 10});
  CHECK(x.unsqueeze(0).shape() == tl::Shape{1, 3, 4});
  CHECK(x.unsqueeze(-1).shape() == tl::Shape{3, 4, 1});
  CHECK(x.unsqueeze(1).squeeze().shape() == tl::Shape{3, 4});
  CHECK(x.reshape({-1}).shape() == tl::Shape{12});
  CHECK(x.permute({1, 0}).shape() == tl::Shape{4, 3});
  CHECK(tl::arange<float>(3).reshape({3, 1}).expand({3, 2}).to_vector() == std::vector<float>{0, 0, 1, 1, 2, 2});
  CHECK(tr.reshape({12}).to_vector()[1] == 4.0f);
}

TEST_CASE("bad dims and shapes throw tl::Error naming the op") {
  auto x = tl::zeros<float>({2, 3});
  CHECK_THROWS_WITH_AS(x.transpose(0, 2), doctest::Contains("transpose"), tl::Error);
  CHECK_THROWS_WITH_AS(x.view({4, 2}), doctest::Contains("[2, 3]"), tl::Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, 2, 2), doctest::Contains("narrow"), tl::Error);
  CHECK_THROWS_WITH_AS(x.at({2, 0}), doctest::Contains("out of range"), tl::Error);
  CHECK_THROWS_WITH_AS(x + tl::zeros<float>({4}), doctest::Contains("[2, 3] and [4]"), tl::Error);
  CHECK_THROWS_AS(x.transpose(0, 1).view({6}), tl::Error);
  CHECK_THROWS_AS(tl::Tensor<float>().shape(), tl::Error);
}

TEST_CASE("printing") {
  std::ostringstream s;
  s << tl::Tensor<float>(std::vector<float>{1, 2, 3, 4}, {2, 2});
  CHECK(s.str() == "tensor([[1, 2],\n        [3, 4]], shape=[2, 2], dtype=float32)");
  std::ostringstream big;
  big << tl::arange<float>(100);
  CHECK(big.str().find("...") != std::string::npos);
}
