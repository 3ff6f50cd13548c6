#pragma once
// All of tl::nn: Module, layers, functional forms, losses, initialisation.
#include "tl/nn/module.hpp"
#include "tl/nn/functional.hpp"
#include "tl/nn/init.hpp"
#include "tl/nn/conv2d.hpp"
#include "tl/nn/batch_norm.hpp"
#include "tl/nn/pooling.hpp"
