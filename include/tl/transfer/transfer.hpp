#pragma once
// tl::transfer: fine-tuning, linear probing, adapters, multi-task learning and distillation.
// See docs/transfer.md for when to use which.
#include "tl/transfer/glob.hpp"
#include "tl/transfer/freeze.hpp"
#include "tl/transfer/param_groups.hpp"
#include "tl/transfer/head.hpp"
#include "tl/transfer/feature_cache.hpp"
#include "tl/transfer/wrapped_layer.hpp"
#include "tl/transfer/residual_adapter.hpp"
#include "tl/transfer/bottleneck_adapter.hpp"
#include "tl/transfer/lora.hpp"
#include "tl/transfer/add_adapters.hpp"
#include "tl/transfer/adapter_io.hpp"
#include "tl/transfer/multitask.hpp"
#include "tl/transfer/uncertainty_weighting.hpp"
#include "tl/transfer/distillation.hpp"
#include "tl/transfer/stats.hpp"
