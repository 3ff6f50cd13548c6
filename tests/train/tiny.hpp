#pragma once
// A tiny classifier for training-loop tests: flatten -> linear -> dropout (so the RNG matters).
#include <tl/tl.hpp>

namespace tl_test {

struct Tiny : tl::nn::Module<float> {
  std::shared_ptr<tl::nn::Linear<float>> fc;
  std::shared_ptr<tl::nn::Dropout<float>> drop;
  Tiny(int64_t in, int64_t classes) {
    fc = register_module("fc", std::make_shared<tl::nn::Linear<float>>(in, classes));
    drop = register_module("drop", std::make_shared<tl::nn::Dropout<float>>(0.2));
  }
  tl::Tensor<float> forward(const tl::Tensor<float>& x) override { return drop->forward(fc->forward(x.flatten(1))); }
  std::string type_name() const override { return "Tiny"; }
};

/// n images [1, 4, 4]: noise in [0, 1) plus the class index (so crops and flips keep the class).
inline std::shared_ptr<tl::data::TensorDataset> toy_data(int64_t n, int64_t classes, uint64_t seed) {
  tl::Generator g(seed);
  auto img = tl::rand<float>({n, 1, 4, 4}, g);
  auto lab = tl::Tensor<int64_t>::uninitialized({n});
  for (int64_t i = 0; i < n; ++i) {
    lab.data()[i] = i % classes;
    for (int64_t k = 0; k < 16; ++k) img.data()[i * 16 + k] += static_cast<float>(i % classes);
  }
  return std::make_shared<tl::data::TensorDataset>(img, lab);
}

}  // namespace tl_test
