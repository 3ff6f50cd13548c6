#pragma once
// CIFAR-10 and CIFAR-100 in their binary versions (cifar-10-batches-bin, cifar-100-binary).
//
// CIFAR-10 record: 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, rows of 32), i.e.
// exactly [3, 32, 32]. CIFAR-100 record: coarse label byte, fine label byte, then the same 3072.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tl/data/dataset.hpp"
#include "tl/data/file_bytes.hpp"

namespace tl::data {

class CifarDataset : public Dataset {
 public:
  static constexpr int64_t kPixels = 3 * 32 * 32;

  /// Reads the given batch files in order. `label_bytes` is 1 (CIFAR-10) or 2 (CIFAR-100);
  /// `label_index` picks which label byte is the label (CIFAR-100: 0 coarse, 1 fine);
  /// every label must be < num_labels.
  CifarDataset(const std::vector<std::string>& files, int label_bytes, int label_index, int64_t num_labels,
               std::vector<std::string> class_names, std::string name)
      : classes_(std::move(class_names)), name_(std::move(name)) {
    TL_CHECK(!files.empty(), name_, ": no files given");
    const int64_t rec = label_bytes + kPixels;
    for (const auto& path : files) {
      auto bytes = detail::read_file_bytes(path);
      const auto size = static_cast<int64_t>(bytes.size());
      TL_CHECK(size > 0 && size % rec == 0, name_, ": '", path, "' has ", size, " bytes, not a positive multiple of the ",
               rec, "-byte record", size % rec ? " (truncated or not a " + name_ + " binary file)" : std::string());
      const int64_t n = size / rec;
      for (int64_t r = 0; r < n; ++r) {
        const uint8_t* p = bytes.data() + r * rec;
        int64_t lab = p[label_index];
        TL_CHECK(lab < num_labels, name_, ": '", path, "' record ", r, " has label ", lab, ", expected < ", num_labels);
        labels_.push_back(lab);
        pixels_.insert(pixels_.end(), p + label_bytes, p + rec);
      }
    }
  }

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Example get(int64_t i) const override { return {uint8_to_float(get_uint8(i)), label(i)}; }
  Tensor<uint8_t> get_uint8(int64_t i) const override {
    check_index(i);
    return uint8_image(pixels_.data() + i * kPixels, 3, 32, 32);
  }
  int64_t label(int64_t i) const override {
    check_index(i);
    return labels_[static_cast<size_t>(i)];
  }
  std::vector<std::string> classes() const override { return classes_; }
  std::string name() const override { return name_; }

 private:
  std::vector<std::string> classes_;
  std::string name_;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
};

namespace detail {
/// Lines of root/<file> if it exists (CIFAR's batches.meta.txt and label-name files), else {}.
inline std::vector<std::string> read_name_lines(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}
}  // namespace detail

/// CIFAR-10 from root (the cifar-10-batches-bin folder): data_batch_1..5.bin or test_batch.bin.
inline std::shared_ptr<CifarDataset> CIFAR10(const std::string& root, bool train = true) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  if (train)
    for (int b = 1; b <= 5; ++b) files.push_back((fs::path(root) / ("data_batch_" + std::to_string(b) + ".bin")).string());
  else
    files.push_back((fs::path(root) / "test_batch.bin").string());
  auto names = detail::read_name_lines(fs::path(root) / "batches.meta.txt");
  if (names.size() != 10)
    names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return std::make_shared<CifarDataset>(files, 1, 0, 10, names, "CIFAR10");
}

/// CIFAR-100 from root (the cifar-100-binary folder): train.bin or test.bin; fine labels (100
/// classes) by default, coarse (20 superclasses) with coarse = true.
inline std::shared_ptr<CifarDataset> CIFAR100(const std::string& root, bool train = true, bool coarse = false) {
  namespace fs = std::filesystem;
  std::string file = (fs::path(root) / (train ? "train.bin" : "test.bin")).string();
  auto names = detail::read_name_lines(fs::path(root) / (coarse ? "coarse_label_names.txt" : "fine_label_names.txt"));
  const int64_t n = coarse ? 20 : 100;
  if (static_cast<int64_t>(names.size()) != n) names.clear();
  return std::make_shared<CifarDataset>(std::vector<std::string>{file}, 2, coarse ? 0 : 1, n, names, "CIFAR100");
}

}  // namespace tl::data
