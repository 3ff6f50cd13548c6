// Adapters: exact identity at init, what trains, LoRA merge/unmerge, adapter files.
#include <cstdio>
#include <filesystem>

#include "transfer/transfer_support.hpp"

using namespace tl;
namespace tt = tl::transfer;

namespace {
const tt::AdapterKind kKinds[] = {tt::AdapterKind::Residual, tt::AdapterKind::Bottleneck, tt::AdapterKind::LoRA};

/// Logits of `model` in eval mode (no autograd).
Tensor<float> eval_logits(nn::Module<float>& model, const Tensor<float>& x) {
  tt::EvalModeGuard<float> eval(model);
  NoGradGuard no_grad;
  return model.forward(x);
}
}  // namespace

TEST_CASE("add_adapters: at init the adapted ResNet-18 computes exactly the pretrained one") {
  auto x = test::seeded_input({2, 3, 8, 8}, 11);
  for (auto kind : kKinds) {
    const std::string kind_name = tt::adapter_kind_name(kind);
    CAPTURE(kind_name);
    auto model = test::small_resnet18(4);
    model->eval();
    auto before = eval_logits(*model, x);
    Generator g(5);
    auto r = tt::add_adapters(*model, {.kind = kind, .generator = &g});
    CHECK(r.adapted.size() == 16);  // 8 BasicBlocks x 2 convs
    CHECK(r.adapted[0] == "layer1.0.conv1");
    CHECK(test::bit_equal(eval_logits(*model, x), before));
    // the blocks' typed members are the wrappers (forward goes through them)
    auto block = std::dynamic_pointer_cast<models::BasicBlock<float>>(model->layer2->at(0));
    REQUIRE(block);
    CHECK(block->conv2.get() == block->get_submodule("conv2").get());
    CHECK(block->conv2->type_name() != "Conv2d");
    // pretrained names unchanged; stride-2 conv adapted with stride 2 (shapes agree)
    CHECK(model->state_dict().contains("layer2.0.conv1.weight"));
    CHECK(model->forward(test::seeded_input({3, 3, 8, 8}, 1)).shape() == Shape{3, 5});
  }
}

TEST_CASE("add_adapters: < 15% of parameters train; backbone bit-identical after steps; adapters move") {
  auto x = test::seeded_input({4, 3, 8, 8}, 12);
  for (auto kind : kKinds) {
    const std::string kind_name = tt::adapter_kind_name(kind);
    CAPTURE(kind_name);
    auto model = test::small_resnet18(4);
    auto pretrained = test::snapshot(*model);
    auto r = tt::add_adapters(*model, {.kind = kind});
    CHECK(r.params.fraction() < 0.15);
    CHECK(r.params.fraction() > 0.0);
    CHECK(r.params.total > 11'000'000);
    MESSAGE(tt::adapter_kind_name(kind), ": ", tt::format_parameter_count(r.params));
    auto before = test::snapshot(*model);
    optim::SGD<float> opt(tt::trainable_parameters(*model), {.lr = 0.05, .momentum = 0.9});
    model->train();
    for (int i = 0; i < 2; ++i) test::sgd_step(*model, opt, x, 5);
    auto after = model->state_dict();
    int moved = 0;
    for (const auto& e : pretrained) {
      // every pretrained tensor, BN statistics included, is bit-identical (frozen BNs stay in eval);
      // the head trains
      const bool head = e.name.rfind("fc.", 0) == 0;
      CHECK_MESSAGE(test::bit_equal(after.at(e.name), e.tensor) != head, e.name);
    }
    for (const auto& e : before)
      if (!pretrained.contains(e.name) && !e.integer && !test::bit_equal(after.at(e.name), e.tensor)) ++moved;
    CHECK(moved > 10);  // adapter tensors trained (LoRA's A moves once B is non-zero)
  }
}

TEST_CASE("add_adapters with train_bn: backbone BNs train, convs stay frozen") {
  auto model = test::small_resnet18(4);
  auto r = tt::add_adapters(*model, {.kind = tt::AdapterKind::LoRA, .rank = 2, .alpha = 4, .train_bn = true});
  bool bn_trainable = false, conv_trainable = false;
  for (auto& [n, p] : model->named_parameters()) {
    if (n == "layer1.0.bn1.weight") bn_trainable = p.requires_grad();
    if (n == "layer1.0.conv1.weight") conv_trainable = p.requires_grad();
  }
  CHECK(bn_trainable);
  CHECK_FALSE(conv_trainable);
  model->train();
  CHECK(model->layer1->get_submodule("0.bn1")->is_training());
  CHECK_THROWS_AS(tt::add_adapters(*model, {}), Error);  // twice
}

TEST_CASE("LoRA: merge gives the same output, unmerge restores the original weight bit-exactly") {
  Generator g(21);
  auto conv = std::make_shared<nn::Conv2d<float>>(6, 8, 3, 2, 1, 1, 1, true);
  conv->reset_parameters(g);
  auto lora = std::make_shared<tt::LoRAConv2d<float>>(*conv, tt::LoRAOptions{.rank = 3, .alpha = 6}, &g);
  CHECK(lora->scaling() == 2.0);
  CHECK(lora->weight.is_same(conv->weight));
  auto x = randn<float>({2, 6, 9, 9}, g);
  CHECK(test::bit_equal(lora->forward(x), conv->forward(x)));  // B = 0
  {
    NoGradGuard ng;
    lora->lora_B.copy_(randn<float>(lora->lora_B.shape(), g));
  }
  auto y = lora->forward(x);
  CHECK(test::max_abs_diff(y, conv->forward(x)) > 1e-2);
  auto original = lora->weight;
  lora->merge();
  CHECK(lora->merged());
  CHECK(test::max_abs_diff(lora->forward(x), y) < 1e-5);
  CHECK(test::bit_equal(conv->weight, original));  // the base tensor was not written
  CHECK(lora->named_parameters()[0].second.is_same(lora->weight));
  CHECK_THROWS_AS(lora->merge(), Error);
  lora->unmerge();
  CHECK(lora->weight.is_same(original));
  CHECK(test::bit_equal(lora->forward(x), y));

  auto lin = std::make_shared<nn::Linear<float>>(10, 7);
  lin->reset_parameters(g);
  tt::LoRALinear<float> ll(*lin, {.rank = 4, .alpha = 8}, &g);
  auto xl = randn<float>({5, 10}, g);
  CHECK(test::bit_equal(ll.forward(xl), lin->forward(xl)));
  {
    NoGradGuard ng;
    ll.lora_B.copy_(randn<float>(ll.lora_B.shape(), g));
  }
  auto yl = ll.forward(xl);
  ll.merge();
  CHECK(test::max_abs_diff(ll.forward(xl), yl) < 1e-5);
  // merged weight = W + (alpha/r) B A, checked against a hand-made product
  auto expect = add(lin->weight, mul(matmul(ll.lora_B, ll.lora_A), scalar_tensor<float>(2.0f)));
  CHECK(test::max_abs_diff(ll.weight, expect) < 1e-6);
  ll.unmerge();
  CHECK(test::bit_equal(ll.forward(xl), yl));
  // merge_lora over a model
  auto model = test::small_resnet18(4);
  tt::add_adapters(*model, {.kind = tt::AdapterKind::LoRA});
  CHECK(tt::merge_lora(*model) == 16);
  CHECK(tt::unmerge_lora(*model) == 16);
}

TEST_CASE("LoRA gradients: A and B get gradients; gradcheck in double") {
  Generator g(8);
  auto lin = std::make_shared<nn::Linear<double>>(4, 3);
  lin->reset_parameters(g);
  tt::LoRALinear<double> ll(*lin, {.rank = 2, .alpha = 3}, &g);
  {
    NoGradGuard ng;
    ll.lora_B.copy_(randn<double>(ll.lora_B.shape(), g));
  }
  auto x = randn<double>({3, 4}, g);
  auto r = gradcheck([&](const std::vector<Tensor<double>>& in) {
    ll.lora_A = in[0];
    ll.lora_B = in[1];
    return ll.forward(x);
  }, {ll.lora_A.detach().clone().requires_grad_(), ll.lora_B.detach().clone().requires_grad_()});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("BottleneckAdapter: identity at init, for conv maps and Linear features") {
  Generator g(4);
  tt::BottleneckAdapter<float> conv_ad(16, 4, true, &g);
  CHECK(conv_ad.hidden() == 4);
  auto x = randn<float>({2, 16, 5, 5}, g);
  CHECK(test::bit_equal(conv_ad.forward(x), x));
  auto lin = std::make_shared<nn::Linear<float>>(8, 12);
  tt::SeriesAdapterLinear<float> sl(*lin, 3, &g);
  auto xl = randn<float>({4, 8}, g);
  CHECK(test::bit_equal(sl.forward(xl), lin->forward(xl)));
  CHECK(sl.adapter->hidden() == 4);
  auto names = sl.state_dict().keys();
  CHECK(names == std::vector<std::string>{"weight", "bias", "adapter.down.weight", "adapter.down.bias",
                                          "adapter.up.weight", "adapter.up.bias"});
}

TEST_CASE("save_adapters/load_adapters: a fresh adapted backbone reproduces the task's logits exactly") {
  const auto dir = std::filesystem::temp_directory_path();
  auto x = test::seeded_input({4, 3, 8, 8}, 13);
  for (auto kind : kKinds) {
    const std::string kind_name = tt::adapter_kind_name(kind);
    CAPTURE(kind_name);
    auto model = test::small_resnet18(4);
    auto backbone = test::snapshot(*model);  // "the backbone file"
    tt::add_adapters(*model, {.kind = kind, .train_bn = kind == tt::AdapterKind::Residual});
    optim::SGD<float> opt(tt::trainable_parameters(*model), {.lr = 0.05, .momentum = 0.9});
    model->train();
    for (int i = 0; i < 2; ++i) test::sgd_step(*model, opt, x, 5);
    auto logits = eval_logits(*model, x);
    const auto path = (dir / ("tl_adapters_" + std::string(tt::adapter_kind_name(kind)) + ".safetensors")).string();
    const size_t saved = tt::save_adapters(path, *model);
    auto sd = io::load_safetensors<float>(path);
    CHECK(sd.size() == saved);
    CHECK(sd.contains("fc.weight"));
    CHECK_FALSE(sd.contains("layer1.0.conv1.weight"));
    CHECK(std::filesystem::file_size(path) < 0.15 * 4 * 11'200'000);

    auto fresh = models::resnet18<float>(5, {.small_input = true});
    fresh->load_state_dict(backbone);
    tt::add_adapters(*fresh, {.kind = kind, .train_bn = kind == tt::AdapterKind::Residual});
    CHECK_FALSE(test::bit_equal(eval_logits(*fresh, x), logits));
    CHECK(tt::load_adapters(path, *fresh) == saved);
    CHECK(test::bit_equal(eval_logits(*fresh, x), logits));

    // an unadapted model cannot take the file
    auto plain = models::resnet18<float>(5, {.small_input = true});
    if (kind != tt::AdapterKind::Residual) CHECK_THROWS_AS(tt::load_adapters(path, *plain), Error);
    std::remove(path.c_str());
  }
  // a backbone file is not an adapter file
  auto model = test::small_resnet18(4);
  const auto p = (dir / "tl_not_adapters.safetensors").string();
  io::save_safetensors(p, model->state_dict());
  CHECK_THROWS_AS(tt::load_adapters(p, *model), Error);
  std::remove(p.c_str());
}
