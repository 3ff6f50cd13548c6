#pragma once
// tl::optim: optimizers, learning-rate schedulers and gradient clipping.
#include "tl/optim/optimizer.hpp"
#include "tl/optim/sgd.hpp"
#include "tl/optim/adam.hpp"
#include "tl/optim/adamw.hpp"
#include "tl/optim/lr_scheduler.hpp"
#include "tl/optim/step_lr.hpp"
#include "tl/optim/multi_step_lr.hpp"
#include "tl/optim/cosine_annealing_lr.hpp"
#include "tl/optim/linear_lr.hpp"
#include "tl/optim/lambda_lr.hpp"
#include "tl/optim/one_cycle_lr.hpp"
#include "tl/optim/clip_grad.hpp"
