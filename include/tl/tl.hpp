#pragma once
// tl: a header-only C++20 deep learning library for transfer learning.
// Include this one header to get everything.

#include "tl/core/error.hpp"
#include "tl/core/generator.hpp"
#include "tl/core/shape.hpp"
#include "tl/core/tensor.hpp"

#include "tl/autograd/engine.hpp"
#include "tl/autograd/gradcheck.hpp"
#include "tl/autograd/grad_mode.hpp"
#include "tl/autograd/node.hpp"

#include "tl/ops/ops.hpp"
#include "tl/core/state_dict.hpp"
#include "tl/nn/nn.hpp"
#include "tl/io/io.hpp"
#include "tl/optim/optim.hpp"
#include "tl/data/data.hpp"
#include "tl/train/train.hpp"
#include "tl/models/models.hpp"
#include "tl/transfer/transfer.hpp"
#include "tl/core/memory.hpp"
