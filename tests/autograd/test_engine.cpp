#include <doctest/doctest.h>

#include <tl/tl.hpp>

TEST_CASE("backward through add and mul accumulates gradients") {
  auto x = tl::Tensor<double>(std::vector<double>{1, 2, 3}, {3}).requires_grad_(true);
  auto y = tl::Tensor<double>(std::vector<double>{4, 5, 6}, {3}).requires_grad_(true);
  auto z = (x * y + x).sum();
  z.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{5, 6, 7});
  CHECK(y.grad().to_vector() == std::vector<double>{1, 2, 3});
  // a second graph accumulates
  (x * 2.0).sum().backward();
  CHECK(x.grad().to_vector() == std::vector<double>{7, 8, 9});
  x.zero_grad();
  CHECK(!x.grad().defined());
}

TEST_CASE("a tensor used twice gets both contributions") {
  auto x = tl::Tensor<double>(std::vector<double>{3}, {1}).requires_grad_(true);
  auto y = x * x * x;  // 3x^2 = 27
  y.backward(tl::ones_like(y));
  CHECK(x.grad().item() == doctest::Approx(27.0));
}

TEST_CASE("no graph under NoGradGuard or without requires_grad") {
  auto x = tl::ones<float>({2}).requires_grad_(true);
  {
    tl::NoGradGuard g;
    auto y = x * 2.0f;
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  auto y = tl::ones<float>({2}) * 3.0f;
  CHECK(y.grad_fn() == nullptr);
  auto d = (x * 2.0f).detach();
  CHECK(!d.requires_grad());
}

TEST_CASE("backward a second time without retain_graph is an error") {
  auto x = tl::ones<double>({2}).requires_grad_(true);
  auto y = (x * x).sum();
  y.backward(tl::ones_like(y), true);
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{4, 4});
  CHECK_THROWS_AS(y.backward(), tl::Error);
}

TEST_CASE("backward checks the gradient shape and scalar-ness") {
  auto x = tl::ones<double>({2}).requires_grad_(true);
  auto y = x * 2.0;
  CHECK_THROWS_AS(y.backward(), tl::Error);
  CHECK_THROWS_AS(y.backward(tl::ones<double>({3})), tl::Error);
  CHECK_THROWS_AS(tl::ones<double>({1}).backward(), tl::Error);
}

TEST_CASE("in-place change of a leaf that requires grad needs NoGradGuard") {
  auto x = tl::ones<float>({2}).requires_grad_(true);
  CHECK_THROWS_AS(x.fill_(2.0f), tl::Error);
  tl::NoGradGuard g;
  x.fill_(2.0f);
  CHECK(x.to_vector() == std::vector<float>{2, 2});
}

TEST_CASE("the graph is freed when its output goes away") {
  std::weak_ptr<tl::Node<double>> node;
  auto x = tl::ones<double>({3}).requires_grad_(true);
  {
    auto y = (x * 2.0 + 1.0).sum();
    node = y.grad_fn();
    CHECK(!node.expired());
    y.backward();
  }
  CHECK(node.expired());
}

TEST_CASE("gradcheck: binary ops with broadcasting and views") {
  tl::manual_seed(3);
  auto a = tl::randn<double>({2, 3});
  auto b = tl::randn<double>({3});
  auto pos = tl::rand<double>({2, 1}) + 0.5;
  using V = std::vector<tl::Tensor<double>>;
  CHECK(tl::gradcheck([](const V& v) { return v[0] + v[1]; }, {a, b}));
  CHECK(tl::gradcheck([](const V& v) { return v[0] - v[1]; }, {a, b}));
  CHECK(tl::gradcheck([](const V& v) { return v[0] * v[1]; }, {a, b}));
  CHECK(tl::gradcheck([](const V& v) { return v[0] / v[1]; }, {a, pos}));
  CHECK(tl::gradcheck([](const V& v) { return 2.0 / v[0]; }, {pos}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].sum(); }, {a}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].mean(); }, {a}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].transpose(0, 1) * v[1].unsqueeze(1); }, {a, b}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].narrow(1, 1, 2); }, {a}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].slice(1, 0, 3, 2); }, {a}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].select(0, 1); }, {a}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].permute({1, 0}).reshape({6}); }, {a}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].flatten(); }, {a}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].expand({4, 3}); }, {b}));
  CHECK(tl::gradcheck([](const V& v) { return v[0].unsqueeze(0).squeeze(0).clone(); }, {a}));
}

TEST_CASE("gradcheck detects a wrong gradient") {
  // A node with a deliberately wrong backward must be caught: the check can fail.
  struct Wrong : tl::Node<double> {
    std::vector<tl::Tensor<double>> backward(const tl::Tensor<double>& g) override { return {g * 3.0}; }
    std::string name() const override { return "Wrong"; }
  };
  auto f = [](const std::vector<tl::Tensor<double>>& v) {
    auto out = v[0] * 2.0;
    auto o = out.detach().clone();
    tl::record<double>(o, std::make_shared<Wrong>(), v[0]);
    return o;
  };
  auto r = tl::gradcheck(f, {tl::ones<double>({3})});
  CHECK(!r.ok);
  CHECK(r.message.find("analytic") != std::string::npos);
}

TEST_CASE("accumulate_leaf adopts only an exclusively owned gradient, and only when allowed") {
  auto x = tl::zeros<float>({4}).requires_grad_();
  auto fresh = tl::ones<float>({4});
  const auto* raw = fresh.impl().get();
  auto held = fresh;  // a second owner: copied
  tl::detail::accumulate_leaf(*x.impl(), fresh, /*may_adopt=*/true);
  CHECK(x.grad().impl().get() != raw);
  held = tl::Tensor<float>();
  x.zero_grad();
  tl::detail::accumulate_leaf(*x.impl(), fresh, /*may_adopt=*/false);  // a user's tensor: copied
  CHECK(x.grad().impl().get() != raw);
  x.zero_grad();
  tl::detail::accumulate_leaf(*x.impl(), fresh, /*may_adopt=*/true);  // sole owner: kept, no copy
  CHECK(x.grad().impl().get() == raw);
  auto y = tl::zeros<float>({2}).requires_grad_();
  auto base = tl::ones<float>({4});
  tl::detail::accumulate_leaf(*y.impl(), base.narrow(0, 2, 2).contiguous(), true);
  CHECK(y.grad().to_vector() == std::vector<float>{1, 1});
  auto z = tl::zeros<float>({2}).requires_grad_();
  tl::detail::accumulate_leaf(*z.impl(), base.narrow(0, 2, 2), true);  // a view of base: copied
  CHECK(z.grad().impl()->storage != base.impl()->storage);
}

TEST_CASE("a leaf adopts a backward's fresh gradient, but never a tensor someone else holds") {
  auto x = tl::Tensor<float>({1, -2, 3}, {3}).requires_grad_();
  // A fresh gradient from MulBackward: adopted (no copy); a second backward adds to it in place.
  (x * tl::Tensor<float>({2, 2, 2}, {3})).sum().backward();
  CHECK(x.grad().to_vector() == std::vector<float>{2, 2, 2});
  (x * tl::Tensor<float>({1, 2, 3}, {3})).sum().backward();
  CHECK(x.grad().to_vector() == std::vector<float>{3, 4, 5});
  // The user's gradient reaches the leaf unchanged through AddBackward: it must be copied, so
  // changing the user's tensor afterwards leaves .grad alone.
  x.zero_grad();
  auto g = tl::Tensor<float>({1, 1, 1}, {3});
  (x + tl::Tensor<float>({0, 0, 0}, {3})).backward(g);
  g.fill_(5.0f);
  CHECK(x.grad().to_vector() == std::vector<float>{1, 1, 1});
  // The same for a leaf as the root.
  x.zero_grad();
  auto g2 = tl::Tensor<float>({7, 7, 7}, {3});
  x.backward(g2);
  g2.fill_(0.0f);
  CHECK(x.grad().to_vector() == std::vector<float>{7, 7, 7});
  // A gradient shared by two edges (add_relu hands one tensor to both inputs): each leaf gets its
  // own storage, so accumulating into one does not change the other.
  auto a = tl::Tensor<float>({1, 2}, {2}).requires_grad_(), b = tl::Tensor<float>({3, 4}, {2}).requires_grad_();
  tl::add_relu(a, b).sum().backward();
  CHECK(a.grad().data() != b.grad().data());
  (a * 3.0f).sum().backward();
  CHECK(a.grad().to_vector() == std::vector<float>{4, 4});
  CHECK(b.grad().to_vector() == std::vector<float>{1, 1});
}
