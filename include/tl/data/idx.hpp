#pragma once
// IDX files (MNIST, Fashion-MNIST, KMNIST ...), plain or .gz, and the dataset they make.
//
// Format: magic 0x0000 0x08 <ndim> (unsigned bytes), then ndim big-endian uint32 sizes, then the
// bytes row-major. Images are 0x00000803 [N, H, W]; labels 0x00000801 [N].
#include <filesystem>
#include <string>
#include <vector>

#include "tl/data/dataset.hpp"
#include "tl/data/file_bytes.hpp"

namespace tl::data {

/// A decoded IDX array of unsigned bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;
};

/// Reads an IDX file of unsigned bytes with `expected_ndim` dims; throws naming the file if
/// the magic number, the sizes or the length are wrong.
inline IdxArray read_idx(const std::string& path, int expected_ndim) {
  auto bytes = detail::read_maybe_gz_bytes(path);
  TL_CHECK(bytes.size() >= 4, "read_idx: '", path, "' is too short for an IDX header (", bytes.size(), " bytes)");
  uint32_t magic = detail::read_be32(bytes.data());
  uint32_t want = 0x00000800u | static_cast<uint32_t>(expected_ndim);
  TL_CHECK(magic == want, "read_idx: '", path, "' has magic number ", detail::hex32(magic), ", expected ",
           detail::hex32(want), " (unsigned-byte IDX with ", expected_ndim, " dims)");
  size_t header = 4 + 4 * static_cast<size_t>(expected_ndim);
  TL_CHECK(bytes.size() >= header, "read_idx: '", path, "' is truncated inside its header");
  IdxArray a;
  uint64_t count = 1;
  for (int d = 0; d < expected_ndim; ++d) {
    uint32_t n = detail::read_be32(bytes.data() + 4 + 4 * d);
    a.dims.push_back(n);
    TL_CHECK(n == 0 || count <= (uint64_t(1) << 40) / n, "read_idx: '", path, "' declares absurd sizes");
    count *= n;
  }
  TL_CHECK(bytes.size() - header == count, "read_idx: '", path, "' holds ", bytes.size() - header,
           " data bytes but its header declares ", count, bytes.size() - header < count ? " (truncated)" : " (trailing bytes)");
  a.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
}

/// Images and labels from a pair of IDX files (MNIST layout): image i is [1, H, W].
class IdxDataset : public Dataset {
 public:
  IdxDataset(const std::string& images_path, const std::string& labels_path,
             std::vector<std::string> class_names = {}, std::string name = "IdxDataset")
      : classes_(std::move(class_names)), name_(std::move(name)) {
    auto img = read_idx(images_path, 3);
    auto lab = read_idx(labels_path, 1);
    TL_CHECK(img.dims[0] == lab.dims[0], name_, ": '", images_path, "' has ", img.dims[0], " images but '",
             labels_path, "' has ", lab.dims[0], " labels");
    n_ = img.dims[0];
    h_ = img.dims[1];
    w_ = img.dims[2];
    pixels_ = std::move(img.values);
    labels_.assign(lab.values.begin(), lab.values.end());
    if (!classes_.empty())
      for (int64_t i = 0; i < n_; ++i)
        TL_CHECK(labels_[i] < static_cast<int64_t>(classes_.size()), name_, ": '", labels_path, "' has label ",
                 labels_[i], " at index ", i, " but there are only ", classes_.size(), " classes");
  }

  int64_t size() const override { return n_; }
  Example get(int64_t i) const override { return {uint8_to_float(get_uint8(i)), label(i)}; }
  Tensor<uint8_t> get_uint8(int64_t i) const override {
    check_index(i);
    return uint8_image(pixels_.data() + i * h_ * w_, 1, h_, w_);
  }
  int64_t label(int64_t i) const override {
    check_index(i);
    return labels_[i];
  }
  std::vector<std::string> classes() const override { return classes_; }
  std::string name() const override { return name_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }

 private:
  std::vector<std::string> classes_;
  std::string name_;
  int64_t n_ = 0, h_ = 0, w_ = 0;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
};

namespace detail {
/// root/<stem> or root/<stem>.gz, whichever exists (the .gz is tried second).
inline std::string find_idx_file(const std::string& root, const std::string& stem, const char* who) {
  namespace fs = std::filesystem;
  for (const char* ext : {"", ".gz"}) {
    fs::path p = fs::path(root) / (stem + ext);
    if (fs::exists(p)) return p.string();
  }
  tl::detail::fail(who, ": neither '", (fs::path(root) / stem).string(), "' nor its .gz exists");
}
inline std::vector<std::string> mnist_digit_classes() {
  return {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
          "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};
}
inline std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}
}  // namespace detail

/// MNIST from root/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (torchvision's file names).
inline std::shared_ptr<IdxDataset> MNIST(const std::string& root, bool train = true) {
  std::string s = train ? "train" : "t10k";
  std::string images = detail::find_idx_file(root, s + "-images-idx3-ubyte", "MNIST");
  std::string labels = detail::find_idx_file(root, s + "-labels-idx1-ubyte", "MNIST");
  return std::make_shared<IdxDataset>(images, labels,
                                      detail::mnist_digit_classes(), "MNIST");
}

/// Fashion-MNIST, same layout as MNIST (Debian: /usr/share/datasets/fashion-mnist).
inline std::shared_ptr<IdxDataset> FashionMNIST(const std::string& root, bool train = true) {
  std::string s = train ? "train" : "t10k";
  std::string images = detail::find_idx_file(root, s + "-images-idx3-ubyte", "FashionMNIST");
  std::string labels = detail::find_idx_file(root, s + "-labels-idx1-ubyte", "FashionMNIST");
  return std::make_shared<IdxDataset>(images, labels,
                                      detail::fashion_mnist_classes(), "FashionMNIST");
}

}  // namespace tl::data
