#pragma once
// tl::data::TensorDataset: examples held in memory as one tensor [N, ...] plus labels [N]
// (like torch.utils.data.TensorDataset with an image tensor and a label tensor).
#include "tl/data/dataset.hpp"

namespace tl::data {

class TensorDataset : public Dataset {
 public:
  TensorDataset(const Tensor<float>& images, const Tensor<int64_t>& labels, std::vector<std::string> class_names = {})
      : images_(images.is_contiguous() ? images : images.to<float>()),
        labels_(labels.is_contiguous() ? labels : labels.to<int64_t>()),
        classes_(std::move(class_names)) {
    TL_CHECK(images_.dim() >= 1 && labels_.dim() == 1 && images_.size(0) == labels_.size(0),
             "TensorDataset: expected images [N, ...] and labels [N], got ", shape_str(images_.shape()), " and ",
             shape_str(labels_.shape()));
  }
  int64_t size() const override { return labels_.size(0); }
  Example get(int64_t i) const override {
    check_index(i);
    Shape s(images_.shape().begin() + 1, images_.shape().end());
    auto img = Tensor<float>::uninitialized(s);
    const int64_t per = img.numel();
    std::copy(images_.data() + i * per, images_.data() + (i + 1) * per, img.data());
    return {img, labels_.data()[i]};
  }
  int64_t label(int64_t i) const override {
    check_index(i);
    return labels_.data()[i];
  }
  std::vector<std::string> classes() const override { return classes_; }
  std::string name() const override { return "TensorDataset"; }

 private:
  Tensor<float> images_;
  Tensor<int64_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace tl::data
