#include <doctest/doctest.h>

#include <cmath>

#include <tl/tl.hpp>

#include "nn_ref.hpp"

namespace F = tl::nn::functional;
using tl::nn::Reduction;
using TD = tl::Tensor<double>;
using TI = tl::Tensor<int64_t>;

namespace {
Reduction parse(const std::string& r) {
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "batchmean") return Reduction::BatchMean;
  return Reduction::None;
}
const char* kReductions[] = {"mean", "sum", "none"};
}  // namespace

TEST_CASE("the plain cross_entropy call compiles and gives a scalar") {
  auto loss = tl::nn::functional::cross_entropy(tl::randn<float>({4, 10}),
                                                tl::Tensor<int64_t>(std::vector<int64_t>{1, 2, 3, 4}, {4}));
  CHECK(loss.dim() == 0);
  CHECK(loss.item() > 0.0f);
  auto l2 = F::cross_entropy(tl::randn<float>({4, 10}), TI(std::vector<int64_t>{1, 2, 3, 4}, {4}),
                             {.reduction = tl::nn::Reduction::Sum, .label_smoothing = 0.1});
  CHECK(l2.dim() == 0);
}

TEST_CASE("cross_entropy matches PyTorch: reductions, weights, label smoothing, ignore_index") {
  for (std::string red : kReductions) {
    const Reduction r = parse(red);
    TI t = nnref::targets("ce_" + red), ti = nnref::targets("ce_all_" + red);
    TD w = nnref::get("ce_w_" + red + ".w");
    nnref::check_case<double>("ce_" + red, 1, [&](const std::vector<TD>& v) {
      return F::cross_entropy(v[0], t, {.reduction = r});
    }, 1e-12);
    nnref::check_case<double>("ce_w_" + red, 1, [&](const std::vector<TD>& v) {
      return F::cross_entropy(v[0], t, {.weight = w, .reduction = r});
    }, 1e-12);
    nnref::check_case<double>("ce_ls_" + red, 1, [&](const std::vector<TD>& v) {
      return F::cross_entropy(v[0], t, {.reduction = r, .label_smoothing = 0.2});
    }, 1e-12);
    nnref::check_case<double>("ce_all_" + red, 1, [&](const std::vector<TD>& v) {
      return F::cross_entropy(v[0], ti, {.weight = w, .reduction = r, .label_smoothing = 0.15});
    }, 1e-12);
    // float: same values within float precision
    tl::Tensor<float> wf = w.to<float>();
    nnref::check_case<float>("ce_all_" + red, 1, [&](const std::vector<tl::Tensor<float>>& v) {
      return F::cross_entropy(v[0], ti, {.weight = wf, .reduction = r, .label_smoothing = 0.15});
    }, 2e-6);
  }
  TI ti = nnref::targets("ce_ign_mean");
  nnref::check_case<double>("ce_ign_mean", 1, [&](const std::vector<TD>& v) { return F::cross_entropy(v[0], ti); },
                            1e-12);
  TI t255 = nnref::targets("ce_ign255_mean");
  nnref::check_case<double>("ce_ign255_mean", 1, [&](const std::vector<TD>& v) {
    return F::cross_entropy(v[0], t255, {.ignore_index = 255});
  }, 1e-12);
}

TEST_CASE("cross_entropy on [N, C, H, W] logits and with class-probability targets matches PyTorch") {
  TI t = nnref::targets("ce_nd_mean");
  TD w = nnref::get("ce_nd_mean.w");
  nnref::check_case<double>("ce_nd_mean", 1, [&](const std::vector<TD>& v) {
    return F::cross_entropy(v[0], t, {.weight = w, .label_smoothing = 0.1});
  }, 1e-12);
  TI t2 = nnref::targets("ce_nd_none");
  nnref::check_case<double>("ce_nd_none", 1, [&](const std::vector<TD>& v) {
    return F::cross_entropy(v[0], t2, {.reduction = Reduction::None});
  }, 1e-12);
  TD wp = nnref::get("ce_prob_mean.w");
  nnref::check_case<double>("ce_prob_mean", 2, [&](const std::vector<TD>& v) {
    return F::cross_entropy(v[0], v[1], {.weight = wp, .label_smoothing = 0.1});
  }, 1e-12);
  nnref::check_case<double>("ce_prob_none", 2, [&](const std::vector<TD>& v) {
    return F::cross_entropy(v[0], v[1], {.reduction = Reduction::None});
  }, 1e-12);
}

TEST_CASE("nll_loss, mse_loss, l1_loss, kl_div, binary cross entropy match PyTorch") {
  for (std::string red : kReductions) {
    const Reduction r = parse(red);
    TI t = nnref::targets("nll_" + red);
    TD w = nnref::get("nll_" + red + ".w");
    nnref::check_case<double>("nll_" + red, 1, [&](const std::vector<TD>& v) {
      return F::nll_loss(v[0], t, {.weight = w, .reduction = r});
    }, 1e-12);
    nnref::check_case<double>("mse_" + red, 2, [&](const std::vector<TD>& v) { return F::mse_loss(v[0], v[1], r); },
                              1e-12);
    nnref::check_case<double>("l1_" + red, 2, [&](const std::vector<TD>& v) { return F::l1_loss(v[0], v[1], r); },
                              1e-12);
  }
  for (std::string red : {"mean", "batchmean", "sum", "none"}) {
    const Reduction r = parse(red);
    nnref::check_case<double>("kl_" + red, 2, [&](const std::vector<TD>& v) { return F::kl_div(v[0], v[1], r); },
                              1e-12);
    nnref::check_case<double>("kl_logt_" + red, 2,
                              [&](const std::vector<TD>& v) { return F::kl_div(v[0], v[1], r, true); }, 1e-12);
  }
  TD bw = nnref::get("bce_logits_mean.w"), pw = nnref::get("bce_logits_mean.pw");
  nnref::check_case<double>("bce_logits_mean", 2, [&](const std::vector<TD>& v) {
    return F::binary_cross_entropy_with_logits(v[0], v[1], {.weight = bw, .pos_weight = pw});
  }, 1e-12);
  nnref::check_case<double>("bce_logits_none", 2, [&](const std::vector<TD>& v) {
    return F::binary_cross_entropy_with_logits(v[0], v[1], {.reduction = Reduction::None});
  }, 1e-12);
  TD bw2 = nnref::get("bce_mean.w");
  nnref::check_case<double>("bce_mean", 2, [&](const std::vector<TD>& v) {
    return F::binary_cross_entropy(v[0], v[1], {.weight = bw2});
  }, 1e-10);
}

TEST_CASE("loss gradchecks in double") {
  tl::Generator g(11);
  TD x = tl::randn<double>({4, 5}, g);
  TI t(std::vector<int64_t>{1, 0, -100, 4}, {4});
  TD w = tl::rand<double>({5}, g) + 0.5;
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    INFO("reduction ", tl::reduction_name(r));
    auto check = [&](const tl::nn::CrossEntropyOptions<double>& o) {
      auto res = tl::gradcheck([&](const std::vector<TD>& v) { return F::cross_entropy(v[0], t, o); }, {x});
      CHECK_MESSAGE(res.ok, res.message);
    };
    check({.reduction = r});
    check({.weight = w, .reduction = r});
    check({.reduction = r, .label_smoothing = 0.3});
    check({.weight = w, .reduction = r, .label_smoothing = 0.3});
    auto res = tl::gradcheck(
        [&](const std::vector<TD>& v) { return F::nll_loss(v[0], t, {.weight = w, .reduction = r}); }, {x});
    CHECK_MESSAGE(res.ok, res.message);
    res = tl::gradcheck([&](const std::vector<TD>& v) { return F::mse_loss(v[0], v[1], r); },
                        {x, tl::randn<double>({4, 5}, g)});
    CHECK_MESSAGE(res.ok, res.message);
    // broadcast target: its gradient is summed back to [5]
    res = tl::gradcheck([&](const std::vector<TD>& v) { return F::mse_loss(v[0], v[1], r); },
                        {x, tl::randn<double>({5}, g)});
    CHECK_MESSAGE(res.ok, res.message);
    res = tl::gradcheck(
        [&](const std::vector<TD>& v) {
          return F::binary_cross_entropy_with_logits(v[0], v[1], {.weight = w, .reduction = r, .pos_weight = w});
        },
        {x, tl::rand<double>({4, 5}, g)});
    CHECK_MESSAGE(res.ok, res.message);
  }
  for (Reduction r : {Reduction::Mean, Reduction::BatchMean, Reduction::Sum, Reduction::None}) {
    TD lp = F::log_softmax(tl::randn<double>({3, 4}, g), 1);
    TD q = F::softmax(tl::randn<double>({3, 4}, g), 1);
    auto res = tl::gradcheck([&](const std::vector<TD>& v) { return F::kl_div(v[0], v[1], r); }, {lp, q});
    CHECK_MESSAGE(res.ok, res.message);
    res = tl::gradcheck([&](const std::vector<TD>& v) { return F::kl_div(v[0], v[1], r, true); }, {lp, lp * 0.5});
    CHECK_MESSAGE(res.ok, res.message);
  }
  // [N, C, H, W] with ignore, smoothing and weights; soft targets
  TD x4 = tl::randn<double>({2, 3, 2, 2}, g);
  TI t4(std::vector<int64_t>{0, 1, 2, 0, -100, 2, 1, 1}, {2, 2, 2});
  auto res = tl::gradcheck(
      [&](const std::vector<TD>& v) {
        return F::cross_entropy(v[0], t4, {.weight = tl::rand<double>({3}) + 0.5, .label_smoothing = 0.2});
      },
      {x4});
  CHECK(!res.ok);  // a random weight per call makes the function non-deterministic: gradcheck must notice
  TD w3 = tl::rand<double>({3}, g) + 0.5;
  res = tl::gradcheck(
      [&](const std::vector<TD>& v) { return F::cross_entropy(v[0], t4, {.weight = w3, .label_smoothing = 0.2}); },
      {x4});
  CHECK_MESSAGE(res.ok, res.message);
  res = tl::gradcheck(
      [&](const std::vector<TD>& v) { return F::cross_entropy(v[0], v[1], {.weight = w, .label_smoothing = 0.1}); },
      {x, F::softmax(tl::randn<double>({4, 5}, g), 1)});
  CHECK_MESSAGE(res.ok, res.message);
  // unbatched [C] input with a 0-d target
  res = tl::gradcheck([&](const std::vector<TD>& v) { return F::cross_entropy(v[0], TI(std::vector<int64_t>{2}, {})); },
                      {tl::randn<double>({5}, g)});
  CHECK_MESSAGE(res.ok, res.message);
}

TEST_CASE("cross_entropy is numerically stable and agrees with log_softmax + nll_loss") {
  // huge logits: a naive exp would overflow
  TD x(std::vector<double>{1000, 0, -1000, 500, 501, 502}, {2, 3});
  TI t(std::vector<int64_t>{0, 2}, {2});
  auto ce = F::cross_entropy(x, t, {.reduction = Reduction::None});
  CHECK(ce.at({0}) == doctest::Approx(0.0));
  CHECK(ce.at({1}) == doctest::Approx(std::log(1 + std::exp(-1.0) + std::exp(-2.0))));
  tl::Tensor<float> xf = tl::randn<float>({8, 7}) * 30.0f;
  TI tf = tl::randint<int64_t>(0, 7, {8});
  auto a = F::cross_entropy(xf, tf);
  auto b = F::nll_loss(F::log_softmax(xf, 1), tf);
  CHECK(std::isfinite(a.item()));
  CHECK(a.item() == doctest::Approx(b.item()).epsilon(1e-5));
}

TEST_CASE("losses reject bad targets, shapes and options") {
  auto x = tl::randn<float>({3, 4});
  try {
    F::cross_entropy(x, TI(std::vector<int64_t>{0, 12, 1}, {3}));
    FAIL("expected tl::Error");
  } catch (const tl::Error& e) {
    std::string m = e.what();
    CHECK(m.find("cross_entropy") != std::string::npos);
    CHECK(m.find("target 12") != std::string::npos);
    CHECK(m.find("4 classes") != std::string::npos);
  }
  CHECK_THROWS_AS(F::cross_entropy(x, TI(std::vector<int64_t>{0, -1, 1}, {3})), tl::Error);
  CHECK_THROWS_AS(F::nll_loss(x, TI(std::vector<int64_t>{0, 4, 1}, {3})), tl::Error);
  CHECK_THROWS_AS(F::cross_entropy(x, TI(std::vector<int64_t>{0, 1}, {2})), tl::Error);       // wrong N
  CHECK_THROWS_AS(F::cross_entropy(x, TI(std::vector<int64_t>{0, 1, 2}, {3, 1})), tl::Error);  // wrong rank
  CHECK_THROWS_AS(F::cross_entropy(x, TI(std::vector<int64_t>{0, 1, 2}, {3}), {.weight = tl::ones<float>({3})}),
                  tl::Error);
  CHECK_THROWS_AS(F::cross_entropy(x, TI(std::vector<int64_t>{0, 1, 2}, {3}), {.label_smoothing = 1.5}), tl::Error);
  CHECK_THROWS_AS(F::cross_entropy(x, TI(std::vector<int64_t>{0, 1, 2}, {3}), {.reduction = Reduction::BatchMean}),
                  tl::Error);
  CHECK_THROWS_AS(F::mse_loss(x, tl::randn<float>({3, 5})), tl::Error);
  CHECK_THROWS_AS(F::binary_cross_entropy(x, tl::rand<float>({3, 4})), tl::Error);  // input outside [0, 1]
  // all targets ignored: the mean is 0 / 0 = nan, as in PyTorch
  auto all_ignored = F::cross_entropy(x, TI(std::vector<int64_t>{-100, -100, -100}, {3}));
  CHECK(std::isnan(all_ignored.item()));
}

TEST_CASE("loss modules wrap the functional forms") {
  auto x = tl::randn<float>({5, 3}).requires_grad_();
  TI t(std::vector<int64_t>{0, 2, 1, 1, 0}, {5});
  auto w = tl::Tensor<float>(std::vector<float>{1, 2, 3}, {3});
  tl::nn::CrossEntropyLoss<float> ce({.weight = w, .label_smoothing = 0.1});
  auto l = ce(x, t);
  CHECK(l.item() == doctest::Approx(F::cross_entropy(x, t, {.weight = w, .label_smoothing = 0.1}).item()));
  CHECK(ce.state_dict().keys() == std::vector<std::string>{"weight"});
  CHECK(ce.repr() == "CrossEntropyLoss()");
  l.backward();
  CHECK(x.grad().defined());
  tl::nn::CrossEntropyLoss<float> plain;
  CHECK(plain.state_dict().size() == 0);
  CHECK(plain(x, t).item() == doctest::Approx(F::cross_entropy(x, t).item()));
  tl::nn::MSELoss<float> mse(Reduction::Sum);
  auto y = tl::randn<float>({5, 3});
  CHECK(mse(x, y).item() == doctest::Approx(F::mse_loss(x, y, Reduction::Sum).item()));
  tl::nn::KLDivLoss<float> kl(Reduction::BatchMean);
  auto lp = F::log_softmax(x, 1), q = F::softmax(y, 1);
  CHECK(kl(lp, q).item() == doctest::Approx(F::kl_div(lp, q, Reduction::BatchMean).item()));
  tl::nn::NLLLoss<float> nll;
  CHECK(nll(lp, t).item() == doctest::Approx(F::cross_entropy(x, t).item()).epsilon(1e-5));
  tl::nn::BCEWithLogitsLoss<float> bce({.pos_weight = tl::full<float>({3}, 2.0f)});
  CHECK(bce.state_dict().keys() == std::vector<std::string>{"pos_weight"});
  CHECK(std::isfinite(bce(x, tl::rand<float>({5, 3})).item()));
}
