// GradNorm (task weights from gradient norms and training rates) and the seeded task batch scheduler.
#include "transfer/transfer_support.hpp"

#include <algorithm>
#include <numeric>

using namespace tl;
namespace tt = tl::transfer;

namespace {
double sum_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

/// Two regression tasks on one shared Linear(4, 8) + ReLU, each with its own Linear(8, 1) head.
struct TwoTaskNet {
  std::shared_ptr<nn::Linear<float>> shared, head_a, head_b;
  explicit TwoTaskNet(Generator& g) {
    shared = std::make_shared<nn::Linear<float>>(4, 8);
    head_a = std::make_shared<nn::Linear<float>>(8, 1);
    head_b = std::make_shared<nn::Linear<float>>(8, 1);
    shared->reset_parameters(g), head_a->reset_parameters(g), head_b->reset_parameters(g);
  }
  std::vector<Tensor<float>> params() const {
    std::vector<Tensor<float>> p;
    for (auto* m : {shared.get(), head_a.get(), head_b.get()})
      for (auto& t : m->parameters()) p.push_back(t);
    return p;
  }
  std::vector<Tensor<float>> losses(const Tensor<float>& x, const Tensor<float>& ya, const Tensor<float>& yb) {
    auto h = relu(shared->forward(x));
    return {mse_loss(head_a->forward(h), ya), mse_loss(head_b->forward(h), yb)};
  }
};
}  // namespace

TEST_CASE("gradnorm_update: the slower task gains weight, the larger gradient loses it, sum stays T") {
  // equal gradient norms, task 0 trains slower (its loss ratio is twice task 1's)
  auto w = tt::gradnorm_update({1.0, 1.0}, {1.0, 1.0}, {1.0, 0.5}, {.alpha = 1.5, .lr = 0.1});
  CHECK(w[0] > 1.0);
  CHECK(w[1] < 1.0);
  CHECK(sum_of(w) == doctest::Approx(2.0));
  // alpha = 0: equal rates do not matter, equal gradient norms are already balanced -> unchanged
  w = tt::gradnorm_update({1.0, 1.0}, {1.0, 1.0}, {1.0, 0.5}, {.alpha = 0.0, .lr = 0.1});
  CHECK(w[0] == doctest::Approx(1.0));
  CHECK(w[1] == doctest::Approx(1.0));
  // equal rates, task 0's gradient is 3x larger -> its weight goes down
  w = tt::gradnorm_update({1.0, 1.0, 1.0}, {3.0, 1.0, 1.0}, {0.8, 0.8, 0.8}, {.lr = 0.05});
  CHECK(w[0] < w[1]);
  CHECK(w[1] == doctest::Approx(w[2]));
  CHECK(sum_of(w) == doctest::Approx(3.0));
  // exact values: G = {3, 1, 1}, mean 5/3; w0 = 1 - 0.05 * 3 = 0.85, w1 = w2 = 1 + 0.05 = 1.05; sum 2.95
  CHECK(w[0] == doctest::Approx(0.85 * 3 / 2.95));
  CHECK(w[1] == doctest::Approx(1.05 * 3 / 2.95));
  // a huge step cannot make a weight negative
  w = tt::gradnorm_update({1.0, 1.0}, {100.0, 0.0}, {1.0, 1.0}, {.lr = 1.0, .min_weight = 1e-3});
  CHECK(w[0] > 0);
  CHECK(sum_of(w) == doctest::Approx(2.0));
  CHECK_THROWS_AS(tt::gradnorm_update({1.0}, {1.0, 2.0}, {1.0}), Error);
  CHECK_THROWS_AS(tt::gradnorm_update({1.0}, {NAN}, {1.0}), Error);
}

TEST_CASE("GradNorm::backward: the parameters get the gradient of sum w_i L_i; norms are per task") {
  Generator g(3);
  TwoTaskNet net(g);
  auto x = randn<float>({16, 4}, g), ya = randn<float>({16, 1}, g), yb = randn<float>({16, 1}, g);
  tt::GradNorm<float> gn(2, {.lr = 0.5});
  // step 1 with weights (1, 1); then the weights have moved; step 2 checks against w(t) explicitly
  gn.backward(net.losses(x, ya, yb), net.shared->parameters());
  CHECK(gn.loss_ratios() == std::vector<double>{1.0, 1.0});
  CHECK(sum_of(gn.weights()) == doctest::Approx(2.0));
  const auto w = gn.weights();
  CHECK(w[0] != doctest::Approx(1.0));  // different gradient norms: the weights moved
  for (auto& p : net.params()) p.zero_grad();

  auto ls = net.losses(x, ya, yb);
  const double expected_total = w[0] * ls[0].item() + w[1] * ls[1].item();
  CHECK(gn.backward(ls, net.shared->parameters()) == doctest::Approx(expected_total).epsilon(1e-6));
  std::vector<Tensor<float>> got;
  for (auto& p : net.params()) got.push_back(p.grad().clone()), p.zero_grad();

  // reference: one backward of w0 L0 + w1 L1, and each task alone for its norm on the shared layer
  auto ref = net.losses(x, ya, yb);
  add(mul(ref[0], scalar_tensor<float>(float(w[0]))), mul(ref[1], scalar_tensor<float>(float(w[1])))).backward();
  auto params = net.params();
  for (size_t k = 0; k < params.size(); ++k) {
    auto a = got[k].to_vector(), b = params[k].grad().to_vector();
    for (size_t j = 0; j < a.size(); ++j) CHECK(a[j] == doctest::Approx(b[j]).epsilon(1e-5));
  }
  for (size_t t = 0; t < 2; ++t) {
    for (auto& p : params) p.zero_grad();
    net.losses(x, ya, yb)[t].backward();
    double sq = 0;
    for (auto& p : net.shared->parameters())
      for (float v : p.grad().to_vector()) sq += double(v) * double(v);
    CHECK(gn.grad_norms()[t] == doctest::Approx(std::sqrt(sq)).epsilon(1e-4));
  }
  CHECK_THROWS_AS(gn.backward({ref[0]}, net.shared->parameters()), Error);
  CHECK_THROWS_AS(tt::GradNorm<float>(0), Error);
}

TEST_CASE("GradNorm training: weights move to the task that trains slower, stay normalised and positive") {
  // Task a: y = x . u exactly (its loss falls towards 0). Task b: y = x . v + noise of std 1.5, so
  // its loss has a floor and its ratio L(t)/L(0) stays high: the slower task.
  Generator g(7);
  TwoTaskNet net(g);
  auto x = randn<float>({64, 4}, g);
  auto u = randn<float>({4, 1}, g), v = randn<float>({4, 1}, g);
  auto ya = matmul(x, u);
  auto yb = add(matmul(x, v), mul(randn<float>({64, 1}, g), scalar_tensor<float>(1.5f)));
  tt::GradNorm<float> gn(2, {.alpha = 1.5, .lr = 0.01});
  optim::SGD<float> opt(net.params(), {.lr = 0.02, .momentum = 0.9});
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    gn.backward(net.losses(x, ya, yb), net.shared->parameters());
    opt.step();
    const auto& w = gn.weights();
    REQUIRE(sum_of(w) == doctest::Approx(2.0));
    REQUIRE(w[0] > 0);
    REQUIRE(w[1] > 0);
  }
  MESSAGE("GradNorm after 150 steps: weights ", gn.weights()[0], " ", gn.weights()[1], ", loss ratios ",
          gn.loss_ratios()[0], " ", gn.loss_ratios()[1]);
  CHECK(gn.loss_ratios()[0] < gn.loss_ratios()[1]);  // a trained faster
  CHECK(gn.weights()[1] > 1.1);                        // so b, the slower, weighs more (1.23 measured)
  CHECK(gn.weights()[0] < 0.9);
}

TEST_CASE("TaskBatchScheduler: exact counts, proportions, determinism per (seed, epoch)") {
  tt::TaskBatchScheduler rr({2, 3}, tt::TaskMixing::RoundRobin, 5);
  CHECK(rr.epoch(0) == std::vector<size_t>{0, 1, 0, 1, 1});
  CHECK(rr.epoch(3) == rr.epoch(0));  // round robin draws nothing
  CHECK(rr.steps_per_epoch() == 5);

  tt::TaskBatchScheduler pr({60, 20, 20}, tt::TaskMixing::Proportional, 42);
  auto p = pr.proportions();
  CHECK(p[0] == doctest::Approx(0.6));
  CHECK(p[2] == doctest::Approx(0.2));
  auto e0 = pr.epoch(0);
  REQUIRE(e0.size() == 100);
  for (size_t t = 0; t < 3; ++t)
    CHECK(std::count(e0.begin(), e0.end(), t) == pr.batches_per_task()[t]);
  // any half of the epoch holds the tasks in about their proportions (not task after task)
  for (size_t lo : {size_t{0}, size_t{50}}) {
    auto n0 = std::count(e0.begin() + long(lo), e0.begin() + long(lo) + 50, size_t{0});
    CHECK(n0 >= 20);
    CHECK(n0 <= 40);
  }
  // deterministic: same (seed, epoch) -> same order, in any object; other epoch or seed -> another
  CHECK(tt::TaskBatchScheduler({60, 20, 20}, tt::TaskMixing::Proportional, 42).epoch(0) == e0);
  CHECK(pr.epoch(1) != e0);
  CHECK(tt::TaskBatchScheduler({60, 20, 20}, tt::TaskMixing::Proportional, 43).epoch(0) != e0);
  // over many epochs the share of task 0 in the first 10 steps averages ~0.6
  double first10 = 0;
  for (int64_t e = 0; e < 200; ++e) {
    auto s = pr.epoch(e);
    first10 += double(std::count(s.begin(), s.begin() + 10, size_t{0})) / 10.0;
  }
  CHECK(first10 / 200 == doctest::Approx(0.6).epsilon(0.08));

  CHECK(tt::task_mixing_from_name("round-robin") == tt::TaskMixing::RoundRobin);
  CHECK(tt::task_mixing_from_name("proportional") == tt::TaskMixing::Proportional);
  CHECK_THROWS_AS(tt::task_mixing_from_name("random"), Error);
  CHECK_THROWS_AS(tt::TaskBatchScheduler({}, tt::TaskMixing::RoundRobin), Error);
  CHECK_THROWS_AS(tt::TaskBatchScheduler({1, -1}, tt::TaskMixing::RoundRobin), Error);
}
