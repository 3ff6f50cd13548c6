#pragma once
// Shared by test_conv2d.cpp, test_batch_norm.cpp and test_pooling.cpp: the PyTorch references
// (tests/data/conv_ref.bin, made by make_conv_reference.py) and a relative closeness check.
#include <cmath>
#include <map>
#include <string>

#include <doctest/doctest.h>

#include "support/ref_file.hpp"

namespace tl::test {

inline const std::map<std::string, Tensor<double>>& conv_ref() {
  static const auto ref = read_ref(data_path("conv_ref.bin"));
  return ref;
}

/// The reference tensor `name`, converted to T (a fresh copy: safe to use as a leaf).
template <class T>
Tensor<T> cref(const std::string& name) {
  auto it = conv_ref().find(name);
  TL_CHECK(it != conv_ref().end(), "conv_ref.bin has no tensor '", name, "' (rerun make_conv_reference.py)");
  return it->second.to<T>();
}

/// max|got - want| <= rtol * max(1, max|want|): a relative check scaled by the tensor's magnitude.
template <class T>
void check_close(const Tensor<T>& got, const std::string& want_name, double rtol) {
  INFO("comparing with ", want_name);
  REQUIRE(got.defined());
  const Tensor<double> want = cref<double>(want_name);
  REQUIRE(shape_str(got.shape()) == shape_str(want.shape()));
  double scale = 1;
  for (double v : want.to_vector()) scale = std::max(scale, std::abs(v));
  const double err = max_abs_diff(got, want);
  CHECK_MESSAGE(err <= rtol * scale, want_name, ": max abs error ", err, " (scale ", scale, ")");
}

/// True when f() throws tl::Error whose message contains `part`.
template <class F>
bool throws_with(F&& f, const std::string& part) {
  try {
    f();
  } catch (const Error& e) {
    if (std::string(e.what()).find(part) != std::string::npos) return true;
    MESSAGE("error message was: ", e.what());
    return false;
  }
  return false;
}

}  // namespace tl::test
