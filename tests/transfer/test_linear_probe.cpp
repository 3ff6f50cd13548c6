// Cached-feature linear probe == training the head through the frozen network.
#include "transfer/transfer_support.hpp"

using namespace tl;
namespace tt = tl::transfer;

TEST_CASE("extract_features: eval mode, batched, restores the mode, equals features() per batch") {
  auto model = test::small_resnet18(6);
  auto x = test::seeded_input({10, 3, 8, 8}, 3);
  model->train();
  auto before = test::snapshot(*model);
  auto f = tt::extract_features(*model, x, 4);
  CHECK(f.shape() == Shape{10, 512});
  CHECK_FALSE(f.requires_grad());
  CHECK(model->is_training());
  CHECK(test::bit_equal(model->state_dict().at("bn1.running_mean"), before.at("bn1.running_mean")));
  model->eval();
  auto direct = model->features(x);
  CHECK(test::max_abs_diff(f, direct) < 1e-5);
  // from a Dataset
  auto labels = Tensor<int64_t>::uninitialized({10});
  for (int64_t i = 0; i < 10; ++i) labels.data()[i] = i % 3;
  data::TensorDataset ds(x, labels);
  auto fs = tt::extract_features(*model, ds, 3);
  CHECK(fs.features.shape() == Shape{10, 512});
  CHECK(fs.labels.to_vector() == labels.to_vector());
  CHECK(test::max_abs_diff(fs.features, direct) < 1e-5);
}

TEST_CASE("linear_probe on the cache gives the head trained through the frozen network (same batches, seed)") {
  auto model = test::small_resnet18(7);
  const int64_t n = 24, classes = 5;
  auto x = test::seeded_input({n, 3, 8, 8}, 4);
  auto y = Tensor<int64_t>::uninitialized({n});
  for (int64_t i = 0; i < n; ++i) y.data()[i] = (i * 7) % classes;
  const tt::LinearProbeOptions o{.epochs = 3, .batch_size = 8, .lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4,
                                 .seed = 9};

  Generator hg(1);
  auto head_a = std::make_shared<nn::Linear<float>>(512, classes);
  head_a->reset_parameters(hg);
  auto head_b = std::make_shared<nn::Linear<float>>(512, classes);
  head_b->weight.detach().copy_(head_a->weight);
  head_b->bias.detach().copy_(head_a->bias);

  // cached
  auto feats = tt::extract_features(*model, x, 16);
  auto losses = tt::linear_probe(feats, y, *head_a, o);
  REQUIRE(losses.size() == 3);
  CHECK(losses[2] < losses[0]);

  // uncached: the frozen backbone runs on every batch, autograd through it (gradients stop at frozen params)
  model->reset_classifier(classes);
  model->fc = model->replace_module("fc", head_b);
  tt::freeze(*model);
  tt::unfreeze(*model, "fc.*");
  model->eval();  // frozen backbone: BN in eval, as the cache was computed
  optim::SGD<float> opt(tt::trainable_parameters(*model), {.lr = o.lr, .momentum = o.momentum,
                                                            .weight_decay = o.weight_decay});
  Generator gen(o.seed);
  for (int64_t e = 0; e < o.epochs; ++e) {
    auto order = tt::epoch_order(n, o.shuffle, gen);
    for (int64_t b = 0; b < n; b += o.batch_size) {
      auto idx = Tensor<int64_t>::uninitialized({o.batch_size});
      auto yb = Tensor<int64_t>::uninitialized({o.batch_size});
      for (int64_t i = 0; i < o.batch_size; ++i) {
        idx.data()[i] = order[static_cast<size_t>(b + i)];
        yb.data()[i] = y.data()[idx.data()[i]];
      }
      opt.zero_grad();
      auto loss = nn::functional::cross_entropy(model->forward(x.index_select(0, idx)), yb);
      loss.backward();
      opt.step();
    }
  }
  CHECK(test::max_abs_diff(head_a->weight, head_b->weight) < 1e-6);
  CHECK(test::max_abs_diff(head_a->bias, head_b->bias) < 1e-6);
  CHECK(test::max_abs_diff(head_a->weight, head_b->weight) >= 0.0);
  // and training really moved the head
  Generator hg2(1);
  nn::Linear<float> init(512, classes);
  init.reset_parameters(hg2);
  CHECK(test::max_abs_diff(head_a->weight, init.weight) > 1e-3);
}
