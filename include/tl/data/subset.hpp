#pragma once
// Subsets and splits of a dataset: by index list, first N per class (few-shot), class filter with
// relabelling (source/target splits), and a seeded random split (torch.utils.data.random_split).
#include <algorithm>
#include <map>
#include <numeric>

#include "tl/core/generator.hpp"
#include "tl/data/dataset.hpp"

namespace tl::data {

/// The examples `indices` of `base`, in that order; labels optionally remapped via `relabel`
/// (relabel[old] = new, or -1 for a class that must not occur).
class Subset : public Dataset {
 public:
  Subset(Dataset::Ptr base, std::vector<int64_t> indices, std::vector<int64_t> relabel = {},
         std::vector<std::string> class_names = {})
      : base_(std::move(base)), indices_(std::move(indices)), relabel_(std::move(relabel)), classes_(std::move(class_names)) {
    TL_CHECK(base_ != nullptr, "Subset: null dataset");
    for (int64_t i : indices_)
      TL_CHECK(i >= 0 && i < base_->size(), "Subset: index ", i, " is out of range for ", base_->name(), " of size ",
               base_->size());
    if (classes_.empty() && relabel_.empty()) classes_ = base_->classes();
  }
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t i) const override {
    check_index(i);
    Example ex = base_->get(indices_[static_cast<size_t>(i)]);
    ex.label = map_label(ex.label);
    return ex;
  }
  int64_t label(int64_t i) const override {
    check_index(i);
    return map_label(base_->label(indices_[static_cast<size_t>(i)]));
  }
  Tensor<uint8_t> get_uint8(int64_t i) const override {
    check_index(i);
    return base_->get_uint8(indices_[static_cast<size_t>(i)]);
  }
  std::vector<std::string> classes() const override { return classes_; }
  std::string name() const override { return "Subset of " + base_->name(); }
  const std::vector<int64_t>& indices() const { return indices_; }
  const Dataset& base() const { return *base_; }

 private:
  int64_t map_label(int64_t l) const {
    if (relabel_.empty()) return l;
    TL_CHECK(l >= 0 && l < static_cast<int64_t>(relabel_.size()) && relabel_[static_cast<size_t>(l)] >= 0, name(),
             ": label ", l, " has no mapping");
    return relabel_[static_cast<size_t>(l)];
  }
  Dataset::Ptr base_;
  std::vector<int64_t> indices_, relabel_;
  std::vector<std::string> classes_;
};

/// The examples at `indices` (torch.utils.data.Subset).
inline std::shared_ptr<Subset> subset(Dataset::Ptr base, std::vector<int64_t> indices) {
  return std::make_shared<Subset>(std::move(base), std::move(indices));
}

/// The first n examples of each class, in dataset order (a few-shot training set). Classes with
/// fewer than n examples contribute all they have.
inline std::shared_ptr<Subset> first_n_per_class(Dataset::Ptr base, int64_t n) {
  TL_CHECK(base != nullptr && n >= 0, "first_n_per_class: need a dataset and n >= 0");
  std::map<int64_t, int64_t> taken;
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < base->size(); ++i)
    if (taken[base->label(i)]++ < n) idx.push_back(i);
  return std::make_shared<Subset>(std::move(base), std::move(idx));
}

/// Only the examples whose label is in `keep`. With relabel (the default), keep[k] becomes label k
/// and the class names follow, so a model with keep.size() outputs can train on it.
inline std::shared_ptr<Subset> filter_classes(Dataset::Ptr base, const std::vector<int64_t>& keep, bool relabel = true) {
  TL_CHECK(base != nullptr && !keep.empty(), "filter_classes: need a dataset and at least one class");
  int64_t max_label = *std::max_element(keep.begin(), keep.end());
  TL_CHECK(*std::min_element(keep.begin(), keep.end()) >= 0, "filter_classes: class indices must be >= 0");
  std::vector<int64_t> map(static_cast<size_t>(max_label + 1), -1);
  for (size_t k = 0; k < keep.size(); ++k) {
    TL_CHECK(map[static_cast<size_t>(keep[k])] < 0, "filter_classes: class ", keep[k], " is listed twice");
    map[static_cast<size_t>(keep[k])] = static_cast<int64_t>(k);
  }
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < base->size(); ++i) {
    int64_t l = base->label(i);
    if (l >= 0 && l <= max_label && map[static_cast<size_t>(l)] >= 0) idx.push_back(i);
  }
  if (!relabel) return std::make_shared<Subset>(std::move(base), std::move(idx));
  std::vector<std::string> names;
  auto all = base->classes();
  if (!all.empty())
    for (int64_t c : keep) names.push_back(c < static_cast<int64_t>(all.size()) ? all[static_cast<size_t>(c)] : std::to_string(c));
  return std::make_shared<Subset>(std::move(base), std::move(idx), std::move(map), std::move(names));
}

/// Splits into non-overlapping random subsets of the given lengths (which must sum to size()),
/// from a permutation seeded by `seed`.
inline std::vector<std::shared_ptr<Subset>> random_split(Dataset::Ptr base, const std::vector<int64_t>& lengths,
                                                         uint64_t seed = 0) {
  TL_CHECK(base != nullptr, "random_split: null dataset");
  int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  TL_CHECK(total == base->size(), "random_split: sum of input lengths (", total,
           ") does not equal the length of the input dataset (", base->size(), ")");
  std::vector<int64_t> perm(static_cast<size_t>(total));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  Generator g(seed);
  for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[static_cast<size_t>(g.randint(int64_t(i)))]);
  std::vector<std::shared_ptr<Subset>> out;
  int64_t at = 0;
  for (int64_t len : lengths) {
    TL_CHECK(len >= 0, "random_split: negative length ", len);
    out.push_back(std::make_shared<Subset>(base, std::vector<int64_t>(perm.begin() + at, perm.begin() + at + len)));
    at += len;
  }
  return out;
}

}  // namespace tl::data
