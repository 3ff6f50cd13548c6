#pragma once
// Plain image operations on float images [C, H, W] (torchvision.transforms.functional on tensors):
// resize (bilinear, align_corners=false, no antialias), crop, center_crop, pad, hflip, normalize,
// and to_tensor for uint8 [H, W, C] buffers.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tl/core/error.hpp"
#include "tl/core/tensor.hpp"

namespace tl::data {

/// ImageNet channel statistics, as used by torchvision's pretrained models.
inline constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
inline constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

namespace detail {
inline void check_image(const Tensor<float>& img, const char* op) {
  TL_CHECK(img.defined() && img.dim() == 3, op, ": expected an image [C, H, W], got ",
           img.defined() ? shape_str(img.shape()) : std::string("an undefined tensor"));
}
inline Tensor<float> dense(const Tensor<float>& t) { return t.is_contiguous() ? t : t.to<float>(); }

/// PyTorch's source index and weights for one output index of linear interpolation with
/// align_corners=false (area_pixel_compute_source_index, clamped at 0).
struct LinearTap {
  int64_t i0, i1;
  float w0, w1;
};
inline std::vector<LinearTap> linear_taps(int64_t in, int64_t out) {
  std::vector<LinearTap> taps(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (in == out) {
      taps[o] = {o, o, 1.0f, 0.0f};
      continue;
    }
    float src = std::max(scale * (static_cast<float>(o) + 0.5f) - 0.5f, 0.0f);
    auto i0 = static_cast<int64_t>(src);
    int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    taps[o] = {i0, i1, 1.0f - l1, l1};
  }
  return taps;
}
}  // namespace detail

/// Bilinear resize to [C, out_h, out_w], matching torch.nn.functional.interpolate(mode="bilinear",
/// align_corners=False, antialias=False), which torchvision's Resize uses on tensors.
inline Tensor<float> resize(const Tensor<float>& img, int64_t out_h, int64_t out_w) {
  detail::check_image(img, "resize");
  TL_CHECK(out_h > 0 && out_w > 0, "resize: output size must be positive, got ", out_h, "x", out_w);
  TL_CHECK(img.size(1) > 0 && img.size(2) > 0, "resize: empty image ", shape_str(img.shape()));
  auto x = detail::dense(img);
  const int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  if (H == out_h && W == out_w) return x.is_same(img) ? x.to<float>() : x;  // always a new tensor
  auto ty = detail::linear_taps(H, out_h), tx = detail::linear_taps(W, out_w);
  auto out = Tensor<float>::uninitialized({C, out_h, out_w});
  const float* s = x.data();
  float* d = out.data();
  for (int64_t c = 0; c < C; ++c) {
    const float* p = s + c * H * W;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const auto& a = ty[oy];
      const float* r0 = p + a.i0 * W;
      const float* r1 = p + a.i1 * W;
      float* q = d + (c * out_h + oy) * out_w;
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const auto& b = tx[ox];
        q[ox] = a.w0 * (b.w0 * r0[b.i0] + b.w1 * r0[b.i1]) + a.w1 * (b.w0 * r1[b.i0] + b.w1 * r1[b.i1]);
      }
    }
  }
  return out;
}

/// The output size of torchvision's Resize(size) for an int size: the smaller edge becomes
/// `size`, the other keeps the aspect ratio (truncated, as torchvision does).
inline std::pair<int64_t, int64_t> resized_size_smaller_edge(int64_t h, int64_t w, int64_t size) {
  TL_CHECK(size > 0, "resize: size must be positive, got ", size);
  if (h <= w) return {size, static_cast<int64_t>(static_cast<double>(size) * static_cast<double>(w) / static_cast<double>(h))};
  return {static_cast<int64_t>(static_cast<double>(size) * static_cast<double>(h) / static_cast<double>(w)), size};
}

/// The region [top, top+h) x [left, left+w); parts outside the image are 0 (like torchvision's crop).
inline Tensor<float> crop(const Tensor<float>& img, int64_t top, int64_t left, int64_t h, int64_t w) {
  detail::check_image(img, "crop");
  TL_CHECK(h > 0 && w > 0, "crop: size must be positive, got ", h, "x", w);
  auto x = detail::dense(img);
  const int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  auto out = zeros<float>({C, h, w});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < h; ++y) {
      int64_t sy = top + y;
      if (sy < 0 || sy >= H) continue;
      for (int64_t xx = 0; xx < w; ++xx) {
        int64_t sx = left + xx;
        if (sx >= 0 && sx < W) out.data()[(c * h + y) * w + xx] = x.data()[(c * H + sy) * W + sx];
      }
    }
  return out;
}

/// The centered h x w region (torchvision: top = round((H - h) / 2), Python's round-half-even).
inline Tensor<float> center_crop(const Tensor<float>& img, int64_t h, int64_t w) {
  detail::check_image(img, "center_crop");
  const int64_t H = img.size(1), W = img.size(2);
  auto top = static_cast<int64_t>(std::nearbyint(static_cast<double>(H - h) / 2.0));
  auto left = static_cast<int64_t>(std::nearbyint(static_cast<double>(W - w) / 2.0));
  return crop(img, top, left, h, w);
}

enum class PaddingMode { kConstant, kEdge, kReflect, kSymmetric };

/// Pads left/top/right/bottom (torchvision's F.pad order) with `fill` or by edge/reflect/symmetric.
inline Tensor<float> pad(const Tensor<float>& img, int64_t left, int64_t top, int64_t right, int64_t bottom,
                         float fill = 0.0f, PaddingMode mode = PaddingMode::kConstant) {
  detail::check_image(img, "pad");
  TL_CHECK(left >= 0 && top >= 0 && right >= 0 && bottom >= 0, "pad: padding must be non-negative");
  auto x = detail::dense(img);
  const int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  if (mode == PaddingMode::kReflect)
    TL_CHECK(std::max(left, right) < W && std::max(top, bottom) < H, "pad: reflect padding must be smaller than the image ",
             shape_str(x.shape()));
  if (mode == PaddingMode::kSymmetric)
    TL_CHECK(std::max(left, right) <= W && std::max(top, bottom) <= H,
             "pad: symmetric padding must not exceed the image ", shape_str(x.shape()));
  const int64_t oh = H + top + bottom, ow = W + left + right;
  auto src_index = [mode](int64_t i, int64_t n) -> int64_t {  // -1: use fill
    if (i >= 0 && i < n) return i;
    switch (mode) {
      case PaddingMode::kConstant: return -1;
      case PaddingMode::kEdge: return i < 0 ? 0 : n - 1;
      case PaddingMode::kReflect: return i < 0 ? -i : 2 * (n - 1) - i;
      case PaddingMode::kSymmetric: return i < 0 ? -i - 1 : 2 * n - 1 - i;
    }
    return -1;
  };
  auto out = Tensor<float>::uninitialized({C, oh, ow});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < oh; ++y) {
      int64_t sy = src_index(y - top, H);
      for (int64_t xx = 0; xx < ow; ++xx) {
        int64_t sx = src_index(xx - left, W);
        out.data()[(c * oh + y) * ow + xx] = (sy < 0 || sx < 0) ? fill : x.data()[(c * H + sy) * W + sx];
      }
    }
  return out;
}

/// Mirror left-right.
inline Tensor<float> hflip(const Tensor<float>& img) {
  detail::check_image(img, "hflip");
  auto x = detail::dense(img);
  const int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  auto out = Tensor<float>::uninitialized(x.shape());
  for (int64_t r = 0; r < C * H; ++r)
    for (int64_t xx = 0; xx < W; ++xx) out.data()[r * W + xx] = x.data()[r * W + W - 1 - xx];
  return out;
}

/// (x - mean[c]) / std[c] per channel.
inline Tensor<float> normalize(const Tensor<float>& img, const std::vector<float>& mean, const std::vector<float>& std) {
  detail::check_image(img, "normalize");
  const int64_t C = img.size(0);
  TL_CHECK(static_cast<int64_t>(mean.size()) == C && static_cast<int64_t>(std.size()) == C, "normalize: ", mean.size(),
           " means and ", std.size(), " stds for an image with ", C, " channels");
  for (float s : std) TL_CHECK(s != 0.0f, "normalize: std evaluated to zero, leading to division by zero");
  auto x = detail::dense(img);
  const int64_t plane = x.size(1) * x.size(2);
  auto out = Tensor<float>::uninitialized(x.shape());
  for (int64_t c = 0; c < C; ++c) {
    const float m = mean[static_cast<size_t>(c)], s = std[static_cast<size_t>(c)];
    for (int64_t k = 0; k < plane; ++k) out.data()[c * plane + k] = (x.data()[c * plane + k] - m) / s;
  }
  return out;
}

/// uint8 [H, W, C] or [H, W] (an image as decoders give it) -> float [C, H, W] in [0, 1].
inline Tensor<float> to_tensor(const Tensor<uint8_t>& hwc) {
  TL_CHECK(hwc.defined() && (hwc.dim() == 2 || hwc.dim() == 3), "to_tensor: expected uint8 [H, W, C] or [H, W], got ",
           hwc.defined() ? shape_str(hwc.shape()) : std::string("an undefined tensor"));
  auto x = hwc.is_contiguous() ? hwc : hwc.to<uint8_t>();
  const int64_t H = x.size(0), W = x.size(1), C = x.dim() == 3 ? x.size(2) : 1;
  auto out = Tensor<float>::uninitialized({C, H, W});
  for (int64_t k = 0; k < H * W; ++k)
    for (int64_t c = 0; c < C; ++c) out.data()[c * H * W + k] = static_cast<float>(x.data()[k * C + c]) / 255.0f;
  return out;
}

}  // namespace tl::data
