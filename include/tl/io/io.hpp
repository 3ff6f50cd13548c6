#pragma once
// tl::io: reading and writing weight files (safetensors, PyTorch .pth zip and legacy).
#include "tl/io/element_type.hpp"
#include "tl/io/json.hpp"
#include "tl/io/raw_weights.hpp"
#include "tl/io/safetensors.hpp"
#include "tl/io/zip.hpp"
#include "tl/io/pickle.hpp"
#include "tl/io/pth.hpp"
#include "tl/io/load.hpp"
