#pragma once
// tl::data::ImageFolder: root/<class>/<...>/<image>, like torchvision.datasets.ImageFolder.
//
// Classes are the sub-folders of root sorted by name (label = position); files are found
// recursively and ordered as torchvision orders them (by folder path, then file name), with
// torchvision's extension list (case-insensitive). Images are decoded with stb_image (Debian's
// libstb, linked by tl's CMake target) to RGB, like PIL's convert("RGB"), when get() is called.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tl/data/dataset.hpp"
#include "tl/data/file_bytes.hpp"

#ifdef TL_HAVE_STB
#include <stb_image.h>
#endif

namespace tl::data {

/// torchvision's IMG_EXTENSIONS. stb_image decodes jpg/jpeg/png/ppm/pgm/bmp; tif/tiff/webp files
/// are listed (so indices match torchvision) but throw when loaded.
inline const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> e = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  return e;
}

/// Decodes an image file (png, jpeg, bmp, ppm/pgm ...) to uint8 RGB [3, H, W]; throws naming it.
inline Tensor<uint8_t> load_image_rgb(const std::string& path) {
#ifdef TL_HAVE_STB
  auto bytes = detail::read_file_bytes(path);
  TL_CHECK(!bytes.empty(), "load_image: '", path, "' is empty");
  TL_CHECK(bytes.size() <= 0x7fffffffu, "load_image: '", path, "' is too large");
  int w = 0, h = 0, comp = 0;
  stbi_uc* px = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &comp, 3);
  if (px == nullptr) {
    const char* why = stbi_failure_reason();
    tl::detail::fail("load_image: cannot decode '", path, "' (stb_image: ", why ? why : "unknown error", ")");
  }
  auto out = Tensor<uint8_t>::uninitialized({3, h, w});
  const int64_t plane = int64_t(h) * w;
  uint8_t* d = out.data();
  for (int64_t k = 0; k < plane; ++k)
    for (int64_t c = 0; c < 3; ++c) d[c * plane + k] = px[k * 3 + c];  // HWC -> CHW
  stbi_image_free(px);
  return out;
#else
  tl::detail::fail("load_image: cannot decode '", path, "': tl was built without stb_image (install libstb-dev)");
#endif
}

class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(const std::string& root, std::vector<std::string> extensions = image_extensions())
      : root_(root), extensions_(std::move(extensions)) {
    namespace fs = std::filesystem;
    TL_CHECK(fs::is_directory(root), "ImageFolder: '", root, "' is not a directory");
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory()) classes_.push_back(e.path().filename().string());
    std::sort(classes_.begin(), classes_.end());
    TL_CHECK(!classes_.empty(), "ImageFolder: couldn't find any class folder in '", root, "'");
    std::vector<std::string> empty_classes;
    for (size_t c = 0; c < classes_.size(); ++c) {
      // (folder, file name) pairs sorted like torchvision's sorted(os.walk(...)) then sorted(fnames).
      std::vector<std::pair<std::string, std::string>> found;
      fs::path dir = fs::path(root) / classes_[c];
      for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink))
        if (e.is_regular_file() && has_extension(e.path().filename().string()))
          found.emplace_back(e.path().parent_path().string(), e.path().filename().string());
      std::sort(found.begin(), found.end());
      if (found.empty()) empty_classes.push_back(classes_[c]);
      for (auto& [folder, file] : found) samples_.emplace_back((fs::path(folder) / file).string(), int64_t(c));
    }
    TL_CHECK(empty_classes.empty(), "ImageFolder: found no valid file for the classes ", join(empty_classes),
             " in '", root, "'");
  }

  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  Example get(int64_t i) const override { return {uint8_to_float(get_uint8(i)), label(i)}; }
  Tensor<uint8_t> get_uint8(int64_t i) const override {
    check_index(i);
    return load_image_rgb(samples_[static_cast<size_t>(i)].first);
  }
  int64_t label(int64_t i) const override {
    check_index(i);
    return samples_[static_cast<size_t>(i)].second;
  }
  std::vector<std::string> classes() const override { return classes_; }
  std::string name() const override { return "ImageFolder"; }
  /// (path, label) of every image, in index order.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }
  const std::string& root() const { return root_; }

 private:
  bool has_extension(std::string f) const {
    for (auto& ch : f) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const auto& e : extensions_)
      if (f.size() >= e.size() && f.compare(f.size() - e.size(), e.size(), e) == 0) return true;
    return false;
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string r;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) r += ", ";
      r += v[i];
    }
    return r;
  }
  std::string root_;
  std::vector<std::string> extensions_;
  std::vector<std::string> classes_;
  std::vector<std::pair<std::string, int64_t>> samples_;
};

}  // namespace tl::data
