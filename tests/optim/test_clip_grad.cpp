// clip_grad_norm_ / clip_grad_value_ vs PyTorch.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "optim/optim_ref.hpp"

using tl::Tensor;
using tl::test::optim_ref;

namespace {
std::vector<Tensor<double>> params_with_grads() {
  std::vector<Tensor<double>> ps;
  for (int j = 0; j < 2; ++j) {
    auto g = optim_ref("clip.grad.p" + std::to_string(j));
    auto p = tl::zeros_like(g).requires_grad_();
    p.set_grad(g.clone());
    ps.push_back(p);
  }
  return ps;
}
}  // namespace

TEST_CASE("clip_grad_norm_ matches PyTorch") {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    const char* name;
    double max_norm, norm_type;
  };
  for (Case c : {Case{"l2", 1.0, 2.0}, Case{"l1", 2.0, 1.0}, Case{"l3", 0.5, 3.0}, Case{"inf", 0.7, inf},
                 Case{"none", 1e3, 2.0}}) {
    CAPTURE(c.name);
    auto ps = params_with_grads();
    auto noGrad = tl::zeros<double>({2}).requires_grad_();  // ignored
    ps.push_back(noGrad);
    double total = tl::optim::clip_grad_norm_(ps, c.max_norm, c.norm_type);
    CHECK(total == doctest::Approx(optim_ref(std::string("clip.") + c.name + ".total").item()).epsilon(1e-12));
    for (int j = 0; j < 2; ++j)
      CHECK(tl::test::max_abs_diff(ps[size_t(j)].grad(), optim_ref(std::string("clip.") + c.name + ".p" + std::to_string(j))) < 1e-12);
    CHECK_FALSE(noGrad.grad().defined());
  }
}

TEST_CASE("clip_grad_norm_ edge cases") {
  auto p = tl::zeros<float>({3}).requires_grad_();
  CHECK(tl::optim::clip_grad_norm_<float>({p}, 1.0) == 0.0);  // no gradients
  p.set_grad(Tensor<float>({3, 4, 0}, {3}));
  CHECK(tl::optim::clip_grad_norm_<float>({p}, 1.0) == doctest::Approx(5.0));
  CHECK(p.grad().at({0}) == doctest::Approx(0.6).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(tl::optim::clip_grad_norm_<float>({p}, 1.0, -1.0), doctest::Contains("norm_type"), tl::Error);
  p.set_grad(Tensor<float>({std::numeric_limits<float>::quiet_NaN(), 1, 1}, {3}));
  CHECK_THROWS_WITH_AS(tl::optim::clip_grad_norm_<float>({p}, 1.0, 2.0, true), doctest::Contains("non-finite"),
                       tl::Error);
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(std::isnan(tl::optim::clip_grad_norm_<float>({p}, 1.0, inf)));  // NaN shows in the inf-norm too
  auto base = tl::zeros<float>({2, 2});
  auto q = tl::zeros<float>({2}).requires_grad_();
  base.at_ref({0, 1}) = -3, base.at_ref({1, 1}) = 4;
  q.set_grad(base.select(1, 1));  // a strided gradient
  CHECK(tl::optim::clip_grad_norm_<float>({q}, 1.0, inf) == 4.0);
  // now (-0.75, 1) in place, through the view: L2 norm 1.25, clipped to (-0.6, 0.8)
  CHECK(tl::optim::clip_grad_norm_<float>({q}, 1.0) == doctest::Approx(1.25).epsilon(1e-5));
  CHECK(base.at({1, 1}) == doctest::Approx(0.8).epsilon(1e-5));
  CHECK(base.at({0, 1}) == doctest::Approx(-0.6).epsilon(1e-5));
}

TEST_CASE("clip_grad_value_ matches PyTorch") {
  auto ps = params_with_grads();
  tl::optim::clip_grad_value_(ps, 0.8);
  for (int j = 0; j < 2; ++j)
    CHECK(tl::test::max_abs_diff(ps[size_t(j)].grad(), optim_ref("clip.value.p" + std::to_string(j))) == 0.0);
  CHECK_THROWS_AS(tl::optim::clip_grad_value_(ps, -1.0), tl::Error);
}
