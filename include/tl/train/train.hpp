#pragma once
// All of tl::train: fit/evaluate, classification metrics, progress display, metrics files and
// chart, checkpoints.
#include "tl/train/progress.hpp"
#include "tl/train/history.hpp"
#include "tl/train/chart.hpp"
#include "tl/train/metrics.hpp"
#include "tl/train/evaluation.hpp"
#include "tl/train/checkpoint.hpp"
#include "tl/train/fit.hpp"
