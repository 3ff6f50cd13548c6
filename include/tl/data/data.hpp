#pragma once
// All of tl::data: datasets (IDX/MNIST, CIFAR, ImageFolder), subsets and splits, image
// transforms, and the DataLoader.
#include "tl/data/dataset.hpp"
#include "tl/data/idx.hpp"
#include "tl/data/cifar.hpp"
#include "tl/data/image_folder.hpp"
#include "tl/data/tensor_dataset.hpp"
#include "tl/data/subset.hpp"
#include "tl/data/image_ops.hpp"
#include "tl/data/transforms.hpp"
#include "tl/data/dataloader.hpp"
