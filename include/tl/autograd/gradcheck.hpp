#pragma once
// Finite-difference gradient check in double: compares backward() with central differences.
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tl/autograd/engine.hpp"
#include "tl/ops/binary.hpp"
#include "tl/ops/reduce_all.hpp"

namespace tl {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // what mismatched, empty when ok
  explicit operator bool() const { return ok; }
};

/// Checks d(sum(f(inputs) * w))/d(inputs) for a fixed random w against central differences.
/// Every input is treated as a leaf that requires grad; f must be deterministic.
inline GradcheckResult gradcheck(const std::function<Tensor<double>(const std::vector<Tensor<double>>&)>& f,
                                 std::vector<Tensor<double>> inputs, double eps = 1e-6, double atol = 1e-5,
                                 double rtol = 1e-4) {
  for (auto& x : inputs) x = Tensor<double>(x.to_vector(), x.shape()).requires_grad_(true);
  Generator gen(1234);
  Tensor<double> y = f(inputs);
  Tensor<double> w = randn<double>(y.shape(), gen);
  auto objective = [&](const Tensor<double>& out) { return detail::sum_all_values(mul(out, w)); };
  mul(y, w).sum().backward();

  GradcheckResult r;
  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor<double>& x = inputs[i];
    Tensor<double> analytic = x.grad().defined() ? x.grad() : zeros<double>(x.shape());
    for (int64_t j = 0; j < x.numel(); ++j) {
      double* p = x.data() + j;
      const double orig = *p;
      *p = orig + eps;
      double fp = objective(f(inputs));
      *p = orig - eps;
      double fm = objective(f(inputs));
      *p = orig;
      double numeric = (fp - fm) / (2 * eps);
      double got = analytic.data()[j];
      double err = std::abs(numeric - got);
      r.max_abs_error = std::max(r.max_abs_error, err);
      if (err > atol + rtol * std::abs(numeric) && r.ok) {
        r.ok = false;
        std::ostringstream s;
        s.precision(10);
        s << "gradcheck: input " << i << " (shape " << shape_str(x.shape()) << ") element " << j
          << ": analytic " << got << " vs numeric " << numeric;
        r.message = s.str();
      }
    }
  }
  return r;
}

}  // namespace tl
