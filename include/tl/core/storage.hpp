#pragma once
// Storage<T>: a flat, aligned, uninitialised buffer shared by a tensor and its views.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tl/core/allocator.hpp"

namespace tl {

template <class T>
class Storage {
 public:
  explicit Storage(std::size_t n) : data_(static_cast<T*>(detail::allocate_bytes(n * sizeof(T)))), size_(n) {}
  ~Storage() { detail::free_bytes(data_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  T* data_;
  std::size_t size_;
};

}  // namespace tl
