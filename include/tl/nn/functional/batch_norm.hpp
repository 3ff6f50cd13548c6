#pragma once
// tl::nn::functional::batch_norm (torch.nn.functional.batch_norm): the op itself, see ops/batch_norm.hpp.
#include "tl/ops/batch_norm.hpp"

namespace tl::nn::functional {
using ::tl::batch_norm;
}  // namespace tl::nn::functional
