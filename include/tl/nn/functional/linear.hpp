#pragma once
// tl::nn::functional::linear(input, weight, bias = {}): y = input weight^T + bias (tl/ops/linear.hpp).
#include "tl/ops/linear.hpp"

namespace tl::nn::functional {
using tl::linear;
}  // namespace tl::nn::functional
