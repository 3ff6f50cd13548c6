// Optimizers vs PyTorch (tests/data/make_optim_reference.py) and their behaviour.
#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "optim/optim_ref.hpp"

using tl::Tensor;
using tl::test::optim_ref;
using namespace tl::optim;

namespace {

std::vector<Tensor<double>> fresh_params() {
  std::vector<Tensor<double>> ps;
  for (int j = 0; j < 2; ++j) {
    auto p = optim_ref("init.p" + std::to_string(j)).clone();
    p.requires_grad_();
    ps.push_back(p);
  }
  return ps;
}
void set_grads(std::vector<Tensor<double>>& ps, int k) {
  for (size_t j = 0; j < ps.size(); ++j) ps[j].set_grad(optim_ref("grad." + std::to_string(k) + ".p" + std::to_string(j)).clone());
}

using MakeOpt = std::function<std::unique_ptr<OptimizerBase>(std::vector<Tensor<double>>&)>;

/// Runs 5 steps with the reference gradients; every step's params must match PyTorch's.
void check_trajectory(const std::string& name, const MakeOpt& make) {
  CAPTURE(name);
  auto ps = fresh_params();
  auto opt = make(ps);
  for (int k = 0; k < 5; ++k) {
    set_grads(ps, k);
    opt->step();
    for (size_t j = 0; j < ps.size(); ++j) {
      auto d = tl::test::max_abs_diff(ps[j], optim_ref(name + ".step" + std::to_string(k + 1) + ".p" + std::to_string(j)));
      CHECK_MESSAGE(d < 1e-12, name, " step ", k + 1, " p", j, ": max diff ", d);
    }
  }
}
template <class O>
MakeOpt make(typename O::Options o) {
  return [o](std::vector<Tensor<double>>& ps) -> std::unique_ptr<OptimizerBase> { return std::make_unique<O>(ps, o); };
}

}  // namespace

TEST_CASE("SGD matches PyTorch step by step") {
  check_trajectory("sgd_plain", make<SGD<double>>({.lr = 0.1}));
  check_trajectory("sgd_momentum", make<SGD<double>>({.lr = 0.1, .momentum = 0.9}));
  check_trajectory("sgd_dampening", make<SGD<double>>({.lr = 0.1, .momentum = 0.9, .dampening = 0.3}));
  check_trajectory("sgd_nesterov", make<SGD<double>>({.lr = 0.1, .momentum = 0.9, .nesterov = true}));
  check_trajectory("sgd_wd", make<SGD<double>>({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}));
  check_trajectory("sgd_wd_only", make<SGD<double>>({.lr = 0.1, .weight_decay = 0.05}));
  check_trajectory("sgd_groups", [](std::vector<Tensor<double>>& ps) -> std::unique_ptr<OptimizerBase> {
    return std::make_unique<SGD<double>>(
        std::vector<SGD<double>::GroupSpec>{{.params = {ps[0]}, .weight_decay = 0.01}, {.params = {ps[1]}, .lr = 0.01}},
        SGDOptions{.lr = 0.1, .momentum = 0.9});
  });
}

TEST_CASE("Adam matches PyTorch step by step") {
  check_trajectory("adam", make<Adam<double>>({.lr = 0.01}));
  check_trajectory("adam_wd", make<Adam<double>>({.lr = 0.01, .weight_decay = 0.1}));
  check_trajectory("adam_amsgrad", make<Adam<double>>({.lr = 0.01, .betas = {0.8, 0.99}, .amsgrad = true}));
  check_trajectory("adam_groups", [](std::vector<Tensor<double>>& ps) -> std::unique_ptr<OptimizerBase> {
    return std::make_unique<Adam<double>>(
        std::vector<Adam<double>::GroupSpec>{{.params = {ps[0]}, .lr = 0.05, .weight_decay = 0.1}, {.params = {ps[1]}}},
        AdamOptions{.lr = 0.01});
  });
}

TEST_CASE("AdamW matches PyTorch step by step") {
  check_trajectory("adamw", make<AdamW<double>>({.lr = 0.01}));
  check_trajectory("adamw_wd", make<AdamW<double>>({.lr = 0.01, .eps = 1e-6, .weight_decay = 0.5}));
  check_trajectory("adamw_amsgrad", make<AdamW<double>>({.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}));
  check_trajectory("adamw_groups", [](std::vector<Tensor<double>>& ps) -> std::unique_ptr<OptimizerBase> {
    return std::make_unique<AdamW<double>>(
        std::vector<AdamW<double>::GroupSpec>{{.params = {ps[0]}, .lr = 0.05}, {.params = {ps[1]}, .weight_decay = 0.3}},
        AdamWOptions{.lr = 0.01});
  });
}

TEST_CASE("float optimizers track the double reference") {
  std::vector<Tensor<float>> ps;
  for (int j = 0; j < 2; ++j) ps.push_back(optim_ref("init.p" + std::to_string(j)).to<float>().requires_grad_());
  AdamW<float> opt(ps, {.lr = 0.01});
  for (int k = 0; k < 5; ++k) {
    for (int j = 0; j < 2; ++j) ps[size_t(j)].set_grad(optim_ref("grad." + std::to_string(k) + ".p" + std::to_string(j)).to<float>());
    opt.step();
  }
  CHECK(tl::test::max_abs_diff(ps[0], optim_ref("adamw.step5.p0")) < 1e-5);
  CHECK(tl::test::max_abs_diff(ps[1], optim_ref("adamw.step5.p1")) < 1e-5);
}

TEST_CASE("the documented contract: parameters of a module, designated options") {
  auto conv = std::make_shared<tl::nn::Conv2d<float>>(2, 3, 3);
  tl::optim::SGD<float> opt(conv->parameters(), {.lr = 0.1, .momentum = 0.9});
  auto before = conv->parameters()[0].clone();
  for (auto& p : conv->parameters()) p.set_grad(tl::ones_like(p));
  opt.step();
  CHECK(tl::test::max_abs_diff(conv->parameters()[0], before) == doctest::Approx(0.1).epsilon(1e-6));
  opt.zero_grad(false);  // PyTorch's set_to_none=False: zeros in place
  for (auto& p : conv->parameters()) CHECK(tl::test::max_abs_diff(p.grad(), tl::zeros_like(p)) == 0.0);
  opt.zero_grad();
  for (auto& p : conv->parameters()) CHECK_FALSE(p.grad().defined());
  opt.step();  // no gradients: nothing changes
  CHECK(tl::test::max_abs_diff(conv->parameters()[0], before) == doctest::Approx(0.1).epsilon(1e-6));
}

TEST_CASE("parameters without a gradient are untouched and get no state") {
  auto a = tl::ones<double>({3}).requires_grad_(), b = tl::ones<double>({2}).requires_grad_();
  Adam<double> opt({a, b}, {.lr = 0.5, .weight_decay = 0.1});
  a.set_grad(tl::full<double>({3}, 2.0));
  opt.step();
  opt.step();
  CHECK(b.to_vector() == std::vector<double>{1, 1});
  CHECK(a.at({0}) < 1.0);
  CHECK(opt.state(b) == nullptr);
  REQUIRE(opt.state(a) != nullptr);
  CHECK(opt.state(a)->step == 2);
}

TEST_CASE("groups have independent lrs and options; param_groups is mutable") {
  auto a = tl::zeros<double>({2}).requires_grad_(), b = tl::zeros<double>({2}).requires_grad_();
  SGD<double> opt({{.params = {a}}, {.params = {b}, .lr = 0.01}}, {.lr = 1.0, .momentum = 0.5});
  REQUIRE(opt.param_groups().size() == 2);
  CHECK(opt.param_groups()[1].options.momentum == 0.5);  // unset fields come from the defaults
  a.set_grad(tl::ones<double>({2}));
  b.set_grad(tl::ones<double>({2}));
  opt.step();
  CHECK(a.at({0}) == doctest::Approx(-1.0));
  CHECK(b.at({0}) == doctest::Approx(-0.01));
  opt.param_groups()[0].options.lr = 0.0;
  opt.set_lr(1, 0.1);
  opt.step();  // buf = 0.5 * 1 + 1 = 1.5
  CHECK(a.at({0}) == doctest::Approx(-1.0));
  CHECK(b.at({0}) == doctest::Approx(-0.01 - 0.15));
  auto c = tl::zeros<double>({1}).requires_grad_();
  opt.add_param_group({.params = {c}, .options = SGDOptions{.lr = 2.0}});
  CHECK(opt.param_groups()[2].options.momentum == 0.0);  // a full options struct replaces the defaults
  c.set_grad(tl::ones<double>({1}));
  opt.step();
  CHECK(c.at({0}) == doctest::Approx(-2.0));
  CHECK_THROWS_WITH_AS(opt.add_param_group({.params = {a}}), doctest::Contains("more than once"), tl::Error);
}

TEST_CASE("non-contiguous parameters and gradients are updated correctly") {
  auto base = tl::zeros<double>({2, 3});
  auto p = base.t();  // a non-contiguous leaf view (3 x 2)
  p.requires_grad_();
  SGD<double> opt({p}, {.lr = 1.0});
  auto g = Tensor<double>({1, 2, 3, 4, 5, 6}, {2, 3}).t();
  p.set_grad(g);
  opt.step();
  CHECK(base.to_vector() == std::vector<double>{-1, -2, -3, -4, -5, -6});
}

TEST_CASE("argument errors name the option") {
  auto p = tl::zeros<double>({2}).requires_grad_();
  std::vector<Tensor<double>> ps{p};
  CHECK_THROWS_WITH_AS(SGD<double>(ps, {.lr = -0.1}), doctest::Contains("'lr'"), tl::Error);
  CHECK_THROWS_WITH_AS(SGD<double>(ps, {}), doctest::Contains("'lr' is required"), tl::Error);
  CHECK_THROWS_WITH_AS(SGD<double>(ps, {.lr = 0.1, .momentum = -1}), doctest::Contains("'momentum'"), tl::Error);
  CHECK_THROWS_WITH_AS(SGD<double>(ps, {.lr = 0.1, .weight_decay = -1}), doctest::Contains("'weight_decay'"), tl::Error);
  CHECK_THROWS_WITH_AS(SGD<double>(ps, {.lr = 0.1, .nesterov = true}), doctest::Contains("'nesterov'"), tl::Error);
  CHECK_THROWS_WITH_AS(SGD<double>(ps, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                       doctest::Contains("'nesterov'"), tl::Error);
  CHECK_THROWS_WITH_AS(Adam<double>(ps, {.lr = -1}), doctest::Contains("'lr'"), tl::Error);
  CHECK_THROWS_WITH_AS(Adam<double>(ps, {.betas = {1.0, 0.9}}), doctest::Contains("'betas' at index 0"), tl::Error);
  CHECK_THROWS_WITH_AS(Adam<double>(ps, {.betas = {0.9, -0.1}}), doctest::Contains("'betas' at index 1"), tl::Error);
  CHECK_THROWS_WITH_AS(Adam<double>(ps, {.eps = -1}), doctest::Contains("'eps'"), tl::Error);
  CHECK_THROWS_WITH_AS(AdamW<double>(ps, {.weight_decay = -1}), doctest::Contains("AdamW: invalid option 'weight_decay'"),
                       tl::Error);
  CHECK_THROWS_WITH_AS(Adam<double>(std::vector<Tensor<double>>{}), doctest::Contains("empty parameter list"), tl::Error);
  // lr may come from each group instead of the defaults
  CHECK_NOTHROW(SGD<double>({{.params = ps, .lr = 0.1}}, {}));
  CHECK_THROWS_WITH_AS(SGD<double>({{.params = ps, .lr = -0.1}}, {.lr = 0.1}), doctest::Contains("'lr'"), tl::Error);
  auto q = tl::zeros<double>({2}).requires_grad_();
  auto nonleaf = q * 2.0;
  CHECK_THROWS_WITH_AS(SGD<double>({nonleaf}, {.lr = 0.1}), doctest::Contains("non-leaf"), tl::Error);
  CHECK_THROWS_WITH_AS(SGD<double>({p, p}, {.lr = 0.1}), doctest::Contains("more than once"), tl::Error);
}
