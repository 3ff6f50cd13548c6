#include <doctest/doctest.h>

#include <tl/tl.hpp>

namespace F = tl::nn::functional;
using TD = tl::Tensor<double>;

TEST_CASE("dropout zeroes about p of the elements and scales the rest by 1/(1-p)") {
  tl::Generator g(9);
  auto x = tl::ones<float>({100, 100});
  auto y = F::dropout(x, 0.3, true, g);
  int64_t zeros = 0;
  for (float v : y.to_vector()) {
    if (v == 0.0f) ++zeros;
    else CHECK(v == doctest::Approx(1.0f / 0.7f));
  }
  CHECK(zeros > 2800);
  CHECK(zeros < 3200);
  // identity when not training or p = 0; all zeros for p = 1
  CHECK(F::dropout(x, 0.3, false).is_same(x));
  CHECK(F::dropout(x, 0.0, true).is_same(x));
  CHECK(F::dropout(x, 1.0, true, g).to_vector() == std::vector<float>(10000, 0.0f));
  CHECK_THROWS_AS(F::dropout(x, 1.5), tl::Error);
  CHECK_THROWS_AS(F::dropout(x, -0.1), tl::Error);
}

TEST_CASE("dropout: a seeded generator gives the same mask; gradient is the mask") {
  tl::Generator g1(4), g2(4);
  auto x = tl::randn<double>({6, 7});
  CHECK(F::dropout(x, 0.5, true, g1).to_vector() == F::dropout(x, 0.5, true, g2).to_vector());
  auto r = tl::gradcheck(
      [](const std::vector<TD>& v) {
        tl::Generator g(17);  // fixed mask on every call
        return F::dropout(v[0], 0.4, true, g);
      },
      {x});
  CHECK_MESSAGE(r.ok, r.message);
  auto xr = x.detach().requires_grad_();
  tl::Generator g3(17);
  auto y = F::dropout(xr, 0.4, true, g3);
  y.sum().backward();
  auto gv = xr.grad().to_vector(), yv = y.to_vector(), xv = x.to_vector();
  for (size_t i = 0; i < gv.size(); ++i) CHECK(yv[i] == doctest::Approx(xv[i] * gv[i]));
}

TEST_CASE("Dropout module: training vs eval, default generator, printing") {
  tl::nn::Dropout<float> d(0.25);
  CHECK(d.repr() == "Dropout(p=0.25, inplace=False)");
  CHECK(tl::nn::Dropout<float>().repr() == "Dropout(p=0.5, inplace=False)");
  auto x = tl::ones<float>({1000});
  tl::manual_seed(1);
  auto a = d(x);
  tl::manual_seed(1);
  auto b = d(x);
  CHECK(a.to_vector() == b.to_vector());  // the mask comes from the default generator
  int64_t zeros = 0;
  for (float v : a.to_vector()) zeros += v == 0.0f;
  CHECK(zeros > 180);
  CHECK(zeros < 320);
  d.eval();
  CHECK(d(x).to_vector() == x.to_vector());
  CHECK_THROWS_AS(tl::nn::Dropout<float>(1.2), tl::Error);
}
