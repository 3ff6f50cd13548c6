#pragma once
// tl::nn::functional::dropout(input, p = 0.5, training = true, gen = default_generator()):
// inverted dropout (tl/ops/dropout.hpp); identity when not training.
#include "tl/ops/dropout.hpp"

namespace tl::nn::functional {
using tl::dropout;
}  // namespace tl::nn::functional
