#pragma once
// The demo's data: Fashion-MNIST from IDX files, the scenarios' source/target/test splits, the
// low-resolution "camera", random crops and batch plans, as in examples/transfer_demo_pytorch.py.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <tl/tl.hpp>

namespace demo {

inline constexpr float kMean = 0.2860f, kStd = 0.3530f;

struct Split {
  tl::Tensor<float> x;      // [N, 1, 28, 28], normalised
  tl::Tensor<int64_t> y;    // [N]
  int64_t size() const { return y.defined() ? y.numel() : 0; }
};

struct Scenario {
  Split source, target, test;
  int64_t n_source = 10, n_target = 10;
};

/// Images as floats in [0, 1] (not yet normalised) and their labels.
struct Raw {
  std::vector<float> x;
  std::vector<int64_t> y;
  int64_t n = 0;
};

inline Raw read_fashion_mnist(const std::string& root, bool train) {
  namespace fs = std::filesystem;
  const std::string stem = train ? "train" : "t10k";
  for (const char* kind : {"images-idx3-ubyte", "labels-idx1-ubyte"}) {
    fs::path p = fs::path(root) / (stem + "-" + kind);
    TL_CHECK(fs::exists(p) || fs::exists(p.string() + ".gz"), "transfer_demo: Fashion-MNIST file '", p.string(),
             "(.gz)' not found in --data '", root, "'. Install it with `sudo apt-get install dataset-fashion-mnist` ",
             "(files go to /usr/share/datasets/fashion-mnist) or pass --data DIR");
  }
  auto images = tl::data::read_idx(tl::data::detail::find_idx_file(root, stem + "-images-idx3-ubyte", "transfer_demo"), 3);
  auto labels = tl::data::read_idx(tl::data::detail::find_idx_file(root, stem + "-labels-idx1-ubyte", "transfer_demo"), 1);
  TL_CHECK(images.dims[1] == 28 && images.dims[2] == 28 && images.dims[0] == labels.dims[0],
           "transfer_demo: unexpected Fashion-MNIST sizes in '", root, "'");
  Raw r;
  r.n = images.dims[0];
  r.x.resize(images.values.size());
  for (size_t i = 0; i < r.x.size(); ++i) r.x[i] = float(images.values[i]) / 255.f;
  r.y.assign(labels.values.begin(), labels.values.end());
  for (auto v : r.y) TL_CHECK(v >= 0 && v < 10, "transfer_demo: label ", v, " out of range in '", root, "'");
  return r;
}

/// The other "camera": 2x2 average pooling to 14x14, then bilinear upsampling back to 28x28
/// (PyTorch's F.interpolate(scale_factor=2, mode="bilinear", align_corners=False)).
inline void lowres_camera(float* img) {
  float small[14 * 14];
  for (int i = 0; i < 14; ++i)
    for (int j = 0; j < 14; ++j)
      small[i * 14 + j] = (img[(2 * i) * 28 + 2 * j] + img[(2 * i) * 28 + 2 * j + 1] + img[(2 * i + 1) * 28 + 2 * j] +
                           img[(2 * i + 1) * 28 + 2 * j + 1]) * 0.25f;
  auto src = [](int o, int& i0, int& i1, float& l) {
    float s = std::max((float(o) + 0.5f) * 0.5f - 0.5f, 0.f);  // PyTorch clamps negative source coords to 0
    i0 = int(s);
    i1 = std::min(i0 + 1, 13);
    l = s - float(i0);
  };
  for (int i = 0; i < 28; ++i) {
    int y0, y1;
    float ly;
    src(i, y0, y1, ly);
    for (int j = 0; j < 28; ++j) {
      int x0, x1;
      float lx;
      src(j, x0, x1, lx);
      img[i * 28 + j] = (1 - ly) * ((1 - lx) * small[y0 * 14 + x0] + lx * small[y0 * 14 + x1]) +
                        ly * ((1 - lx) * small[y1 * 14 + x0] + lx * small[y1 * 14 + x1]);
    }
  }
}

/// Normalised images [idx.size(), 1, 28, 28] and labels (minus label_offset) picked from raw.
inline Split pick(const Raw& r, const std::vector<int64_t>& idx, bool camera, int64_t label_offset) {
  Split s;
  const int64_t n = int64_t(idx.size());
  s.x = tl::Tensor<float>::uninitialized({n, 1, 28, 28});
  s.y = tl::Tensor<int64_t>::uninitialized({n});
  for (int64_t k = 0; k < n; ++k) {
    float* dst = s.x.data() + k * 784;
    std::copy_n(r.x.data() + idx[size_t(k)] * 784, 784, dst);
    if (camera) lowres_camera(dst);
    for (int p = 0; p < 784; ++p) dst[p] = (dst[p] - kMean) / kStd;
    s.y.data()[k] = r.y[size_t(idx[size_t(k)])] - label_offset;
  }
  return s;
}

/// scenario "lowres": source = first 50,000 clean training images (10 classes); target = the first
/// K per class of training images 50,000-59,999 through the low-res camera; test = the test set
/// through the camera. "split": source = classes 0-4 of the first 50,000; target/test = classes
/// 5-9 (relabelled 0-4), clean. source_limit > 0 keeps only the first that many source images and
/// test_limit > 0 the first that many test images (for --quick).
inline Scenario load_scenario(const std::string& root, const std::string& name, int64_t k, int64_t source_limit,
                              int64_t test_limit) {
  Raw train = read_fashion_mnist(root, true), test = read_fashion_mnist(root, false);
  TL_CHECK(train.n == 60000, "transfer_demo: expected 60,000 training images in '", root, "', got ", train.n);
  const bool lowres = name == "lowres";
  const int64_t lo = lowres ? 0 : 5, hi = lowres ? 10 : 5;  // source classes [0, hi), target classes [lo, 10)
  Scenario sc;
  sc.n_source = hi;
  sc.n_target = 10 - lo;
  std::vector<int64_t> src, tgt, tst;
  for (int64_t i = 0; i < 50000; ++i)
    if (train.y[size_t(i)] < hi) src.push_back(i);
  if (source_limit > 0 && int64_t(src.size()) > source_limit) src.resize(size_t(source_limit));
  std::vector<int64_t> taken(10, 0);
  for (int64_t i = 50000; i < 60000; ++i) {
    int64_t c = train.y[size_t(i)];
    if (c >= lo && taken[size_t(c)] < k) {
      tgt.push_back(i);
      ++taken[size_t(c)];
    }
  }
  for (int64_t i = 0; i < test.n; ++i)
    if (test.y[size_t(i)] >= lo) tst.push_back(i);
  if (test_limit > 0 && int64_t(tst.size()) > test_limit) tst.resize(size_t(test_limit));
  sc.source = pick(train, src, false, 0);
  sc.target = pick(train, tgt, lowres, lo);
  sc.test = pick(test, tst, lowres, lo);
  return sc;
}

/// Random crop with `pad` pixels of padding (filled with the normalised value of black), per image.
inline tl::Tensor<float> random_crop(const tl::Tensor<float>& x, int pad, tl::Generator& gen) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const float fill = (0.f - kMean) / kStd;
  auto out = tl::Tensor<float>::uninitialized(x.shape());
  auto xc = x.contiguous();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t dy = gen.randint(2 * pad + 1) - pad, dx = gen.randint(2 * pad + 1) - pad;
    const float* s = xc.data() + i * h * w;
    float* d = out.data() + i * h * w;
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        const int64_t sr = r + dy, scol = c + dx;
        d[r * w + c] = (sr >= 0 && sr < h && scol >= 0 && scol < w) ? s[sr * w + scol] : fill;
      }
  }
  return out;
}

/// `steps` batches of `bs` indices: consecutive slices of reshuffled permutations of 0..n-1
/// (a permutation's remainder is carried into the next batch, as in the PyTorch script).
inline std::vector<tl::Tensor<int64_t>> batch_plan(int64_t n, int64_t bs, int64_t steps, tl::Generator& gen) {
  std::vector<tl::Tensor<int64_t>> out;
  std::vector<int64_t> pending;
  size_t pos = 0;
  while (int64_t(out.size()) < steps) {
    if (int64_t(pending.size() - pos) < bs) {
      std::vector<int64_t> rest(pending.begin() + long(pos), pending.end()), perm(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) perm[size_t(i)] = i;
      for (int64_t i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(gen.randint(i + 1))]);
      rest.insert(rest.end(), perm.begin(), perm.end());
      pending = std::move(rest);
      pos = 0;
    }
    const int64_t take = std::min<int64_t>(bs, int64_t(pending.size() - pos));
    std::vector<int64_t> b(pending.begin() + long(pos), pending.begin() + long(pos) + long(take));
    pos += size_t(take);
    out.emplace_back(b, tl::Shape{take});
  }
  return out;
}

}  // namespace demo
