// LR schedulers vs PyTorch (lr sequences over 30 steps for two groups), resuming, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>

#include "optim/optim_ref.hpp"

using tl::Tensor;
using tl::test::optim_ref;
using namespace tl::optim;

namespace {

struct Setup {
  Tensor<double> a = tl::zeros<double>({2}).requires_grad_(), b = tl::zeros<double>({3}).requires_grad_();
};

/// Steps the scheduler 30 times; get_last_lr() (and momentum when given) must follow PyTorch's.
void check_sequence(const std::string& name, OptimizerBase& opt, LRScheduler& s, bool momentum = false) {
  CAPTURE(name);
  auto lr = optim_ref(name + ".lr");
  Tensor<double> mom = momentum ? optim_ref(name + ".momentum") : Tensor<double>();
  for (int64_t k = 0; k <= 30; ++k) {
    if (k > 0) opt.step(), s.step();
    CHECK(s.last_epoch() == k);
    REQUIRE(s.get_last_lr().size() == 2);
    for (int64_t g = 0; g < 2; ++g) {
      CHECK_MESSAGE(std::abs(s.get_last_lr()[size_t(g)] - lr.at({k, g})) < 1e-12, name, " step ", k, " group ", g,
                    ": ", s.get_last_lr()[size_t(g)], " vs ", lr.at({k, g}));
      CHECK(opt.lr(size_t(g)) == s.get_last_lr()[size_t(g)]);
      if (momentum)
        CHECK_MESSAGE(std::abs(opt.momentum(size_t(g)) - mom.at({k, g})) < 1e-12, name, " momentum step ", k);
    }
  }
}
std::unique_ptr<SGD<double>> sgd(Setup& s) {
  return std::make_unique<SGD<double>>(std::vector<SGD<double>::GroupSpec>{{.params = {s.a}, .lr = 0.1}, {.params = {s.b}, .lr = 0.05}},
                                       SGDOptions{.lr = 0.1, .momentum = 0.9});
}

}  // namespace

TEST_CASE("schedulers match PyTorch's lr sequences") {
  {
    Setup p;
    auto opt = sgd(p);
    StepLR s(*opt, 7, 0.5);
    check_sequence("step_lr", *opt, s);
  }
  {
    Setup p;
    auto opt = sgd(p);
    MultiStepLR s(*opt, {5, 12, 12, 20}, 0.3);
    check_sequence("multi_step_lr", *opt, s);
  }
  {
    Setup p;
    auto opt = sgd(p);
    CosineAnnealingLR s(*opt, 10, 0.001);
    check_sequence("cosine_lr", *opt, s);
  }
  {
    Setup p;
    auto opt = sgd(p);
    LinearLR s(*opt, 0.25, 1.0, 8);
    check_sequence("linear_lr", *opt, s);
  }
  {
    Setup p;
    auto opt = sgd(p);
    LambdaLR s(*opt, [](int64_t e) { return std::pow(0.95, double(e)); });
    check_sequence("lambda_lr", *opt, s);
  }
  {
    Setup p;
    auto opt = sgd(p);
    SequentialLR s(*opt,
                   {std::make_shared<LinearLR>(*opt, 0.1, 1.0, 5), std::make_shared<CosineAnnealingLR>(*opt, 20, 0.002),
                    std::make_shared<StepLR>(*opt, 4, 0.5)},
                   {6, 22});
    check_sequence("sequential_lr", *opt, s);
  }
  {
    Setup p;
    auto opt = sgd(p);
    OneCycleLR s(*opt, std::vector<double>{1.0, 0.5}, 30);
    check_sequence("one_cycle", *opt, s, true);
    CHECK_THROWS_WITH_AS(s.step(), doctest::Contains("total steps is 30"), tl::Error);
  }
  {
    Setup p;
    Adam<double> opt({{.params = {p.a}, .lr = 0.1}, {.params = {p.b}, .lr = 0.05}}, {.lr = 0.1});
    OneCycleLR s(opt, 0.4, 40,
                 {.pct_start = 0.25, .anneal_strategy = "linear", .div_factor = 10.0, .final_div_factor = 100.0,
                  .three_phase = true});
    check_sequence("one_cycle_3phase", opt, s, true);
  }
}

TEST_CASE("a second scheduler shares the first one's base lrs (initial_lr)") {
  Setup p;
  auto opt = sgd(p);
  LinearLR warm(*opt, 0.5, 1.0, 4);
  CHECK(opt->lr(0) == doctest::Approx(0.05));
  StepLR decay(*opt, 3);
  CHECK(decay.base_lrs() == std::vector<double>{0.1, 0.05});
}

TEST_CASE("scheduler state_dict resumes the sequence") {
  Setup p1, p2;
  auto o1 = sgd(p1), o2 = sgd(p2);
  CosineAnnealingLR full(*o1, 7, 0.01);
  std::vector<double> expect;
  for (int k = 0; k < 12; ++k) {
    o1->step(), full.step();
    if (k == 4) {
      // "save" both at epoch 5, then resume into a fresh optimizer and scheduler
      auto osd = o1->state_dict();
      auto ssd = full.state_dict<float>();
      CHECK(ssd.at("last_epoch").item() == 5.0f);
      CosineAnnealingLR resumed(*o2, 7, 0.01);
      o2->load_state_dict(osd);
      resumed.load_state_dict(ssd);
      CHECK(resumed.last_epoch() == 5);
      CHECK(resumed.get_last_lr() == full.get_last_lr());
      for (int j = 5; j < 12; ++j) o2->step(), resumed.step(), expect.push_back(resumed.get_last_lr()[0]);
    }
  }
  std::vector<double> got;
  Setup p3;
  auto o3 = sgd(p3);
  CosineAnnealingLR again(*o3, 7, 0.01);
  for (int k = 0; k < 12; ++k) {
    o3->step(), again.step();
    if (k >= 5) got.push_back(again.get_last_lr()[0]);
  }
  CHECK(got == expect);
  auto bad = again.state_dict();
  bad.insert("base_lrs", tl::zeros<double>({3}));
  CHECK_THROWS_WITH_AS(again.load_state_dict(bad), doctest::Contains("'base_lrs' has 3 values"), tl::Error);
  bad = again.state_dict();
  bad.insert("gamma", tl::zeros<double>({}));
  CHECK_THROWS_WITH_AS(again.load_state_dict(bad), doctest::Contains("unexpected key 'gamma'"), tl::Error);
}

TEST_CASE("scheduler argument errors") {
  Setup p;
  auto opt = sgd(p);
  CHECK_THROWS_WITH_AS(StepLR(*opt, 0), doctest::Contains("step_size"), tl::Error);
  CHECK_THROWS_WITH_AS(CosineAnnealingLR(*opt, 0), doctest::Contains("T_max"), tl::Error);
  CHECK_THROWS_WITH_AS(LinearLR(*opt, 1.5), doctest::Contains("start_factor"), tl::Error);
  CHECK_THROWS_WITH_AS(LinearLR(*opt, 0.5, -1), doctest::Contains("end_factor"), tl::Error);
  CHECK_THROWS_WITH_AS(OneCycleLR(*opt, 0.1, 0), doctest::Contains("total_steps"), tl::Error);
  CHECK_THROWS_WITH_AS(OneCycleLR(*opt, 0.1, 10, {.pct_start = 1.5}), doctest::Contains("pct_start"), tl::Error);
  CHECK_THROWS_WITH_AS(OneCycleLR(*opt, 0.1, 10, {.anneal_strategy = "exp"}), doctest::Contains("anneal_strategy"),
                       tl::Error);
  CHECK_THROWS_WITH_AS(OneCycleLR(*opt, std::vector<double>{0.1}, 10), doctest::Contains("max_lr"), tl::Error);
  CHECK_THROWS_WITH_AS(LambdaLR(*opt, std::vector<LambdaLR::Fn>{[](int64_t) { return 1.0; }}),
                       doctest::Contains("lr_lambdas"), tl::Error);
  auto s1 = std::make_shared<StepLR>(*opt, 3);
  CHECK_THROWS_WITH_AS(SequentialLR(*opt, {s1}, {2}), doctest::Contains("milestones"), tl::Error);
  Setup q;
  auto other = sgd(q);
  auto s2 = std::make_shared<StepLR>(*other, 3);
  CHECK_THROWS_WITH_AS(SequentialLR(*opt, {s1, s2}, {2}), doctest::Contains("another optimizer"), tl::Error);
}

TEST_CASE("SequentialLR state_dict nests its schedulers and resumes") {
  auto make = [](OptimizerBase& o) {
    return std::make_unique<SequentialLR>(
        o, std::vector<std::shared_ptr<LRScheduler>>{std::make_shared<LinearLR>(o, 0.1, 1.0, 3),
                                                     std::make_shared<CosineAnnealingLR>(o, 10)},
        std::vector<int64_t>{4});
  };
  Setup p1, p2;
  auto o1 = sgd(p1), o2 = sgd(p2);
  auto s1 = make(*o1);
  for (int k = 0; k < 6; ++k) o1->step(), s1->step();
  auto sd = s1->state_dict();
  CHECK(sd.contains("schedulers.1.last_epoch"));
  CHECK(sd.at("schedulers.1.last_epoch").item() == 2.0);
  auto s2 = make(*o2);
  o2->load_state_dict(o1->state_dict());
  s2->load_state_dict(sd);
  for (int k = 0; k < 8; ++k) {
    o1->step(), s1->step(), o2->step(), s2->step();
    CHECK(s1->get_last_lr() == s2->get_last_lr());
  }
}
