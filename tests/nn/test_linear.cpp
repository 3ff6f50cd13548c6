#include <doctest/doctest.h>

#include <tl/tl.hpp>

#include "nn_ref.hpp"

namespace F = tl::nn::functional;
using TD = tl::Tensor<double>;

TEST_CASE("linear matches PyTorch: output and gradients of x, W, b") {
  for (const char* name : {"linear2d", "linear3d"}) {
    nnref::check_case<double>(name, 3, [](const std::vector<TD>& v) { return F::linear(v[0], v[1], v[2]); }, 1e-12);
    nnref::check_case<float>(
        name, 3, [](const std::vector<tl::Tensor<float>>& v) { return F::linear(v[0], v[1], v[2]); }, 2e-5);
  }
  nnref::check_case<double>("linear_nobias", 2, [](const std::vector<TD>& v) { return F::linear(v[0], v[1]); }, 1e-12);
}

TEST_CASE("linear gradcheck (2-d, 3-d, 1-d input, no bias, transposed weight)") {
  tl::Generator g(1);
  auto r = tl::gradcheck([](const std::vector<TD>& v) { return F::linear(v[0], v[1], v[2]); },
                         {tl::randn<double>({3, 4}, g), tl::randn<double>({5, 4}, g), tl::randn<double>({5}, g)});
  CHECK_MESSAGE(r.ok, r.message);
  r = tl::gradcheck([](const std::vector<TD>& v) { return F::linear(v[0], v[1], v[2]); },
                    {tl::randn<double>({2, 3, 4}, g), tl::randn<double>({2, 4}, g), tl::randn<double>({2}, g)});
  CHECK_MESSAGE(r.ok, r.message);
  r = tl::gradcheck([](const std::vector<TD>& v) { return F::linear(v[0], v[1]); },
                    {tl::randn<double>({4}, g), tl::randn<double>({3, 4}, g)});
  CHECK_MESSAGE(r.ok, r.message);
  // a non-contiguous input and weight
  r = tl::gradcheck([](const std::vector<TD>& v) { return F::linear(v[0].t(), v[1].t(), v[2]); },
                    {tl::randn<double>({4, 3}, g), tl::randn<double>({4, 5}, g), tl::randn<double>({5}, g)});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("Linear module: parameters, init bounds, printing, forward") {
  tl::manual_seed(5);
  auto lin = std::make_shared<tl::nn::Linear<float>>(20, 3);
  auto np = lin->named_parameters();
  REQUIRE(np.size() == 2);
  CHECK(np[0].first == "weight");
  CHECK(np[1].first == "bias");
  CHECK(lin->weight.shape() == tl::Shape{3, 20});
  CHECK(lin->bias.shape() == tl::Shape{3});
  CHECK(lin->weight.requires_grad());
  const float bound = 1.0f / std::sqrt(20.0f);
  for (float v : lin->weight.to_vector()) CHECK(std::abs(v) <= bound);
  for (float v : lin->bias.to_vector()) CHECK(std::abs(v) <= bound);
  CHECK(lin->repr() == "Linear(in_features=20, out_features=3, bias=True)");

  auto nob = std::make_shared<tl::nn::Linear<float>>(4, 2, false);
  CHECK(nob->named_parameters().size() == 1);
  CHECK(!nob->bias.defined());
  CHECK(nob->repr() == "Linear(in_features=4, out_features=2, bias=False)");
  CHECK(nob->state_dict().keys() == std::vector<std::string>{"weight"});

  auto x = tl::randn<float>({7, 20});
  auto y = lin->forward(x);
  CHECK(y.shape() == tl::Shape{7, 3});
  // y[i, j] = sum_k x[i, k] w[j, k] + b[j]
  double want = lin->bias.at({1});
  for (int64_t k = 0; k < 20; ++k) want += double(x.at({4, k})) * lin->weight.at({1, k});
  CHECK(y.at({4, 1}) == doctest::Approx(want).epsilon(1e-5));
  (*lin)(x).sum().backward();
  CHECK(lin->weight.grad().shape() == tl::Shape{3, 20});
  CHECK(lin->bias.grad().to_vector() == std::vector<float>(3, 7.0f));
}

TEST_CASE("Linear reports wrong shapes naming Linear and both shapes") {
  auto lin = std::make_shared<tl::nn::Linear<float>>(4, 3);
  try {
    lin->forward(tl::zeros<float>({2, 5}));
    FAIL("expected tl::Error");
  } catch (const tl::Error& e) {
    std::string m = e.what();
    CHECK(m.find("Linear") != std::string::npos);
    CHECK(m.find("[2, 5]") != std::string::npos);
    CHECK(m.find("[3, 4]") != std::string::npos);
  }
  CHECK_THROWS_AS(F::linear(tl::zeros<float>({2, 4}), tl::zeros<float>({3, 4}), tl::zeros<float>({4})), tl::Error);
  CHECK_THROWS_AS(F::linear(tl::zeros<float>({2, 4}), tl::zeros<float>({4})), tl::Error);
  CHECK_THROWS_AS(F::linear(tl::scalar_tensor<float>(1), tl::zeros<float>({3, 1})), tl::Error);
}

TEST_CASE("linear handles empty batches and zero features") {
  auto y = F::linear(tl::zeros<float>({0, 4}), tl::ones<float>({3, 4}), tl::ones<float>({3}));
  CHECK(y.shape() == tl::Shape{0, 3});
  auto z = F::linear(tl::zeros<float>({2, 0}), tl::ones<float>({3, 0}), tl::full<float>({3}, 2.0f));
  CHECK(z.to_vector() == std::vector<float>(6, 2.0f));
}
