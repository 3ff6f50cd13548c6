// Freezing, BatchNorm kept in eval, parameter groups by pattern, gradual unfreezing, heads.
#include "transfer/transfer_support.hpp"

using namespace tl;
namespace tt = tl::transfer;

TEST_CASE("glob_match: * and ? on dotted names") {
  CHECK(tt::glob_match("layer1.*", "layer1.0.conv1.weight"));
  CHECK_FALSE(tt::glob_match("layer1.*", "layer10.weight"));
  CHECK_FALSE(tt::glob_match("layer1.*", "layer2.0.conv1.weight"));
  CHECK(tt::glob_match("*", ""));
  CHECK(tt::glob_match("layer?.0.bn?.weight", "layer3.0.bn2.weight"));
  CHECK_FALSE(tt::glob_match("layer?.0.bn?.weight", "layer3.0.bn2.bias"));
  CHECK(tt::glob_match("*.bias", "fc.bias"));
  CHECK(tt::glob_match("*conv*weight", "layer1.0.conv2.weight"));
  CHECK_FALSE(tt::glob_match("fc.weight", "fc.weight2"));
}

TEST_CASE("freeze: frozen parameters unchanged after steps, the head changes, optimizer holds only trainables") {
  auto model = test::small_resnet18();
  CHECK(tt::freeze(*model) == model->named_parameters().size());
  CHECK(tt::unfreeze(*model, "fc.*") == 2);
  CHECK_THROWS_AS(tt::freeze(*model, "nope.*"), Error);
  auto trainable = tt::trainable_parameters(*model);
  REQUIRE(trainable.size() == 2);
  auto count = tt::count_parameters(*model);
  CHECK(count.trainable == 512 * 5 + 5);
  CHECK(count.total == count.trainable + 11168832);  // resnet18 backbone, small stem (3x3 conv1)
  auto before = test::snapshot(*model);
  optim::SGD<float> opt(trainable, {.lr = 0.1, .momentum = 0.9});
  CHECK(opt.num_params() == 2);
  auto x = test::seeded_input({4, 3, 8, 8}, 2);
  model->eval();  // BN statistics fixed here: this test is about parameters
  for (int i = 0; i < 3; ++i) test::sgd_step(*model, opt, x, 5);
  for (auto& [binding_name, p] : model->named_parameters()) {
    const auto& name = binding_name;  // clang 14 cannot capture a structured binding in a lambda
    if (name.rfind("fc.", 0) == 0) {
      CHECK_MESSAGE(!test::bit_equal(p, before.at(name)), name);
    } else {
      CHECK_MESSAGE(test::bit_equal(p, before.at(name)), name);
      CHECK_MESSAGE(!p.grad().defined(), name);  // no gradient for a frozen parameter
    }
  }
}

TEST_CASE("freeze_batchnorm: frozen BN stays in eval through model.train(), running stats untouched") {
  auto model = test::small_resnet18();
  CHECK(tt::freeze_batchnorm(*model, "layer1.*") == 4);
  model->train();
  auto before = test::snapshot(*model);
  auto x = test::seeded_input({4, 3, 8, 8}, 3);
  model->forward(x);
  CHECK_FALSE(model->layer1->get_submodule("0.bn1")->is_training());
  CHECK(model->layer2->get_submodule("0.bn1")->is_training());
  for (const char* k : {"layer1.0.bn1.running_mean", "layer1.1.bn2.running_var", "layer1.0.bn2.num_batches_tracked"})
    CHECK_MESSAGE(test::bit_equal(model->state_dict().at(k), before.at(k)), k);
  for (const char* k : {"layer2.0.bn1.running_mean", "bn1.running_var"})
    CHECK_MESSAGE(!test::bit_equal(model->state_dict().at(k), before.at(k)), k);
  CHECK_FALSE(model->state_dict().at("layer1.0.bn1.weight").requires_grad() == true);
  auto p = model->named_parameters();
  for (auto& [n, t] : p)
    if (n == "layer1.0.bn1.weight") CHECK_FALSE(t.requires_grad());
  // eval() then train() again: still frozen; unfreeze_batchnorm lets it train
  model->eval();
  model->train();
  CHECK_FALSE(model->layer1->get_submodule("0.bn1")->is_training());
  CHECK(tt::unfreeze_batchnorm(*model, "layer1.*") == 4);
  CHECK(model->layer1->get_submodule("0.bn1")->is_training());
}

TEST_CASE("param_groups_by_pattern: first matching rule wins, right lrs, frozen left out") {
  auto model = test::small_resnet18();
  tt::freeze(*model, "conv1.*");
  auto groups = tt::param_groups_by_pattern(*model, {{"fc.*", 0.1}, {"layer4.*", 0.01, 0.0}, {"*", 0.001}});
  optim::SGD<float> opt(groups, {.lr = 0.5, .momentum = 0.9, .weight_decay = 1e-4});
  REQUIRE(opt.num_param_groups() == 3);
  CHECK(opt.lr(0) == doctest::Approx(0.1));
  CHECK(opt.lr(1) == doctest::Approx(0.01));
  CHECK(opt.lr(2) == doctest::Approx(0.001));
  CHECK(opt.param_groups()[0].params.size() == 2);
  CHECK(opt.param_groups()[0].params[0].is_same(model->fc->weight));
  CHECK(opt.param_groups()[1].options.weight_decay == 0.0);
  CHECK(opt.param_groups()[2].options.weight_decay == doctest::Approx(1e-4));
  const size_t layer4 = [&] {
    size_t n = 0;
    for (auto& [name, p] : model->named_parameters()) n += name.rfind("layer4.", 0) == 0;
    return n;
  }();
  CHECK(opt.param_groups()[1].params.size() == layer4);
  CHECK(opt.num_params() == model->named_parameters().size() - 1);  // conv1.weight frozen
  // Adam groups, and a parameter that matches no rule is an error
  auto adam_groups = tt::param_groups_by_pattern<optim::AdamOptions>(*model, {{"*", 1e-3}});
  optim::Adam<float> adam(adam_groups, {.lr = 1e-2});
  CHECK(adam.lr(0) == doctest::Approx(1e-3));
  CHECK_THROWS_AS(tt::param_groups_by_pattern(*model, {{"fc.*", 0.1}}), Error);
}

TEST_CASE("GradualUnfreezer: layer4 first, then layer3 ..., params join the optimizer at their epoch") {
  auto model = test::small_resnet18();
  tt::freeze(*model);
  tt::unfreeze(*model, "fc.*");
  optim::SGD<float> opt(tt::trainable_parameters(*model), {.lr = 0.1});
  tt::GradualUnfreezer<float> unfreezer(model, tt::resnet_unfreeze_stages(2, 2, 0.01, 0.5));
  auto count_prefix = [&](const std::string& prefix) {
    size_t n = 0;
    for (auto& [name, p] : model->named_parameters()) n += name.rfind(prefix, 0) == 0;
    return n;
  };
  CHECK(unfreezer.step(0, opt) == 0);
  CHECK(unfreezer.step(1, opt) == 0);
  CHECK(opt.num_param_groups() == 1);
  CHECK(unfreezer.step(2, opt) == count_prefix("layer4."));
  REQUIRE(opt.num_param_groups() == 2);
  CHECK(opt.lr(1) == doctest::Approx(0.01));
  CHECK(unfreezer.step(3, opt) == 0);
  CHECK(unfreezer.step(4, opt) == count_prefix("layer3."));
  CHECK(opt.lr(2) == doctest::Approx(0.005));
  CHECK(tt::count_parameters(*model).trainable < tt::count_parameters(*model).total);
  CHECK(unfreezer.step(100, opt) == count_prefix("layer2.") + count_prefix("layer1.") + 3);  // + conv1, bn1
  CHECK(opt.num_params() == model->named_parameters().size());
  CHECK(unfreezer.stages_done() == 6);
  CHECK(tt::count_parameters(*model).fraction() == 1.0);
}

TEST_CASE("load_backbone: skips the head whose shape differs, reports it, loads the rest exactly") {
  auto source = models::resnet18<float>(7, {.small_input = true});
  auto sd = source->state_dict();
  auto target = test::small_resnet18(5);
  auto fc_before = target->fc->weight.clone();
  auto r = tt::load_backbone(*target, sd);
  CHECK(r.skipped == std::vector<std::string>{"fc.weight", "fc.bias"});
  CHECK(r.missing.empty());
  CHECK(r.unexpected.empty());
  CHECK(r.loaded.size() == sd.size() - 2);
  CHECK(test::bit_equal(target->layer3->get_submodule("1.conv2")->state_dict().at("weight"),
                        sd.at("layer3.1.conv2.weight")));
  CHECK(test::bit_equal(target->fc->weight, fc_before));
  // the wrong architecture is an error; an explicit skip keeps a same-shaped head
  auto r34 = models::resnet34<float>(5, {.small_input = true});
  CHECK_THROWS_AS(tt::load_backbone(*r34, sd), Error);
  auto same = models::resnet18<float>(7, {.small_input = true});
  auto fc_same = same->fc->weight.clone();
  auto r2 = tt::load_backbone(*same, sd, {.skip = {"fc.*"}});
  CHECK(r2.skipped.size() == 2);
  CHECK(test::bit_equal(same->fc->weight, fc_same));
  Generator g(3);
  auto head = tt::replace_head(*same, 3, &g);
  CHECK(same->forward(test::seeded_input({2, 3, 8, 8}, 1)).shape() == Shape{2, 3});
  CHECK(same->state_dict().at("fc.weight").shape() == Shape{3, 512});
}

TEST_CASE("EpochTimer and format_parameter_count") {
  tt::EpochTimer t;
  t.start();
  CHECK(t.stop() >= 0.0);
  CHECK(t.laps().size() == 1);
  CHECK_THROWS_AS(t.stop(), Error);
  CHECK(tt::format_parameter_count({1'230'000, 11'200'000}) == "1.23M / 11.2M trainable (11.0%)");
}
