#pragma once
// Comparing tl's nn ops with PyTorch reference cases from tests/data/nn_ref.bin
// (made by tests/data/make_nn_reference.py).
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <tl/tl.hpp>

#include "support/ref_file.hpp"

namespace nnref {

inline const std::map<std::string, tl::Tensor<double>>& refs() {
  static const auto r = tl::test::read_ref(tl::test::data_path("nn_ref.bin"));
  return r;
}
inline bool has(const std::string& key) { return refs().count(key) != 0; }
inline const tl::Tensor<double>& get(const std::string& key) {
  auto it = refs().find(key);
  TL_CHECK(it != refs().end(), "nn_ref.bin has no '", key, "' (rerun tests/data/make_nn_reference.py)");
  return it->second;
}
template <class T>
tl::Tensor<T> get_as(const std::string& key) { return get(key).to<T>(); }
inline tl::Tensor<int64_t> targets(const std::string& name) { return get(name + ".t").to<int64_t>(); }

/// Runs fn on the case's inputs (as leaves that require grad, in type T), then checks the output
/// and, after backward with the stored upstream gradient, every stored input gradient.
template <class T>
void check_case(const std::string& name, int n_inputs,
                const std::function<tl::Tensor<T>(const std::vector<tl::Tensor<T>>&)>& fn, double tol) {
  INFO("case ", name);
  std::vector<tl::Tensor<T>> in;
  for (int i = 0; i < n_inputs; ++i) in.push_back(get_as<T>(name + ".in" + std::to_string(i)).requires_grad_());
  tl::Tensor<T> out = fn(in);
  const auto& want = get(name + ".out");
  REQUIRE(out.shape() == want.shape());
  CHECK(tl::test::max_abs_diff(out, want) <= tol);
  if (has(name + ".g")) out.backward(get_as<T>(name + ".g"));
  else out.backward();
  for (int i = 0; i < n_inputs; ++i) {
    const std::string key = name + ".grad" + std::to_string(i);
    if (!has(key)) continue;
    INFO("gradient of input ", i);
    REQUIRE(in[i].grad().defined());
    CHECK(tl::test::max_abs_diff(in[i].grad(), get(key)) <= tol);
  }
}

}  // namespace nnref
