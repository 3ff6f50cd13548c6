#pragma once
// tl::nn::functional::conv2d (torch.nn.functional.conv2d): the op itself, see ops/conv2d.hpp.
#include "tl/ops/conv2d.hpp"

namespace tl::nn::functional {
using ::tl::conv2d;
}  // namespace tl::nn::functional
