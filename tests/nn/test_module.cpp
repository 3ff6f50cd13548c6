#include <doctest/doctest.h>

#include <tl/nn/module.hpp>
#include <tl/tl.hpp>

namespace {
struct Leaf : tl::nn::Module<float> {
  tl::Tensor<float> weight, running;
  Leaf() {
    weight = register_parameter("weight", tl::ones<float>({2, 2}));
    running = register_buffer("running", tl::zeros<float>({2}));
    register_buffer("count", tl::scalar_tensor<float>(0), /*integer=*/true);
  }
  std::string type_name() const override { return "Leaf"; }
};
struct Tree : tl::nn::Module<float> {
  std::shared_ptr<Leaf> a, b;
  Tree() {
    a = register_module("a", std::make_shared<Leaf>());
    b = register_module("b", std::make_shared<Leaf>());
  }
  std::string type_name() const override { return "Tree"; }
};
}  // namespace

TEST_CASE("Module registers dotted names and loads state dicts") {
  auto t = std::make_shared<Tree>();
  auto np = t->named_parameters();
  REQUIRE(np.size() == 2);
  CHECK(np[0].first == "a.weight");
  CHECK(np[1].first == "b.weight");
  CHECK(t->named_buffers().size() == 4);
  auto sd = t->state_dict();
  CHECK(sd.keys() == std::vector<std::string>{"a.weight", "a.running", "a.count", "b.weight", "b.running", "b.count"});
  CHECK(sd.is_integer("a.count"));
  CHECK(t->parameters()[0].requires_grad());
  CHECK(t->get_submodule("b") == t->b);
  CHECK(t->named_modules().size() == 3);

  tl::StateDict<float> other;
  for (auto& e : sd) other.insert(e.name, tl::full_like(e.tensor, 7.0f), e.integer);
  t->load_state_dict(other);
  CHECK(t->b->weight.to_vector() == std::vector<float>(4, 7.0f));

  t->eval();
  CHECK(!t->a->is_training());
}

TEST_CASE("strict load_state_dict lists every problem in one error") {
  auto t = std::make_shared<Tree>();
  tl::StateDict<float> sd = t->state_dict();
  sd.erase("a.weight");
  sd.insert("a.extra", tl::zeros<float>({1}));
  sd.insert("b.weight", tl::zeros<float>({3, 2}));
  try {
    t->load_state_dict(sd);
    FAIL("expected tl::Error");
  } catch (const tl::Error& e) {
    std::string m = e.what();
    CHECK(m.find("missing keys: a.weight") != std::string::npos);
    CHECK(m.find("unexpected keys: a.extra") != std::string::npos);
    CHECK(m.find("b.weight: expected [2, 2], file has [3, 2]") != std::string::npos);
  }
  sd.insert("b.weight", tl::zeros<float>({2, 2}));
  auto r = t->load_state_dict(sd, /*strict=*/false);
  CHECK(r.missing_keys == std::vector<std::string>{"a.weight"});
  CHECK(r.unexpected_keys == std::vector<std::string>{"a.extra"});
}
