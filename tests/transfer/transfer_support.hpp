#pragma once
// Shared helpers of the transfer tests: a small ResNet and deterministic inputs.
// First: its pragma silences GCC 12's false -Wmaybe-uninitialized in Eigen's GEMM (see the header).
#include <tl/kernels/matmul.hpp>

#include <doctest/doctest.h>

#include <tl/models/models.hpp>
#include <tl/tl.hpp>
#include <tl/transfer/transfer.hpp>

#include "support/ref_file.hpp"

namespace tl::test {

/// ResNet-18 with the small-image stem and 5 classes, seeded.
inline std::shared_ptr<models::ResNet<float>> small_resnet18(uint64_t seed = 1) {
  Generator gen(seed);
  auto m = models::resnet18<float>(5, {.small_input = true, .generator = &gen});
  m->fc->reset_parameters(gen);
  return m;
}

inline Tensor<float> seeded_input(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn<float>(s, gen);
}

/// Copies of every tensor of a state dict (values frozen in time).
inline StateDict<float> snapshot(const nn::Module<float>& m) {
  StateDict<float> out;
  for (const auto& e : m.state_dict()) out.insert(e.name, e.tensor.clone(), e.integer);
  return out;
}

inline bool bit_equal(const Tensor<float>& a, const Tensor<float>& b) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector(), vb = b.to_vector();
  return std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

/// One SGD step on cross entropy against labels 0..N-1 mod classes.
inline void sgd_step(nn::Module<float>& model, optim::Optimizer<float>& opt, const Tensor<float>& x, int64_t classes) {
  auto y = Tensor<int64_t>::uninitialized({x.size(0)});
  for (int64_t i = 0; i < x.size(0); ++i) y.data()[i] = i % classes;
  opt.zero_grad();
  auto loss = nn::functional::cross_entropy(model.forward(x), y);
  loss.backward();
  opt.step();
}

}  // namespace tl::test
