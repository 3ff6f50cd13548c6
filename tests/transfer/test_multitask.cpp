// Multi-task model, loss weighting (fixed, uncertainty), task mixing, per-task metrics.
#include "transfer/transfer_support.hpp"

using namespace tl;
namespace tt = tl::transfer;

namespace {
/// A tiny backbone with features(): Linear(4, 6) + ReLU.
struct TinyBackbone : nn::Module<float> {
  std::shared_ptr<nn::Linear<float>> lin;
  explicit TinyBackbone(Generator& g) {
    lin = register_module("lin", std::make_shared<nn::Linear<float>>(4, 6));
    lin->reset_parameters(g);
  }
  int calls = 0;
  Tensor<float> features(const Tensor<float>& x) {
    ++calls;
    return relu(lin->forward(x));
  }
  Tensor<float> forward(const Tensor<float>& x) override { return features(x); }
};
}  // namespace

TEST_CASE("MultiTaskModel: heads of different sizes and a regression head, features computed once") {
  Generator g(1);
  auto bb = std::make_shared<TinyBackbone>(g);
  auto mt = std::make_shared<tt::MultiTaskModel<float>>(bb);
  mt->add_head("ten", std::make_shared<nn::Linear<float>>(6, 10));
  mt->add_head("two", std::make_shared<nn::Linear<float>>(6, 2));
  mt->add_head("reg", std::make_shared<nn::Linear<float>>(6, 1), tt::TaskKind::Regression);
  auto x = randn<float>({5, 4}, g);
  auto out = mt->forward_all(x);
  CHECK(bb->calls == 1);
  CHECK(out.at("ten").shape() == Shape{5, 10});
  CHECK(out.at("two").shape() == Shape{5, 2});
  CHECK(out.at("reg").shape() == Shape{5, 1});
  CHECK(test::bit_equal(out.at("two"), mt->forward(x, "two")));
  CHECK_THROWS_AS(mt->forward(x), Error);
  CHECK_THROWS_AS(mt->forward(x, "nope"), Error);
  auto keys = mt->state_dict().keys();
  CHECK(keys.front() == "backbone.lin.weight");
  CHECK(keys.back() == "heads.reg.bias");
  CHECK(mt->task_at("reg").kind == tt::TaskKind::Regression);
  // a ResNet backbone through features()
  auto resnet = test::small_resnet18(2);
  tt::MultiTaskModel<float> mr(resnet);
  mr.add_head("a", std::make_shared<nn::Linear<float>>(512, 3));
  CHECK(mr.forward(test::seeded_input({2, 3, 8, 8}, 1)).shape() == Shape{2, 3});
}

TEST_CASE("MultiTaskLoss: fixed weights and the uncertainty formula") {
  auto l1 = scalar_tensor<float>(2.0f), l2 = scalar_tensor<float>(0.5f);
  tt::MultiTaskLoss<float> fixed({{"a", tt::TaskKind::Classification, 1.0}, {"b", tt::TaskKind::Regression, 0.25}});
  CHECK(fixed({l1, l2}).item() == doctest::Approx(2.0 + 0.125));
  tt::MultiTaskLoss<float> unc({{"a"}, {"b", tt::TaskKind::Regression}},
                               {.weighting = tt::LossWeighting::Uncertainty, .init_log_var = 0.5});
  const double e = std::exp(-0.5);
  CHECK(unc({l1, l2}).item() == doctest::Approx(e * 2.0 + 0.5 + e * 0.5 + 0.5).epsilon(1e-6));
  tt::MultiTaskLoss<float> paper({{"a"}, {"b", tt::TaskKind::Regression}},
                                 {.weighting = tt::LossWeighting::Uncertainty, .kendall_factors = true,
                                  .init_log_var = 0.5});
  CHECK(paper({l1, l2}).item() == doctest::Approx(e * 2.0 + 0.25 + 0.5 * e * 0.5 + 0.25).epsilon(1e-6));
  // the clamp: s below -2 acts as -2
  tt::MultiTaskLoss<float> low({{"a"}}, {.weighting = tt::LossWeighting::Uncertainty, .init_log_var = -5});
  CHECK(low({l1}).item() == doctest::Approx(std::exp(2.0) * 2.0 - 2.0).epsilon(1e-6));
  CHECK_THROWS_AS(fixed({l1}), Error);
}

TEST_CASE("uncertainty weights learn: s_i -> log L_i, the noisier task gets the smaller weight") {
  // Two fixed task losses (a noisy task with loss 4, a clean one with loss 0.25): minimising
  // exp(-s) L + s drives s to log L, so the noisy task's weight exp(-s) falls and the clean one's rises.
  tt::MultiTaskLoss<float> combine({{"noisy"}, {"clean"}}, {.weighting = tt::LossWeighting::Uncertainty});
  optim::Adam<float> opt(combine.parameters(), {.lr = 0.05});
  for (int i = 0; i < 400; ++i) {
    opt.zero_grad();
    combine({scalar_tensor<float>(4.0f), scalar_tensor<float>(0.25f)}).backward();
    opt.step();
  }
  auto s = combine.log_vars.to_vector();
  CHECK(s[0] == doctest::Approx(std::log(4.0)).epsilon(0.02));
  CHECK(s[1] == doctest::Approx(std::log(0.25)).epsilon(0.02));
  auto w = combine.weights();
  CHECK(w[0] < 1.0);
  CHECK(w[1] > 1.0);

  // and jointly with a model on a toy problem: the task with label noise gets the larger s
  Generator g(3);
  auto bb = std::make_shared<TinyBackbone>(g);
  tt::MultiTaskModel<float> mt(bb);
  mt.add_head("clean", std::make_shared<nn::Linear<float>>(6, 1), tt::TaskKind::Regression);
  mt.add_head("noisy", std::make_shared<nn::Linear<float>>(6, 1), tt::TaskKind::Regression);
  tt::MultiTaskLoss<float> loss({{"clean", tt::TaskKind::Regression}, {"noisy", tt::TaskKind::Regression}},
                                {.weighting = tt::LossWeighting::Uncertainty});
  auto params = mt.parameters();
  params.push_back(loss.log_vars);
  optim::Adam<float> opt2(params, {.lr = 0.02});
  for (int step = 0; step < 300; ++step) {
    auto x = randn<float>({32, 4}, g);
    auto target = x.sum({1}, true);
    auto noisy_target = add(target, mul(randn<float>({32, 1}, g), scalar_tensor<float>(2.0f)));
    auto out = mt.forward_all(x);
    opt2.zero_grad();
    loss({mse_loss(out["clean"], target), mse_loss(out["noisy"], noisy_target)}).backward();
    opt2.step();
  }
  auto s2 = loss.log_vars.to_vector();
  CHECK(s2[1] > s2[0] + 1.0);
  CHECK(s2[1] > 0.5);  // noise variance 4: s -> log(~4)
}

TEST_CASE("task_schedule: round robin and proportional mixing") {
  Generator g(0);
  auto rr = tt::task_schedule({3, 1, 2}, tt::TaskMixing::RoundRobin, g);
  CHECK(rr == std::vector<size_t>{0, 1, 2, 0, 2, 0});
  auto pr = tt::task_schedule({30, 10}, tt::TaskMixing::Proportional, g);
  REQUIRE(pr.size() == 40);
  CHECK(std::count(pr.begin(), pr.end(), size_t{0}) == 30);
  CHECK(std::count(pr.begin(), pr.begin() + 20, size_t{1}) < 10);  // shuffled, not task by task
  CHECK(pr != tt::task_schedule({30, 10}, tt::TaskMixing::RoundRobin, g));
}

TEST_CASE("TaskMetrics: accuracy and MSE per task, separately") {
  tt::TaskMetrics m;
  Tensor<float> logits({0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f}, {3, 2});
  Tensor<int64_t> labels(std::vector<int64_t>{1, 0, 0}, {3});
  m.add_classification("cls", logits, labels);
  m.add_regression("reg", Tensor<float>({1.f, 2.f}, {2}), Tensor<float>({1.f, 4.f}, {2}));
  auto v = m.values();
  CHECK(v.at("cls") == doctest::Approx(2.0 / 3.0));
  CHECK(v.at("reg") == doctest::Approx(2.0));
  CHECK(m.entries().at("reg").regression);
}
