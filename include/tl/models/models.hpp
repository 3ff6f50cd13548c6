#pragma once
// tl::models: ready-made networks with torchvision's parameter names, so published weights load.
#include "tl/models/resnet.hpp"
