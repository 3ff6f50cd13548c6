#pragma once
// tl::nn::functional pooling (max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d and the
// _with_indices forms): the ops themselves, see ops/pooling.hpp.
#include "tl/ops/pooling.hpp"

namespace tl::nn::functional {
using ::tl::adaptive_avg_pool2d;
using ::tl::adaptive_max_pool2d;
using ::tl::adaptive_max_pool2d_with_indices;
using ::tl::avg_pool2d;
using ::tl::max_pool2d;
using ::tl::max_pool2d_with_indices;
}  // namespace tl::nn::functional
