// ResNet numerics vs PyTorch on small inputs, from the committed tests/data/resnet_hash_ref.bin:
// the weights and inputs are a counter hash both sides compute bit for bit, so only PyTorch's
// outputs are stored and this runs without torch.
#include <doctest/doctest.h>

#include <cstdio>

#include "models/resnet_support.hpp"

using tl::models::ResNetOptions;

namespace {

const std::map<std::string, tl::Tensor<double>>& hash_ref() {
  static const auto ref = tl::test::read_ref(tl::test::data_path("resnet_hash_ref.bin"));
  return ref;
}

/// Eval logits (and, with `train`, a train-mode forward and the updated running stats) vs PyTorch.
void check_case(const std::string& tag, const std::shared_ptr<tl::models::ResNet<float>>& model,
                const tl::Shape& input_shape, bool train) {
  const auto& ref = hash_ref();
  tl::test::fill_hash(*model);
  auto x = tl::test::hash_input<float>(input_shape);
  tl::NoGradGuard no_grad;
  model->eval();
  auto logits = model->forward(x);
  const double d = tl::test::rel_diff(logits, ref.at(tag + "/logits"));
  std::printf("[models] %-15s eval logits  max|diff|/max|ref| = %.2e\n", tag.c_str(), d);
  CHECK_MESSAGE(d < 1e-5, tag, " eval logits: relative max abs difference ", d);
  if (!train) return;
  model->train();
  auto out = model->forward(x);
  const double dt = tl::test::rel_diff(out, ref.at(tag + "/train_output"));
  std::printf("[models] %-15s train output max|diff|/max|ref| = %.2e\n", tag.c_str(), dt);
  CHECK_MESSAGE(dt < 1e-4, tag, " train-mode output: relative max abs difference ", dt);
  double worst = 0;
  std::string worst_key;
  int n = 0;
  for (const auto& e : model->state_dict()) {
    if (e.name.find("running") == std::string::npos) continue;
    ++n;
    const double de = tl::test::max_abs_diff(e.tensor, ref.at(tag + "/" + e.name));
    if (de > worst) worst = de, worst_key = e.name;
  }
  CHECK(n == 2 * 20);  // resnet18: 20 BNs (stem, 16 in blocks, 3 downsample)
  std::printf("[models] %-15s running stats max|diff| = %.2e (%s)\n", tag.c_str(), worst, worst_key.c_str());
  CHECK_MESSAGE(worst < 1e-4, tag, " running statistics differ by ", worst, " in ", worst_key);
  CHECK(model->state_dict().at("bn1.num_batches_tracked").item() == 4.0f);  // 3 from the hash, +1
}

}  // namespace

TEST_CASE("ResNet-18 at 64x64 matches PyTorch (eval, train, running stats)") {
  check_case("resnet18", tl::models::resnet18(1000), {2, 3, 64, 64}, true);
}

TEST_CASE("ResNet-18 small-image stem at 32x32 matches PyTorch") {
  ResNetOptions o;
  o.small_input = true;
  check_case("resnet18_small", tl::models::resnet18(10, o), {2, 3, 32, 32}, true);
}

TEST_CASE("ResNet-50, ResNeXt-50 and Wide ResNet-50 on small inputs match PyTorch") {
  check_case("resnet50", tl::models::resnet50(1000), {1, 3, 64, 64}, false);
  check_case("resnext50", tl::models::resnext50_32x4d(1000), {1, 3, 32, 32}, false);
  check_case("wide50", tl::models::wide_resnet50_2(1000), {1, 3, 32, 32}, false);
}
