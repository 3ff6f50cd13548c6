// Optimizer state_dict / load_state_dict: key scheme, exact resumption, errors naming the key.
#include <doctest/doctest.h>

#include <functional>

#include "support/ref_file.hpp"

using tl::Tensor;
using namespace tl::optim;

namespace {

std::vector<Tensor<float>> make_params() {
  tl::Generator gen(7);
  return {tl::randn<float>({4, 3}, gen).requires_grad_(), tl::randn<float>({5}, gen).requires_grad_(),
          tl::randn<float>({2}, gen).requires_grad_()};
}
/// Deterministic gradients for step k.
void set_grads(std::vector<Tensor<float>>& ps, int k) {
  tl::Generator gen(100 + uint64_t(k));
  for (auto& p : ps) p.set_grad(tl::randn<float>(p.shape(), gen) * float(1 + k % 3));
}
std::vector<Tensor<float>> clones(const std::vector<Tensor<float>>& ps) {
  std::vector<Tensor<float>> out;
  for (auto& p : ps) out.push_back(p.detach().clone().requires_grad_());
  return out;
}
/// A deep copy, as a file round trip would give (tensors copied, integer flags and metadata kept).
tl::StateDict<float> deep_copy(const tl::StateDict<float>& sd) {
  tl::StateDict<float> out;
  for (const auto& e : sd) out.insert(e.name, e.tensor.clone(), e.integer);
  out.metadata = sd.metadata;
  return out;
}

/// 3 steps, save, a new optimizer (made with other options), load, 2 steps == 5 steps, bit for bit.
template <class O>
void check_resume(const std::function<O(std::vector<Tensor<float>>&)>& make,
                  const std::function<O(std::vector<Tensor<float>>&)>& make_other) {
  auto ref = make_params();
  auto a = clones(ref);
  O full = make(ref);
  O first = make(a);
  for (int k = 0; k < 3; ++k) {
    set_grads(ref, k), set_grads(a, k);
    full.step(), first.step();
  }
  auto saved = deep_copy(first.state_dict());
  auto b = clones(a);
  O second = make_other(b);
  second.load_state_dict(saved);
  for (int k = 3; k < 5; ++k) {
    set_grads(ref, k), set_grads(b, k);
    full.step(), second.step();
  }
  for (size_t j = 0; j < ref.size(); ++j) CHECK(ref[j].to_vector() == b[j].to_vector());
}

}  // namespace

TEST_CASE("state_dict keys follow the documented scheme") {
  auto ps = make_params();
  Adam<float> opt({{.params = {ps[0], ps[1]}}, {.params = {ps[2]}, .lr = 0.5}}, {.lr = 0.1, .amsgrad = true});
  ps[1].set_grad(tl::ones<float>({5}));
  opt.step();
  tl::optim::Optimizer<float>& any = opt;  // the typed interface a training loop holds
  CHECK(any.parameters().size() == 3);
  CHECK(any.parameters()[2].is_same(ps[2]));
  auto sd = any.state_dict();
  std::vector<std::string> expect{"state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.max_exp_avg_sq",
                                  "param_groups.0.params", "param_groups.0.lr", "param_groups.0.betas",
                                  "param_groups.0.eps", "param_groups.0.weight_decay", "param_groups.0.amsgrad",
                                  "param_groups.1.params", "param_groups.1.lr", "param_groups.1.betas",
                                  "param_groups.1.eps", "param_groups.1.weight_decay", "param_groups.1.amsgrad"};
  auto keys = sd.keys();
  std::sort(keys.begin(), keys.end());
  std::sort(expect.begin(), expect.end());
  CHECK(keys == expect);
  CHECK(sd.is_integer("state.1.step"));
  CHECK(sd.at("state.1.step").dim() == 0);
  CHECK(sd.at("state.1.step").item() == 1.0f);
  CHECK(sd.at("param_groups.1.lr").item() == 0.5f);
  CHECK(sd.at("param_groups.0.params").to_vector() == std::vector<float>{0, 1});
  CHECK(sd.at("param_groups.1.params").to_vector() == std::vector<float>{2});
  CHECK(sd.at("param_groups.0.betas").to_vector() == std::vector<float>{0.9f, 0.999f});
  CHECK(sd.at("state.1.exp_avg").shape() == tl::Shape{5});
}

TEST_CASE("resuming from state_dict continues exactly") {
  using S = SGD<float>;
  check_resume<S>([](auto& ps) { return S({{.params = {ps[0], ps[1]}}, {.params = {ps[2]}, .lr = 0.03}}, {.lr = 0.1, .momentum = 0.9, .nesterov = true}); },
                  [](auto& ps) { return S({{.params = {ps[0], ps[1]}}, {.params = {ps[2]}}}, {.lr = 7.0}); });
  using A = Adam<float>;
  check_resume<A>([](auto& ps) { return A({{.params = {ps[0]}}, {.params = {ps[1], ps[2]}, .weight_decay = 0.1}}, {.lr = 0.1, .amsgrad = true}); },
                  [](auto& ps) { return A({{.params = {ps[0]}}, {.params = {ps[1], ps[2]}}}, {}); });
  using W = AdamW<float>;
  check_resume<W>([](auto& ps) { return W(ps, {.lr = 0.1, .betas = {0.8, 0.95}}); },
                  [](auto& ps) { return W(ps, {.lr = 0.2}); });
}

TEST_CASE("without metadata, float options load rounded but still load") {
  auto ps = make_params();
  SGD<float> opt(ps, {.lr = 0.1, .momentum = 0.9});
  auto sd = deep_copy(opt.state_dict());
  sd.metadata.clear();
  SGD<float> other(ps, {.lr = 1.0});
  other.load_state_dict(sd);
  CHECK(other.param_groups()[0].options.lr == double(0.1f));
  other.load_state_dict(opt.state_dict());
  CHECK(other.param_groups()[0].options.lr == 0.1);
  CHECK(other.param_groups()[0].options.momentum == 0.9);
}

TEST_CASE("load_state_dict rejects mismatched state, naming the key") {
  auto ps = make_params();
  Adam<float> opt({{.params = {ps[0], ps[1]}}, {.params = {ps[2]}}}, {});
  for (int k = 0; k < 2; ++k) set_grads(ps, k), opt.step();
  const auto good = deep_copy(opt.state_dict());
  Adam<float> target({{.params = {ps[0], ps[1]}}, {.params = {ps[2]}}}, {});

  auto bad = deep_copy(good);
  bad.insert("state.1.exp_avg", tl::zeros<float>({4}));
  CHECK_THROWS_WITH_AS(target.load_state_dict(bad), doctest::Contains("'state.1.exp_avg' has shape [4]"), tl::Error);
  bad = deep_copy(good);
  bad.erase("param_groups.1.eps");
  CHECK_THROWS_WITH_AS(target.load_state_dict(bad), doctest::Contains("missing key 'param_groups.1.eps'"), tl::Error);
  bad = deep_copy(good);
  bad.erase("state.2.exp_avg_sq");
  CHECK_THROWS_WITH_AS(target.load_state_dict(bad), doctest::Contains("'state.2.exp_avg_sq'"), tl::Error);
  bad = deep_copy(good);
  bad.insert("state.3.exp_avg", tl::zeros<float>({2}));
  CHECK_THROWS_WITH_AS(target.load_state_dict(bad), doctest::Contains("unexpected key 'state.3.exp_avg'"), tl::Error);
  bad = deep_copy(good);
  bad.insert("param_groups.2.lr", tl::scalar_tensor<float>(1));
  CHECK_THROWS_WITH_AS(target.load_state_dict(bad), doctest::Contains("unexpected key 'param_groups.2.lr'"), tl::Error);
  bad = deep_copy(good);
  bad.insert("param_groups.0.betas", tl::zeros<float>({3}));
  bad.metadata.erase("param_groups.0.betas");
  CHECK_THROWS_WITH_AS(target.load_state_dict(bad), doctest::Contains("'param_groups.0.betas' has 3 values"), tl::Error);
  bad = deep_copy(good);
  bad.insert("param_groups.0.lr", tl::scalar_tensor<float>(-1));
  CHECK_THROWS_WITH_AS(target.load_state_dict(bad), doctest::Contains("'lr'"), tl::Error);
  // a different layout: one group of three
  Adam<float> one_group(ps, {});
  CHECK_THROWS_WITH_AS(one_group.load_state_dict(good), doctest::Contains("'param_groups.0.params' has 2 values, expected 3"),
                       tl::Error);
  // an SGD state is not an Adam state
  SGD<float> sgd(ps, {.lr = 0.1, .momentum = 0.9});
  CHECK_THROWS_AS(sgd.load_state_dict(good), tl::Error);
  // nothing was changed by the failed loads
  CHECK(target.state(ps[0]) == nullptr);
  target.load_state_dict(good);
  REQUIRE(target.state(ps[0]) != nullptr);
  CHECK(target.state(ps[0])->step == 2);
}
