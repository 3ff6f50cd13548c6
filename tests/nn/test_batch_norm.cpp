#include <doctest/doctest.h>

#include <tl/tl.hpp>

#include "nn/test_conv_support.hpp"

using tl::Tensor;
using tl::test::check_close;
using tl::test::cref;
using tl::test::throws_with;

namespace {

/// Replays make_conv_reference.py's bn_steps: `steps` training forwards/backwards, then one in eval.
template <class T>
void check_bn_against_pytorch(const std::string& prefix, tl::nn::BatchNorm<T>& bn, int steps, double rtol) {
  if (bn.affine) {
    tl::NoGradGuard no_grad;
    bn.weight.copy_(cref<T>(prefix + "weight"));
    bn.bias.copy_(cref<T>(prefix + "bias"));
  }
  auto step = [&](const std::string& pre) {
    INFO(pre);
    auto x = cref<T>(pre + "x").requires_grad_();
    auto y = bn.forward(x);
    check_close(y, pre + "y", rtol);
    bn.zero_grad();
    y.backward(cref<T>(pre + "gy"));
    check_close(x.grad(), pre + "gx", rtol);
    if (bn.affine) {
      check_close(bn.weight.grad(), pre + "gweight", rtol);
      check_close(bn.bias.grad(), pre + "gbias", rtol);
    }
  };
  bn.train();
  for (int i = 0; i < steps; ++i) {
    const std::string pre = prefix + "train" + std::to_string(i) + ".";
    step(pre);
    if (bn.track_running_stats) {
      check_close(bn.running_mean, pre + "running_mean", rtol);
      check_close(bn.running_var, pre + "running_var", rtol);
      check_close(bn.num_batches_tracked, pre + "num_batches_tracked", 0);
    }
  }
  bn.eval();
  step(prefix + "eval.");
}

template <class T>
void check_all_bn(double rtol) {
  using tl::nn::BatchNorm1d;
  using tl::nn::BatchNorm2d;
  BatchNorm2d<T> plain(3);
  check_bn_against_pytorch("bn2d.", plain, 3, rtol);
  BatchNorm2d<T> cma(3, 1e-5, std::nullopt);  // momentum=None: cumulative moving average
  check_bn_against_pytorch("bn2d_cma.", cma, 3, rtol);
  BatchNorm2d<T> noaffine(2, 1e-3, 0.3, /*affine=*/false);
  check_bn_against_pytorch("bn2d_noaffine.", noaffine, 2, rtol);
  BatchNorm2d<T> nostats(2, 1e-5, 0.1, true, /*track_running_stats=*/false);
  check_bn_against_pytorch("bn2d_nostats.", nostats, 1, rtol);
  BatchNorm1d<T> bn1d(4);
  check_bn_against_pytorch("bn1d.", bn1d, 2, rtol);
  BatchNorm1d<T> ncl(3);
  check_bn_against_pytorch("bn1d_ncl.", ncl, 2, rtol);
}

tl::GradcheckResult bn_gradcheck(const tl::Shape& xs, bool affine, bool training, bool relu = false) {
  tl::Generator gen(11);
  const int64_t C = xs[1];
  auto rm = tl::randn<double>({C}, gen), rv = tl::rand<double>({C}, gen) + 0.5;
  std::vector<Tensor<double>> in{tl::randn<double>(xs, gen) * 2.0 + 1.0};
  if (affine) {
    in.push_back(tl::rand<double>({C}, gen) + 0.5);
    in.push_back(tl::randn<double>({C}, gen));
  }
  return tl::gradcheck(
      [&](const std::vector<Tensor<double>>& v) {
        // Fresh copies: training updates the running stats, and f must be deterministic.
        auto m = tl::Tensor<double>(rm.to_vector(), rm.shape()), s = tl::Tensor<double>(rv.to_vector(), rv.shape());
        const auto w = affine ? v[1] : Tensor<double>(), b = affine ? v[2] : Tensor<double>();
        return relu ? tl::batch_norm_relu(v[0], m, s, w, b, training, 0.1, 1e-5)
                    : tl::batch_norm(v[0], m, s, w, b, training, 0.1, 1e-5);
      },
      in);
}

}  // namespace

TEST_CASE("BatchNorm1d/2d match PyTorch: train steps (output, grads, running stats), then eval") {
  check_all_bn<double>(1e-10);
  check_all_bn<float>(2e-5);
}

TEST_CASE("batch_norm and batch_norm_relu gradcheck") {
  for (bool relu : {false, true})
    for (bool training : {true, false})
      for (bool affine : {true, false}) {
        INFO("relu ", relu, " training ", training, " affine ", affine);
        auto r4 = bn_gradcheck({3, 2, 3, 2}, affine, training, relu);
        CHECK_MESSAGE(r4.ok, r4.message);
        auto r2 = bn_gradcheck({5, 3}, affine, training, relu);
        CHECK_MESSAGE(r2.ok, r2.message);
      }
}

TEST_CASE("BatchNorm2d::forward_relu equals relu(forward): output, gradients, running statistics") {
  for (bool training : {true, false}) {
    INFO("training ", training);
    tl::Generator gen(5);
    tl::nn::BatchNorm2d<float> fused(6), plain(6);
    auto w = tl::rand<float>({6}, gen) + 0.5f, b = tl::randn<float>({6}, gen);
    {
      tl::NoGradGuard ng;
      for (auto* m : {&fused, &plain}) {
        m->weight.copy_(w);
        m->bias.copy_(b);
        m->running_mean.copy_(b * 0.5f);
        m->running_var.copy_(w);
      }
    }
    fused.train(training);
    plain.train(training);
    auto x = tl::randn<float>({4, 6, 5, 7}, gen) * 2.0f + 0.3f, gy = tl::randn<float>({4, 6, 5, 7}, gen);
    auto x1 = x.clone().requires_grad_(), x2 = x.clone().requires_grad_();
    auto y1 = fused.forward_relu(x1), y2 = tl::relu(plain.forward(x2));
    const auto v1 = y1.to_vector(), v2 = y2.to_vector();
    int64_t zeros = 0;
    for (size_t i = 0; i < v1.size(); ++i) zeros += v1[i] == 0.0f;
    CHECK(zeros > 100);  // the ReLU clips a good share (so the masking is exercised)
    CHECK(zeros < static_cast<int64_t>(v1.size()) - 100);
    using tl::test::max_abs_diff;
    CHECK(max_abs_diff(y1, y2) <= 1e-6);
    (y1 * gy).sum().backward();
    (y2 * gy).sum().backward();
    CHECK(max_abs_diff(x1.grad(), x2.grad()) <= 1e-5);
    CHECK(max_abs_diff(fused.weight.grad(), plain.weight.grad()) <= 1e-4);
    CHECK(max_abs_diff(fused.bias.grad(), plain.bias.grad()) <= 1e-4);
    CHECK(max_abs_diff(fused.running_mean, plain.running_mean) == 0);
    CHECK(max_abs_diff(fused.running_var, plain.running_var) == 0);
    CHECK(fused.num_batches_tracked.item() == plain.num_batches_tracked.item());
    CHECK(y1.grad_fn()->name() == "BatchNormReluBackward");
  }
}

TEST_CASE("batch_norm: known values and the running-stat update formula") {
  // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased var 5/3.
  Tensor<double> x(std::vector<double>{1, 2, 3, 4}, {4, 1});
  auto rm = tl::zeros<double>({1}), rv = tl::ones<double>({1});
  auto y = tl::nn::functional::batch_norm(x, rm, rv, Tensor<double>(), Tensor<double>(), true, 0.5, 0.0);
  const double s = std::sqrt(1.25);
  CHECK(y.to_vector()[0] == doctest::Approx(-1.5 / s));
  CHECK(y.to_vector()[3] == doctest::Approx(1.5 / s));
  CHECK(rm.item() == doctest::Approx(1.25));                  // 0.5 * 0 + 0.5 * 2.5
  CHECK(rv.item() == doctest::Approx(0.5 + 0.5 * 5.0 / 3.0));  // unbiased variance goes in
  auto ye = tl::batch_norm(x, rm, rv, tl::full<double>({1}, 2.0), tl::full<double>({1}, 1.0));  // eval
  CHECK(ye.to_vector()[0] == doctest::Approx((1 - 1.25) / std::sqrt(rv.item() + 1e-5) * 2 + 1));
}

TEST_CASE("BatchNorm2d: module contract, buffers, state dict, printout") {
  auto bn = std::make_shared<tl::nn::BatchNorm2d<float>>(16);
  auto np = bn->named_parameters();
  REQUIRE(np.size() == 2);
  CHECK(np[0].first == "weight");
  CHECK(np[1].first == "bias");
  CHECK(bn->weight.to_vector() == std::vector<float>(16, 1.0f));
  CHECK(bn->bias.to_vector() == std::vector<float>(16, 0.0f));
  auto sd = bn->state_dict();
  CHECK(sd.keys() == std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  CHECK(sd.is_integer("num_batches_tracked"));
  CHECK(sd.at("num_batches_tracked").dim() == 0);
  CHECK(bn->repr() == "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");

  auto x = tl::randn<float>({4, 16, 3, 3}) * 3.0f + 2.0f;
  auto y = bn->forward(x);
  y.backward(tl::ones_like(y));
  CHECK(bn->weight.grad().defined());
  CHECK(bn->num_batches_tracked.item() == 1.0f);
  bn->forward(x);
  CHECK(bn->num_batches_tracked.item() == 2.0f);
  bn->eval();
  bn->forward(x);
  CHECK(bn->num_batches_tracked.item() == 2.0f);  // eval leaves the counter and the stats alone
  bn->reset_running_stats();
  CHECK(bn->num_batches_tracked.item() == 0.0f);
  CHECK(bn->running_var.to_vector() == std::vector<float>(16, 1.0f));

  auto plain = std::make_shared<tl::nn::BatchNorm1d<float>>(4, 1e-3, std::nullopt, false, false);
  CHECK(plain->named_parameters().empty());
  CHECK(plain->named_buffers().empty());
  CHECK(plain->repr() == "BatchNorm1d(4, eps=0.001, momentum=None, affine=False, track_running_stats=False)");
}

TEST_CASE("batch_norm rejects bad input with clear errors") {
  auto bn = std::make_shared<tl::nn::BatchNorm2d<float>>(3);
  CHECK(throws_with([&] { bn->forward(tl::randn<float>({2, 3, 4})); }, "BatchNorm2d: expected 4D input (got 3D"));
  CHECK(throws_with([&] { bn->forward(tl::randn<float>({2, 4, 2, 2})); }, "expected input with 3 channels"));
  CHECK(throws_with([&] { bn->forward(tl::randn<float>({1, 3, 1, 1})); }, "more than 1 value per channel"));
  CHECK(bn->num_batches_tracked.item() == 0.0f);  // the rejected batch was not counted
  auto bn1 = std::make_shared<tl::nn::BatchNorm1d<float>>(3);
  CHECK(throws_with([&] { bn1->forward(tl::randn<float>({2, 3, 4, 4})); }, "BatchNorm1d: expected 2D or 3D input"));
  auto x = tl::randn<float>({4, 3});
  CHECK(throws_with([&] { tl::batch_norm(x, Tensor<float>(), Tensor<float>()); }, "must be defined when training is false"));
  CHECK(throws_with([&] { tl::batch_norm(x, tl::zeros<float>({2}), tl::ones<float>({3})); },
                    "expected running_mean of shape [3] for input [4, 3], got [2]"));
  CHECK(throws_with([&] { tl::batch_norm(x, tl::zeros<float>({3}), tl::ones<float>({3}), tl::ones<float>({4})); },
                    "expected weight of shape [3]"));
  CHECK(throws_with([&] { tl::batch_norm(tl::randn<float>({4}), Tensor<float>(), Tensor<float>(), {}, {}, true); },
                    "at least 2 dims"));
}
