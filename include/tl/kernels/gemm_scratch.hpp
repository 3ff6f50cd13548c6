#pragma once
// Thread-local scratch buffers for packing: each (thread, slot) keeps one 64-byte aligned buffer
// that only grows, so a steady-state training loop does no allocation inside the kernels.
// They are not tensor storage (not in tl::memory_stats()); scratch_bytes() says what they hold.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "tl/kernels/gemm_config.hpp"

namespace tl::kernels {
/// The counter behind scratch_bytes(): outside the ISA namespaces, so one for every ISA flavour.
inline std::atomic<std::size_t>& scratch_bytes_counter() {
  static std::atomic<std::size_t> bytes{0};
  return bytes;
}
/// Bytes currently held by the kernels' scratch buffers, all threads (part of the process's memory
/// beside tensor storage: packed weights, per-thread partial weight gradients, packing panels).
inline std::size_t scratch_bytes() { return scratch_bytes_counter().load(std::memory_order_relaxed); }
}  // namespace tl::kernels

TL_KERNELS_BEGIN

/// Scratch slots; a kernel uses distinct slots for buffers that are alive at the same time.
enum class Scratch : int {
  PackedA = 0, PackedB, SharedA, Local, Columns, Partial, Cropped, Flipped, Padded, Offsets, Subsampled, Count
};

namespace detail {
struct ScratchBuffer {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { release(); }
  void* get(std::size_t want) {
    if (want > bytes) {
      release();
      // Grow by 1.5x so a slowly increasing sequence of sizes does not reallocate every call.
      std::size_t n = ((want + want / 2) + 63) / 64 * 64;
      ptr = std::aligned_alloc(64, n);
      if (!ptr) throw std::bad_alloc();
      bytes = n;
      scratch_bytes_counter() += n;
    }
    return ptr;
  }
  void release() {
    std::free(ptr);
    ptr = nullptr;
    scratch_bytes_counter() -= bytes;
    bytes = 0;
  }
};
}  // namespace detail

/// A buffer of at least n elements of T for this thread and slot (contents unspecified).
template <class T>
T* scratch(Scratch slot, int64_t n) {
  thread_local detail::ScratchBuffer buffers[static_cast<int>(Scratch::Count)];
  return static_cast<T*>(buffers[static_cast<int>(slot)].get(static_cast<std::size_t>(n > 0 ? n : 1) * sizeof(T)));
}

TL_KERNELS_END
