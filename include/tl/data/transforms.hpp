#pragma once
// Image transforms, torchvision style, composed with Compose. Each is a callable
// (const Tensor<float>& image [C, H, W], Generator& gen) -> Tensor<float>; random ones draw only
// from `gen`, so a run is reproducible (the DataLoader seeds one generator per sample).
#include <cmath>
#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

#include "tl/core/generator.hpp"
#include "tl/data/image_ops.hpp"

namespace tl::data {

/// Any transform: image in, image out, randomness from the generator.
using TransformFn = std::function<Tensor<float>(const Tensor<float>&, Generator&)>;

/// Applies transforms in order (like torchvision.transforms.Compose).
class Compose {
 public:
  Compose() = default;
  Compose(std::initializer_list<TransformFn> ts) : ts_(ts) {}
  explicit Compose(std::vector<TransformFn> ts) : ts_(std::move(ts)) {}
  Compose& push_back(TransformFn t) {
    ts_.push_back(std::move(t));
    return *this;
  }
  Tensor<float> operator()(const Tensor<float>& img, Generator& gen) const {
    Tensor<float> x = img;
    for (const auto& t : ts_) x = t(x, gen);
    return x;
  }
  size_t size() const { return ts_.size(); }

 private:
  std::vector<TransformFn> ts_;
};

/// Resize(size): the smaller edge becomes `size` (aspect kept); Resize(h, w): exactly h x w.
/// Bilinear, align_corners=false, no antialias (torchvision's tensor path with antialias=False).
class Resize {
 public:
  explicit Resize(int64_t size) : size_(size) { TL_CHECK(size > 0, "Resize: size must be positive, got ", size); }
  Resize(int64_t h, int64_t w) : h_(h), w_(w) { TL_CHECK(h > 0 && w > 0, "Resize: size must be positive, got ", h, "x", w); }
  Tensor<float> operator()(const Tensor<float>& img, Generator&) const { return (*this)(img); }
  Tensor<float> operator()(const Tensor<float>& img) const {
    detail::check_image(img, "Resize");
    if (size_ > 0) {
      auto [h, w] = resized_size_smaller_edge(img.size(1), img.size(2), size_);
      return resize(img, h, w);
    }
    return resize(img, h_, w_);
  }

 private:
  int64_t size_ = 0, h_ = 0, w_ = 0;
};

/// The centered size x size (or h x w) region; zero-padded if the image is smaller.
class CenterCrop {
 public:
  explicit CenterCrop(int64_t size) : CenterCrop(size, size) {}
  CenterCrop(int64_t h, int64_t w) : h_(h), w_(w) { TL_CHECK(h > 0 && w > 0, "CenterCrop: size must be positive"); }
  Tensor<float> operator()(const Tensor<float>& img, Generator&) const { return (*this)(img); }
  Tensor<float> operator()(const Tensor<float>& img) const { return center_crop(img, h_, w_); }

 private:
  int64_t h_, w_;
};

/// Pads every side by `padding` (fill or padding mode), then crops a random size x size region
/// (torchvision's RandomCrop(size, padding); the classic CIFAR augmentation is RandomCrop(32, 4)).
class RandomCrop {
 public:
  explicit RandomCrop(int64_t size, int64_t padding = 0, bool pad_if_needed = false, float fill = 0.0f,
                      PaddingMode mode = PaddingMode::kConstant)
      : h_(size), w_(size), padding_(padding), pad_if_needed_(pad_if_needed), fill_(fill), mode_(mode) {
    TL_CHECK(size > 0 && padding >= 0, "RandomCrop: size must be positive and padding non-negative");
  }
  Tensor<float> operator()(const Tensor<float>& img, Generator& gen) const {
    detail::check_image(img, "RandomCrop");
    Tensor<float> x = padding_ > 0 ? pad(img, padding_, padding_, padding_, padding_, fill_, mode_) : img;
    if (pad_if_needed_ && x.size(2) < w_) x = pad(x, w_ - x.size(2), 0, w_ - x.size(2), 0, fill_, mode_);
    if (pad_if_needed_ && x.size(1) < h_) x = pad(x, 0, h_ - x.size(1), 0, h_ - x.size(1), fill_, mode_);
    const int64_t H = x.size(1), W = x.size(2);
    TL_CHECK(H >= h_ && W >= w_, "RandomCrop: required crop size ", h_, "x", w_, " is larger than the (padded) image ",
             H, "x", W);
    if (H == h_ && W == w_) return x;
    int64_t top = gen.randint(H - h_ + 1), left = gen.randint(W - w_ + 1);
    return crop(x, top, left, h_, w_);
  }

 private:
  int64_t h_, w_, padding_;
  bool pad_if_needed_;
  float fill_;
  PaddingMode mode_;
};

/// A random region of random area (scale) and aspect ratio, resized to size x size
/// (torchvision's RandomResizedCrop: 10 tries, then a central crop clamped to the ratio range).
class RandomResizedCrop {
 public:
  explicit RandomResizedCrop(int64_t size, std::pair<double, double> scale = {0.08, 1.0},
                             std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0})
      : size_(size), scale_(scale), ratio_(ratio) {
    TL_CHECK(size > 0, "RandomResizedCrop: size must be positive");
    TL_CHECK(scale.first <= scale.second && ratio.first <= ratio.second && ratio.first > 0,
             "RandomResizedCrop: scale and ratio must be (min, max) ranges with a positive ratio");
  }
  struct Box {
    int64_t top, left, h, w;
  };
  /// The crop box torchvision's get_params would choose, drawing from gen.
  Box params(int64_t H, int64_t W, Generator& gen) const {
    const double area = static_cast<double>(H) * static_cast<double>(W);
    const double lr0 = std::log(ratio_.first), lr1 = std::log(ratio_.second);
    for (int attempt = 0; attempt < 10; ++attempt) {
      double target = area * (scale_.first + gen.uniform() * (scale_.second - scale_.first));
      double aspect = std::exp(lr0 + gen.uniform() * (lr1 - lr0));
      auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
      auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
      if (0 < w && w <= W && 0 < h && h <= H) {
        int64_t top = gen.randint(H - h + 1), left = gen.randint(W - w + 1);
        return {top, left, h, w};
      }
    }
    const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
    int64_t w = W, h = H;
    if (in_ratio < ratio_.first) h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / ratio_.first));
    else if (in_ratio > ratio_.second) w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * ratio_.second));
    return {(H - h) / 2, (W - w) / 2, h, w};
  }
  Tensor<float> operator()(const Tensor<float>& img, Generator& gen) const {
    detail::check_image(img, "RandomResizedCrop");
    Box b = params(img.size(1), img.size(2), gen);
    return resize(crop(img, b.top, b.left, b.h, b.w), size_, size_);
  }

 private:
  int64_t size_;
  std::pair<double, double> scale_, ratio_;
};

/// Mirrors the image with probability p.
class RandomHorizontalFlip {
 public:
  explicit RandomHorizontalFlip(double p = 0.5) : p_(p) {
    TL_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got ", p);
  }
  Tensor<float> operator()(const Tensor<float>& img, Generator& gen) const {
    return gen.uniform() < p_ ? hflip(img) : img;
  }

 private:
  double p_;
};

/// (x - mean) / std per channel; Normalize::imagenet() uses kImageNetMean / kImageNetStd.
class Normalize {
 public:
  Normalize(std::vector<float> mean, std::vector<float> std) : mean_(std::move(mean)), std_(std::move(std)) {
    TL_CHECK(mean_.size() == std_.size() && !mean_.empty(), "Normalize: mean and std must have the same, non-zero length");
  }
  static Normalize imagenet() {
    return Normalize({kImageNetMean, kImageNetMean + 3}, {kImageNetStd, kImageNetStd + 3});
  }
  Tensor<float> operator()(const Tensor<float>& img, Generator&) const { return (*this)(img); }
  Tensor<float> operator()(const Tensor<float>& img) const { return normalize(img, mean_, std_); }

 private:
  std::vector<float> mean_, std_;
};

/// uint8 [H, W, C] -> float [C, H, W] in [0, 1] (torchvision's ToTensor for decoded images;
/// tl's datasets already return float [C, H, W], so a Compose usually starts after it).
struct ToTensor {
  Tensor<float> operator()(const Tensor<uint8_t>& hwc) const { return to_tensor(hwc); }
};

}  // namespace tl::data
