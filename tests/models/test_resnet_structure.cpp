// ResNet structure: torchvision's state_dict keys, order, shapes and parameter counts; output
// shapes; options (small stem, zero_init_residual, in_channels); head replacement; errors.
#include <doctest/doctest.h>

#include "models/resnet_support.hpp"

using tl::models::ResNetOptions;

namespace {

int64_t count_params(const tl::nn::Module<float>& m) {
  int64_t n = 0;
  for (auto& p : m.parameters()) n += p.numel();
  return n;
}

/// Every entry of the model's state_dict against torchvision's, in order.
void check_layout(const std::string& name, const tl::nn::Module<float>& model, const tl::test::ModelKeys& tv) {
  auto sd = model.state_dict();
  REQUIRE_MESSAGE(sd.size() == tv.entries.size(), name, ": ", sd.size(), " entries, torchvision has ",
                  tv.entries.size());
  size_t i = 0, bad = 0;
  for (const auto& e : sd) {
    const auto& t = tv.entries[i++];
    if (e.name != t.name || e.tensor.shape() != t.shape || e.integer != t.integer) {
      if (++bad <= 5)
        FAIL_CHECK(name, " entry ", i - 1, ": tl has ", e.name, " ", tl::shape_str(e.tensor.shape()),
                   e.integer ? " int64" : "", ", torchvision has ", t.name, " ", tl::shape_str(t.shape),
                   t.integer ? " int64" : "");
    }
  }
  CHECK_MESSAGE(bad == 0, name, ": ", bad, " entries differ from torchvision's");
  CHECK_MESSAGE(count_params(model) == tv.params, name, ": ", count_params(model), " parameters, torchvision has ",
                tv.params);
  // named_parameters() is the state_dict minus the buffers, in the same order (optimizers rely on it).
  auto np = model.named_parameters();
  size_t j = 0;
  for (const auto& t : tv.entries) {
    if (t.name.find("running_") != std::string::npos || t.name.find("num_batches") != std::string::npos) continue;
    REQUIRE(j < np.size());
    CHECK(np[j++].first == t.name);
  }
  CHECK(j == np.size());
}

}  // namespace

TEST_CASE("ResNet state_dict keys, order, shapes and parameter counts equal torchvision's") {
  const auto tv = tl::test::read_torchvision_keys();
  REQUIRE(tv.size() == 7);
  for (const char* name : {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                           "wide_resnet50_2"}) {
    CAPTURE(name);
    REQUIRE(tv.count(name));
    auto model = tl::models::resnet_by_name(name);
    check_layout(name, *model, tv.at(name));
  }
  CHECK(tv.at("resnet18").params == 11689512);
  CHECK(tv.at("resnet50").params == 25557032);
  CHECK_THROWS_AS(tl::models::resnet_by_name("resnet19"), tl::Error);
}

TEST_CASE("ResNet names the issue lists") {
  auto model = tl::models::resnet18(1000);
  auto sd = model->state_dict();
  for (const char* k : {"conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer3.1.conv2.weight",
                        "layer2.0.downsample.1.bias", "layer2.0.downsample.0.weight", "fc.weight", "fc.bias"})
    CHECK_MESSAGE(sd.contains(k), k);
  CHECK(sd.is_integer("bn1.num_batches_tracked"));
  CHECK_FALSE(sd.contains("layer1.0.downsample.0.weight"));  // BasicBlock nets: no shortcut conv in layer1
  auto r50 = tl::models::resnet50(1000)->state_dict();
  CHECK(r50.contains("layer1.0.downsample.0.weight"));  // Bottleneck: 64 -> 256 needs one
  CHECK(r50.at("layer2.0.conv2.weight").shape() == tl::Shape{128, 128, 3, 3});
  CHECK(r50.at("fc.weight").shape() == tl::Shape{1000, 2048});
  // ResNeXt's grouped 3x3: 32 groups of 4 (x 128/64 in layer2).
  auto rx = tl::models::resnext50_32x4d(1000)->state_dict();
  CHECK(rx.at("layer2.0.conv2.weight").shape() == tl::Shape{256, 8, 3, 3});
  auto m = tl::models::resnext50_32x4d();
  auto* block = dynamic_cast<tl::models::Bottleneck<float>*>(m->layer2->children()[0].get());
  REQUIRE(block != nullptr);
  CHECK(block->conv2->groups == 32);
  CHECK(block->conv2->stride == tl::Pair(2));  // stride on the 3x3 (ResNet v1.5)
  CHECK(block->conv1->stride == tl::Pair(1));
}

TEST_CASE("ResNet init is torchvision's: kaiming fan_out convs, BN 1/0, zero_init_residual") {
  tl::Generator gen(7);
  ResNetOptions o;
  o.generator = &gen;
  auto model = tl::models::resnet50(1000, o);
  // conv1 [64, 3, 7, 7]: std = sqrt(2 / fan_out) = sqrt(2 / (64 * 49)).
  auto w = model->conv1->weight.to_vector();
  double ss = 0;
  for (float v : w) ss += double(v) * v;
  const double std_expect = std::sqrt(2.0 / (64 * 49));
  CHECK(std::sqrt(ss / double(w.size())) == doctest::Approx(std_expect).epsilon(0.05));
  // layer4's last conv3 [2048, 512, 1, 1]: std = sqrt(2 / 2048).
  auto* last = dynamic_cast<tl::models::Bottleneck<float>*>(model->layer4->children()[2].get());
  REQUIRE(last != nullptr);
  auto w3 = last->conv3->weight.to_vector();
  ss = 0;
  for (float v : w3) ss += double(v) * v;
  CHECK(std::sqrt(ss / double(w3.size())) == doctest::Approx(std::sqrt(2.0 / 2048)).epsilon(0.02));
  CHECK(last->bn3->weight.to_vector() == std::vector<float>(2048, 1.0f));
  CHECK(last->bn3->bias.to_vector() == std::vector<float>(2048, 0.0f));
  // fc keeps Linear's default: U(-1/sqrt(2048), 1/sqrt(2048)).
  float mx = 0;
  for (float v : model->fc->weight.to_vector()) mx = std::max(mx, std::abs(v));
  CHECK(mx <= 1.0f / std::sqrt(2048.0f));
  CHECK(mx > 0.9f / std::sqrt(2048.0f));

  // Same seed, same weights; zero_init_residual zeroes exactly the last BN of each block.
  tl::Generator gen2(7);
  o.generator = &gen2;
  o.zero_init_residual = true;
  auto z = tl::models::resnet50(1000, o);
  CHECK(z->conv1->weight.to_vector() == w);
  CHECK(z->fc->weight.to_vector() == model->fc->weight.to_vector());  // the head too comes from o.generator
  int zeroed = 0;
  for (auto& [binding_name, p] : z->named_parameters()) {
    const auto& name = binding_name;  // clang 14 cannot capture a structured binding in a lambda
    if (name.find("bias") != std::string::npos) continue;  // BN biases start at 0 anyway
    const bool last_bn = name.find(".bn3.weight") != std::string::npos;
    auto v = p.to_vector();
    bool all_zero = std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
    if (last_bn) ++zeroed;
    CHECK_MESSAGE(all_zero == last_bn, name);
  }
  CHECK(zeroed == 16);
  ResNetOptions ob;
  ob.zero_init_residual = true;
  auto r18 = tl::models::resnet18(10, ob);
  auto sd = r18->state_dict();
  CHECK(sd.at("layer3.1.bn2.weight").to_vector() == std::vector<float>(256, 0.0f));
  CHECK(sd.at("layer3.1.bn1.weight").to_vector() == std::vector<float>(256, 1.0f));
}

TEST_CASE("ResNet output shapes, features() and the small-image stem") {
  tl::NoGradGuard no_grad;
  ResNetOptions small;
  small.small_input = true;
  auto m = tl::models::resnet18(10, small);
  CHECK(m->feature_dim() == 512);
  CHECK(m->num_classes() == 10);
  CHECK(m->maxpool == nullptr);
  CHECK(m->conv1->weight.shape() == tl::Shape{64, 3, 3, 3});
  auto x = tl::randn<float>({2, 3, 32, 32});
  m->eval();
  CHECK(m->forward(x).shape() == tl::Shape{2, 10});
  auto f = m->features(x);
  CHECK(f.shape() == tl::Shape{2, 512});
  // forward = fc(features): the head applied by hand gives the same logits.
  CHECK(tl::test::max_abs_diff(m->forward(x), m->fc->forward(f)) == 0.0);

  // Small stem keeps the resolution through layer1: 28x28 (Fashion-MNIST, 1 channel) works.
  ResNetOptions gray = small;
  gray.in_channels = 1;
  auto g = tl::models::resnet18(10, gray);
  CHECK(g->conv1->weight.shape() == tl::Shape{64, 1, 3, 3});
  CHECK(g->forward(tl::randn<float>({3, 1, 28, 28})).shape() == tl::Shape{3, 10});

  // The ImageNet stem on a small image: 64x64 -> 2x2 before the pool.
  auto r50 = tl::models::resnet50(7);
  r50->eval();
  CHECK(r50->features(tl::randn<float>({1, 3, 64, 64})).shape() == tl::Shape{1, 2048});
  CHECK(r50->forward(tl::randn<float>({1, 3, 64, 64})).shape() == tl::Shape{1, 7});
}

TEST_CASE("ResNet reset_classifier replaces the head in the registry") {
  auto m = tl::models::resnet18(1000);
  auto old_fc = m->fc;
  auto fc = m->reset_classifier(5);
  CHECK(fc == m->fc);
  CHECK(m->fc != old_fc);
  CHECK(m->fc->weight.shape() == tl::Shape{5, 512});
  auto sd = m->state_dict();
  CHECK(sd.at("fc.weight").shape() == tl::Shape{5, 512});
  CHECK(sd.at("fc.bias").shape() == tl::Shape{5});
  CHECK(m->get_submodule("fc") == m->fc);
  CHECK(count_params(*m) == 11689512 - 1000 * 513 + 5 * 513);
  ResNetOptions small;
  small.small_input = true;
  m = tl::models::resnet18(1000, small);
  m->reset_classifier(3);
  CHECK(m->forward(tl::randn<float>({1, 3, 16, 16})).shape() == tl::Shape{1, 3});
  CHECK_THROWS_AS(m->reset_classifier(0), tl::Error);
  tl::Generator g1(3), g2(3);
  CHECK(m->reset_classifier(4, &g1)->weight.to_vector() == m->reset_classifier(4, &g2)->weight.to_vector());
}

TEST_CASE("ResNet trains: gradients reach every parameter (double, small stem)") {
  ResNetOptions small;
  small.small_input = true;
  auto m = tl::models::resnet18<double>(4, small);
  auto y = m->forward(tl::randn<double>({2, 3, 8, 8}));
  CHECK(y.shape() == tl::Shape{2, 4});
  y.sum().backward();
  for (auto& [binding_name, p] : m->named_parameters()) {
    const auto& name = binding_name;  // clang 14 cannot capture a structured binding in a lambda
    REQUIRE_MESSAGE(p.grad().defined(), name);
    CHECK_MESSAGE(p.grad().shape() == p.shape(), name);
  }
  // The head's bias gradient is dsum/dbias = batch size for every class.
  CHECK(m->fc->bias.grad().to_vector() == std::vector<double>(4, 2.0));
  // A train-mode forward updated the running statistics.
  CHECK(m->state_dict().at("bn1.num_batches_tracked").item() == 1.0);
}

TEST_CASE("ResNet rejects bad inputs and options with tl::Error") {
  ResNetOptions small;
  small.small_input = true;
  auto m = tl::models::resnet18(10, small);
  CHECK_THROWS_AS(m->forward(tl::randn<float>({3, 8, 8})), tl::Error);      // no batch dim
  CHECK_THROWS_AS(m->forward(tl::randn<float>({1, 1, 8, 8})), tl::Error);   // wrong channels
  CHECK_THROWS_AS(tl::models::resnet18(0), tl::Error);
  ResNetOptions grouped;
  grouped.groups = 2;
  CHECK_THROWS_AS(tl::models::resnet18(10, grouped), tl::Error);  // BasicBlock takes no groups
  try {
    m->forward(tl::randn<float>({1, 1, 8, 8}));
  } catch (const tl::Error& e) {
    CHECK(std::string(e.what()).find("ResNet: expected 3 input channels") != std::string::npos);
  }
  // Loading a resnet50 state_dict into a resnet18 lists what is wrong.
  auto r50 = tl::models::resnet50(10, small)->state_dict();
  CHECK_THROWS_AS(m->load_state_dict(r50), tl::Error);
}
