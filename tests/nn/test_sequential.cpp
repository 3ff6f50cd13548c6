#include <doctest/doctest.h>

#include <tl/tl.hpp>

namespace nn = tl::nn;

TEST_CASE("Sequential chains forwards, names children 0, 1, ... and prints like PyTorch") {
  tl::manual_seed(0);
  auto l1 = std::make_shared<nn::Linear<float>>(4, 8);
  auto l2 = std::make_shared<nn::Linear<float>>(8, 2);
  auto net = std::make_shared<nn::Sequential<float>>(l1, std::make_shared<nn::ReLU<float>>(), l2);
  CHECK(net->size() == 3);
  CHECK(net->at<nn::Linear<float>>(0) == l1);
  CHECK((*net)[-1] == l2);
  CHECK_THROWS_AS(net->at<nn::ReLU<float>>(0), tl::Error);
  CHECK_THROWS_AS((*net)[3], tl::Error);
  auto names = net->state_dict().keys();
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(net->repr() ==
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=8, out_features=2, bias=True)\n"
        ")");

  auto x = tl::randn<float>({3, 4});
  auto y = net->forward(x);
  auto want = l2->forward(nn::functional::relu(l1->forward(x)));
  CHECK(y.to_vector() == want.to_vector());
  y.sum().backward();
  CHECK(l1->weight.grad().defined());

  net->push_back(std::make_shared<nn::Flatten<float>>(0));
  CHECK(net->forward(x).shape() == tl::Shape{6});
  net->append(std::make_shared<nn::Identity<float>>());
  CHECK(net->named_children().back().first == "4");
  CHECK(net->repr().find("(3): Flatten(start_dim=0, end_dim=-1)") != std::string::npos);
}

TEST_CASE("Sequential from an initializer list, a vector and named children; train/eval reach children") {
  nn::Sequential<float> a({std::make_shared<nn::Linear<float>>(2, 2), std::make_shared<nn::Dropout<float>>(0.5)});
  CHECK(a.size() == 2);
  a.eval();
  CHECK(!a[1]->is_training());
  auto x = tl::ones<float>({1, 2});
  CHECK(a(x).to_vector() == a(x).to_vector());  // dropout is off in eval

  auto named = std::make_shared<nn::Sequential<float>>(nn::Sequential<float>::NamedModules{
      {"fc", std::make_shared<nn::Linear<float>>(3, 1)}, {"act", std::make_shared<nn::Sigmoid<float>>()}});
  CHECK(named->state_dict().keys() == std::vector<std::string>{"fc.weight", "fc.bias"});
  CHECK(named->get_submodule("act")->type_name() == "Sigmoid");
  auto y = (*named)(tl::zeros<float>({5, 3}));
  CHECK(y.shape() == tl::Shape{5, 1});
  CHECK(y.at({0, 0}) > 0.0f);
  CHECK(y.at({0, 0}) < 1.0f);

  nn::Sequential<float> empty;
  CHECK(empty.forward(x).is_same(x));
}

TEST_CASE("Flatten and Identity") {
  auto x = tl::randn<float>({2, 3, 4, 5});
  CHECK(nn::Flatten<float>()(x).shape() == tl::Shape{2, 60});
  CHECK(nn::Flatten<float>(2)(x).shape() == tl::Shape{2, 3, 20});
  CHECK(nn::Flatten<float>(1, 2)(x).shape() == tl::Shape{2, 12, 5});
  CHECK(nn::Flatten<float>().repr() == "Flatten(start_dim=1, end_dim=-1)");
  CHECK(nn::Identity<float>()(x).is_same(x));
  CHECK(nn::Identity<float>().repr() == "Identity()");
}
