#pragma once
// Raw memory for tensor storage: 64-byte aligned, so SIMD kernels may use aligned loads
// on the first element of a fresh tensor.
#include <cstddef>
#include <cstdlib>
#include <new>

namespace tl::detail {

constexpr std::size_t kAlignment = 64;

inline void* allocate_bytes(std::size_t bytes) {
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}

inline void free_bytes(void* p) { std::free(p); }

}  // namespace tl::detail
