#pragma once
// Tensor memory: statistics and control of the caching allocator behind every tensor's storage
// (tl/core/allocator.hpp explains the pool). Like torch.cuda.memory_stats / empty_cache, for the CPU.
//
//   auto s = tl::memory_stats();             // s.in_use, s.peak_in_use, s.cached, s.reserved, ...
//   tl::reset_peak_memory_stats();           // peaks restart from the current values
//   tl::empty_cache();                       // give every cached block back to the system
//   tl::set_caching_allocator_enabled(false);  // or TL_CACHING_ALLOCATOR=0 in the environment
//   tl::set_memory_cache_limit(256 << 20);   // at most 256 MiB cached (or TL_CACHE_LIMIT_MB=256)
#include <cstddef>

#include "tl/core/allocator.hpp"

namespace tl {

/// Bytes in use, cached and reserved (see MemoryStats), their peaks and the cache's hit counts.
inline MemoryStats memory_stats() { return detail::caching_pool().stats(); }

/// Restarts peak_in_use and peak_reserved from the current in_use and reserved.
inline void reset_peak_memory_stats() { detail::caching_pool().reset_peaks(); }

/// Returns every cached (freed, kept for reuse) block to the system. Live tensors are untouched.
inline void empty_cache() { detail::caching_pool().empty_cache(); }

/// Turns block caching on or off (on by default; TL_CACHING_ALLOCATOR=0 starts it off). Turning it
/// off releases the cache; every freed block then goes straight back to the system.
inline void set_caching_allocator_enabled(bool enabled) { detail::caching_pool().set_enabled(enabled); }
inline bool caching_allocator_enabled() { return detail::caching_pool().enabled(); }

/// Caps the bytes kept in the cache (the least recently freed blocks go first). Without a cap the
/// cache is bounded by the footprint rule only: reserved <= 1.25x the highest in_use seen.
inline void set_memory_cache_limit(std::size_t bytes) { detail::caching_pool().set_limit(bytes); }
/// The cap; SIZE_MAX when none was set.
inline std::size_t memory_cache_limit() { return detail::caching_pool().limit(); }

}  // namespace tl
