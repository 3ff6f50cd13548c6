#pragma once
// tl::nn::functional: the stateless forms of the layers (conv2d, batch_norm, linear, relu, ...),
// softmax/log_softmax and the losses. Each topic lives in nn/functional/<topic>.hpp.
#include "tl/nn/functional/conv.hpp"
#include "tl/nn/functional/batch_norm.hpp"
#include "tl/nn/functional/linear.hpp"
#include "tl/nn/functional/activation.hpp"
#include "tl/nn/functional/dropout.hpp"
#include "tl/nn/functional/loss.hpp"
#include "tl/nn/functional/pooling.hpp"
