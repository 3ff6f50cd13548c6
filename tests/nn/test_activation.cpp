#include <doctest/doctest.h>

#include <tl/tl.hpp>

#include "nn_ref.hpp"

namespace F = tl::nn::functional;
using TD = tl::Tensor<double>;
using Fn = std::function<TD(const std::vector<TD>&)>;

TEST_CASE("softmax and log_softmax match PyTorch over an inner and the last dim") {
  nnref::check_case<double>("softmax_d1", 1, [](const std::vector<TD>& v) { return F::softmax(v[0], 1); }, 1e-14);
  nnref::check_case<double>("softmax_dlast", 1, [](const std::vector<TD>& v) { return F::softmax(v[0], -1); }, 1e-14);
  nnref::check_case<double>("log_softmax_d1", 1, [](const std::vector<TD>& v) { return F::log_softmax(v[0], 1); },
                            1e-13);
  nnref::check_case<double>("log_softmax_dlast", 1,
                            [](const std::vector<TD>& v) { return F::log_softmax(v[0], -1); }, 1e-13);
  nnref::check_case<float>("log_softmax_d1", 1,
                           [](const std::vector<tl::Tensor<float>>& v) { return F::log_softmax(v[0], 1); }, 5e-6);
}

TEST_CASE("softmax is stable for large inputs and sums to one") {
  auto x = tl::Tensor<float>(std::vector<float>{1000, 1001, 1002, -1000, -1001, -1002}, {2, 3});
  auto p = F::softmax(x, 1);
  for (float v : p.to_vector()) CHECK(std::isfinite(v));
  CHECK(p.at({0, 0}) + p.at({0, 1}) + p.at({0, 2}) == doctest::Approx(1.0f));
  CHECK(p.at({0, 2}) == doctest::Approx(p.at({1, 0})));
  auto lp = F::log_softmax(x, 1);
  CHECK(lp.at({0, 2}) == doctest::Approx(-std::log(1 + std::exp(-1.0) + std::exp(-2.0))).epsilon(1e-5));
  CHECK_THROWS_AS(F::softmax(x, 2), tl::Error);
}

TEST_CASE("softmax / log_softmax gradcheck over every dim") {
  tl::Generator g(2);
  auto x = tl::randn<double>({2, 3, 4}, g);
  for (int64_t d : {0, 1, 2, -1}) {
    INFO("dim ", d);
    auto r = tl::gradcheck([d](const std::vector<TD>& v) { return F::softmax(v[0], d); }, {x});
    CHECK_MESSAGE(r.ok, r.message);
    r = tl::gradcheck([d](const std::vector<TD>& v) { return F::log_softmax(v[0], d); }, {x});
    CHECK_MESSAGE(r.ok, r.message);
  }
  // a non-contiguous input
  auto r = tl::gradcheck([](const std::vector<TD>& v) { return F::softmax(v[0].transpose(0, 2), 1); }, {x});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("element-wise activations match PyTorch and pass gradcheck") {
  const std::vector<std::pair<std::string, Fn>> acts = {
      {"relu", [](const std::vector<TD>& v) { return F::relu(v[0]); }},
      {"leaky_relu", [](const std::vector<TD>& v) { return F::leaky_relu(v[0], 0.2); }},
      {"sigmoid", [](const std::vector<TD>& v) { return F::sigmoid(v[0]); }},
      {"tanh", [](const std::vector<TD>& v) { return F::tanh(v[0]); }},
      {"gelu", [](const std::vector<TD>& v) { return F::gelu(v[0]); }},
      {"gelu_tanh", [](const std::vector<TD>& v) { return F::gelu(v[0], "tanh"); }},
      {"silu", [](const std::vector<TD>& v) { return F::silu(v[0]); }},
  };
  tl::Generator g(3);
  auto x = tl::randn<double>({3, 5}, g) * 2.0;
  for (const auto& [binding_name, fn] : acts) {
    const auto& name = binding_name;  // clang 14 cannot capture a structured binding in a lambda
    nnref::check_case<double>(name, 1, fn, 1e-12);
    INFO("activation ", name);
    auto r = tl::gradcheck(fn, {x});
    CHECK_MESSAGE(r.ok, r.message);
  }
  CHECK_THROWS_AS(F::gelu(x, "fast"), tl::Error);
}

TEST_CASE("activation modules forward and print like PyTorch") {
  auto x = tl::Tensor<float>(std::vector<float>{-2, -0.5f, 0, 1.5f}, {2, 2});
  CHECK(tl::nn::ReLU<float>()(x).to_vector() == std::vector<float>{0, 0, 0, 1.5f});
  CHECK(tl::nn::ReLU<float>(true).repr() == "ReLU(inplace=True)");
  CHECK(tl::nn::ReLU<float>().repr() == "ReLU()");
  CHECK(tl::nn::LeakyReLU<float>(0.1)(x).to_vector() == std::vector<float>{-0.2f, -0.05f, 0, 1.5f});
  CHECK(tl::nn::LeakyReLU<float>().repr() == "LeakyReLU(negative_slope=0.01)");
  CHECK(tl::nn::Sigmoid<float>()(x).at({1, 0}) == doctest::Approx(0.5f));
  CHECK(tl::nn::Tanh<float>()(x).at({1, 1}) == doctest::Approx(std::tanh(1.5f)));
  CHECK(tl::nn::GELU<float>().repr() == "GELU(approximate='none')");
  CHECK(tl::nn::SiLU<float>()(x).at({1, 1}) == doctest::Approx(1.5f / (1 + std::exp(-1.5f))));
  tl::nn::Softmax<float> sm(1);
  CHECK(sm.repr() == "Softmax(dim=1)");
  CHECK(sm(x).at({0, 0}) + sm(x).at({0, 1}) == doctest::Approx(1.0f));
  CHECK(tl::nn::LogSoftmax<float>(-1).repr() == "LogSoftmax(dim=-1)");
}
