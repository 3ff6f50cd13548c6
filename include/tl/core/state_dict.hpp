#pragma once
// StateDict<T>: an ordered name -> tensor map, what modules save and load and weight files hold.
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "tl/core/tensor.hpp"

namespace tl {

template <class T>
class StateDict {
 public:
  struct Entry {
    std::string name;
    Tensor<T> tensor;
    bool integer = false;  // held as counts in T, stored as int64 in files (e.g. num_batches_tracked)
  };

  /// Adds an entry, or replaces the tensor of an existing one (keeping its place in the order).
  void insert(const std::string& name, Tensor<T> t, bool integer = false) {
    auto it = index_.find(name);
    if (it != index_.end()) {
      entries_[it->second].tensor = std::move(t);
      entries_[it->second].integer = integer;
      return;
    }
    index_.emplace(name, entries_.size());
    entries_.push_back({name, std::move(t), integer});
  }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const Tensor<T>& at(const std::string& name) const { return entries_[find(name)].tensor; }
  Tensor<T>& at(const std::string& name) { return entries_[find(name)].tensor; }
  bool is_integer(const std::string& name) const { return entries_[find(name)].integer; }
  void erase(const std::string& name) {
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(find(name)));
    reindex();
  }
  /// Renames an entry in place.
  void rename(const std::string& from, const std::string& to) {
    TL_CHECK(!contains(to), "StateDict::rename: key '", to, "' already exists");
    entries_[find(from)].name = to;
    reindex();
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& e : entries_) k.push_back(e.name);
    return k;
  }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() { return entries_.begin(); }
  auto end() { return entries_.end(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

  /// Free-form string metadata (e.g. safetensors' __metadata__).
  std::map<std::string, std::string> metadata;

 private:
  size_t find(const std::string& name) const {
    auto it = index_.find(name);
    TL_CHECK(it != index_.end(), "StateDict: no key '", name, "'");
    return it->second;
  }
  void reindex() {
    index_.clear();
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].name, i);
  }
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace tl
