#pragma once
// tl::data::Dataset: the map-style dataset interface (like torch.utils.data.Dataset).
//
// get(i) returns one example: a float image [C, H, W] with values in [0, 1] and an int64 label.
// Implementations must allow get() from several threads at once (the DataLoader's workers).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tl/core/error.hpp"
#include "tl/core/tensor.hpp"

namespace tl::data {

/// One example: an image [C, H, W] (float in [0, 1] unless transformed) and its class index.
struct Example {
  Tensor<float> image;
  int64_t label = 0;
};

class Dataset {
 public:
  using Ptr = std::shared_ptr<const Dataset>;
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  /// Example i (0 <= i < size()); thread-safe.
  virtual Example get(int64_t i) const = 0;
  /// The label of example i without decoding its image (subsets and class filters use this).
  virtual int64_t label(int64_t i) const { return get(i).label; }
  /// The raw 8-bit image [C, H, W] for datasets that hold one.
  virtual Tensor<uint8_t> get_uint8(int64_t i) const {
    (void)i;
    tl::detail::fail(name(), ": this dataset has no 8-bit images");
  }
  /// Class names in label order (empty when unknown).
  virtual std::vector<std::string> classes() const { return {}; }
  /// Number of classes: classes().size() when known, else 1 + the largest label.
  virtual int64_t num_classes() const {
    auto c = classes();
    if (!c.empty()) return static_cast<int64_t>(c.size());
    int64_t m = -1;
    for (int64_t i = 0; i < size(); ++i) m = std::max(m, label(i));
    return m + 1;
  }
  /// For error messages, e.g. "CIFAR10".
  virtual std::string name() const { return "Dataset"; }

 protected:
  void check_index(int64_t i) const {
    TL_CHECK(i >= 0 && i < size(), name(), ": index ", i, " is out of range for a dataset of size ", size());
  }
};

/// uint8 [C, H, W] -> float [C, H, W] in [0, 1] (the value part of torchvision's ToTensor).
inline Tensor<float> uint8_to_float(const Tensor<uint8_t>& img) {
  auto c = img.is_contiguous() ? img : img.template to<uint8_t>();
  auto out = Tensor<float>::uninitialized(c.shape());
  const uint8_t* s = c.data();
  float* d = out.data();
  for (int64_t k = 0, n = c.numel(); k < n; ++k) d[k] = static_cast<float>(s[k]) / 255.0f;
  return out;
}

/// Wraps a uint8 buffer [C, H, W] (copying it) as a tensor.
inline Tensor<uint8_t> uint8_image(const uint8_t* src, int64_t c, int64_t h, int64_t w) {
  auto t = Tensor<uint8_t>::uninitialized({c, h, w});
  std::copy(src, src + c * h * w, t.data());
  return t;
}

}  // namespace tl::data
