#pragma once
// Small helpers shared by the tests of tl/ops.
#include <doctest/doctest.h>

// Only the headers under test (not tl.hpp), so other areas' work does not slow or break this build.
#include <tl/autograd/engine.hpp>
#include <tl/autograd/gradcheck.hpp>
#include <tl/ops/add_relu.hpp>
#include <tl/ops/compare.hpp>
#include <tl/ops/index.hpp>
#include <tl/ops/join.hpp>
#include <tl/ops/matmul.hpp>
#include <tl/ops/reduce.hpp>
#include <tl/ops/unary.hpp>
#include <vector>

namespace ops_test {

using TD = tl::Tensor<double>;
using TF = tl::Tensor<float>;
using TI = tl::Tensor<int64_t>;
using V = std::vector<TD>;

inline TD td(std::vector<double> v, const tl::Shape& s) { return TD(v, s); }
inline TF tf(std::vector<float> v, const tl::Shape& s) { return TF(v, s); }
inline TI ti(std::vector<int64_t> v, const tl::Shape& s) { return TI(v, s); }

/// Checks shape and every value (relative/absolute tolerance tol).
template <class T>
void check_values(const tl::Tensor<T>& t, const tl::Shape& shape, const std::vector<double>& expect,
                  double tol = 1e-12) {
  REQUIRE(t.shape() == shape);
  auto v = t.to_vector();
  REQUIRE(v.size() == expect.size());
  for (size_t i = 0; i < v.size(); ++i) {
    INFO("element ", i);
    CHECK(static_cast<double>(v[i]) == doctest::Approx(expect[i]).epsilon(tol));
  }
}

template <class F>
void check_grad(F f, const V& inputs) {
  auto r = tl::gradcheck(f, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace ops_test
