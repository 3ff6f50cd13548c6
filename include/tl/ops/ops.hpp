#pragma once
// All differentiable tensor ops.
#include "tl/ops/binary.hpp"
#include "tl/ops/reduce_all.hpp"
#include "tl/ops/view.hpp"
#include "tl/ops/conv2d.hpp"
#include "tl/ops/unary.hpp"
#include "tl/ops/reduce.hpp"
#include "tl/ops/matmul.hpp"
#include "tl/ops/batch_norm.hpp"
#include "tl/ops/join.hpp"
#include "tl/ops/compare.hpp"
#include "tl/ops/index.hpp"
#include "tl/ops/pooling.hpp"
