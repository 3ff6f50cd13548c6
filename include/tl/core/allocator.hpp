#pragma once
// Raw memory for tensor storage: 64-byte aligned, so SIMD kernels may use aligned loads on the
// first element of a fresh tensor.
//
// Large blocks (>= 64 KiB) go through a caching pool: a freed block is kept in the free list of
// its size class and handed out again to the next request of that class instead of going back to
// the system. Without it every activation of a training step is a fresh mmap (glibc's default for
// large blocks) whose pages the kernel faults in and zeroes on first touch, then munmaps on free:
// ~290k page faults per ResNet-50 step at batch 8, a quarter of its run time spent in the kernel.
// Sizes are rounded up to a class (8 per power of two, < 12.5% extra), so the same tensor shapes
// find their blocks again step after step. When no block of the class (or up to 25% larger) is
// cached and a fresh block would push the footprint over its bound (below), the smallest cached
// block of up to twice the class is used instead: reusing mapped memory beats releasing it and faulting in new pages. Small blocks go straight to aligned_alloc/free.
//
// The pool's footprint is bounded: it never holds more than 1.25x the most bytes the program has
// had in use at once (peak of live storage); on a miss that would exceed this the least recently
// freed cached blocks are released first. An absolute cap on cached bytes can be set too.
// Control and statistics: tl/core/memory.hpp (tl::memory_stats, tl::empty_cache, ...);
// TL_CACHING_ALLOCATOR=0 in the environment turns caching off, TL_CACHE_LIMIT_MB caps it.
//
// Every block starts with a 64-byte header (its capacity and requested size), so free_bytes(p)
// needs no size. Under AddressSanitizer cached blocks and headers are poisoned, so a use after
// free of a cached block is still reported.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define TL_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TL_DETAIL_ASAN 1
#endif
#endif
#ifdef TL_DETAIL_ASAN
#include <sanitizer/asan_interface.h>
#define TL_DETAIL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define TL_DETAIL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define TL_DETAIL_POISON(p, n) ((void)(p), (void)(n))
#define TL_DETAIL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace tl {

/// Memory statistics of tensor storage (tl::memory_stats() in tl/core/memory.hpp). Bytes.
struct MemoryStats {
  std::size_t in_use = 0;          ///< live storage, each request rounded up to 64 bytes
  std::size_t peak_in_use = 0;     ///< highest in_use since start or reset_peak_memory_stats()
  std::size_t cached = 0;          ///< freed large blocks kept for reuse
  std::size_t reserved = 0;        ///< held from the system: live blocks at their capacity, plus cached
  std::size_t peak_reserved = 0;   ///< highest reserved since start or reset_peak_memory_stats()
  std::size_t cache_hits = 0;      ///< large requests served from the cache
  std::size_t cache_misses = 0;    ///< large requests that went to the system
  std::size_t cache_releases = 0;  ///< cached blocks given back to the system (cap, footprint, empty_cache)
};

namespace detail {

constexpr std::size_t kAlignment = 64;
/// Blocks at least this large are cached; smaller ones are cheap for malloc (no mmap, no page faults).
constexpr std::size_t kCacheMinBytes = std::size_t(64) << 10;
constexpr std::size_t kNoCacheLimit = std::numeric_limits<std::size_t>::max();

/// The smallest size class >= bytes (bytes >= kCacheMinBytes): 8 classes per power of two.
inline std::size_t size_class(std::size_t bytes) {
  std::size_t top = 1;
  while (top <= bytes / 2) top *= 2;  // the highest power of two <= bytes
  const std::size_t step = top / 8;
  return (bytes + step - 1) / step * step;
}

struct alignas(kAlignment) BlockHeader {
  std::size_t capacity;  // usable bytes after the header
  std::size_t bytes;     // the request rounded up to kAlignment (what in_use counts)
};
static_assert(sizeof(BlockHeader) == kAlignment);

class CachingPool {
 public:
  CachingPool() {
    if (const char* e = std::getenv("TL_CACHING_ALLOCATOR")) enabled_ = !(e[0] == '0' && e[1] == '\0');
    if (const char* e = std::getenv("TL_CACHE_LIMIT_MB")) limit_ = std::strtoull(e, nullptr, 10) << 20;
  }

  void* allocate(std::size_t request) {
    if (request > std::numeric_limits<std::size_t>::max() / 4) throw std::bad_alloc();  // no wrap-around below
    std::size_t bytes = (request + kAlignment - 1) / kAlignment * kAlignment;
    if (bytes == 0) bytes = kAlignment;
    if (bytes < kCacheMinBytes) {
      char* raw = static_cast<char*>(std::aligned_alloc(kAlignment, kAlignment + bytes));
      if (!raw) throw std::bad_alloc();
      std::lock_guard<std::mutex> lock(mutex_);
      count_in(bytes, bytes);
      return finish(raw, bytes, bytes);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t cap = enabled_ ? size_class(bytes) : bytes;
    if (enabled_) {
      char* raw = take(bytes);
      // When a fresh block would cost a release of cached ones, a larger cached block is better:
      // its pages are mapped already, a fresh block's would be faulted in and zeroed again.
      if (!raw && over_budget(cap)) raw = take_larger(bytes);
      if (raw) {
        ++hits_;
        in_use_ += bytes;
        note_peaks();
        return finish(raw, header(raw)->capacity, bytes);
      }
      ++misses_;
    }
    make_room(cap);
    char* raw = static_cast<char*>(std::aligned_alloc(kAlignment, kAlignment + cap));
    if (!raw && cached_ > 0) {  // out of memory: give the cache back and try once more
      release_while([] { return true; });
      raw = static_cast<char*>(std::aligned_alloc(kAlignment, kAlignment + cap));
    }
    if (!raw) throw std::bad_alloc();
    count_in(bytes, cap);
    return finish(raw, cap, bytes);
  }

  void free(void* p) {
    if (!p) return;
    char* raw = static_cast<char*>(p) - kAlignment;
    TL_DETAIL_UNPOISON(raw, kAlignment);
    const BlockHeader h = *header(raw);
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_ -= h.bytes;
    if (enabled_ && h.capacity >= kCacheMinBytes && size_class(h.capacity) == h.capacity && h.capacity <= limit_) {
      TL_DETAIL_POISON(raw, kAlignment + h.capacity);
      free_[h.capacity].push_back({raw, ++clock_});
      cached_ += h.capacity;
      release_while([&] { return cached_ > limit_; });  // the oldest go first
      return;
    }
    reserved_ -= h.capacity;
    system_free(raw, h.capacity);
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {in_use_, peak_in_use_, cached_, reserved_, peak_reserved_, hits_, misses_, releases_};
  }
  void reset_peaks() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_in_use_ = in_use_;
    peak_reserved_ = reserved_;
  }
  /// Releases every cached block and restarts the footprint bound from what is live now (a new
  /// phase of the program, e.g. evaluation after training, learns its own peak).
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_while([] { return true; });
    hwm_live_ = reserved_;
  }
  void set_enabled(bool on) {
    std::lock_guard<std::mutex> lock(mutex_);
    enabled_ = on && !shut_down_;
    if (!enabled_) release_while([] { return true; });
  }
  bool enabled() {
    std::lock_guard<std::mutex> lock(mutex_);
    return enabled_;
  }
  void set_limit(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    release_while([&] { return cached_ > limit_; });
  }
  std::size_t limit() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }
  /// At program exit: release the cache; blocks freed later (static tensors) go to the system.
  void shut_down() {
    std::lock_guard<std::mutex> lock(mutex_);
    shut_down_ = true;
    enabled_ = false;
    release_while([] { return true; });
  }

 private:
  struct Cached {
    char* raw;
    std::uint64_t freed_at;  // clock_ at free: the oldest is released first
  };

  static BlockHeader* header(char* raw) { return reinterpret_cast<BlockHeader*>(raw); }

  char* finish(char* raw, std::size_t cap, std::size_t bytes) {
    TL_DETAIL_UNPOISON(raw, kAlignment + bytes);
    *header(raw) = {cap, bytes};
    TL_DETAIL_POISON(raw, kAlignment);  // the header: a write just before the data is reported
    return raw + kAlignment;
  }

  void count_in(std::size_t bytes, std::size_t cap) {
    in_use_ += bytes;
    reserved_ += cap;
    note_peaks();
  }
  void note_peaks() {
    if (in_use_ > peak_in_use_) peak_in_use_ = in_use_;
    if (reserved_ - cached_ > hwm_live_) hwm_live_ = reserved_ - cached_;
    if (reserved_ > peak_reserved_) peak_reserved_ = reserved_;
  }

  /// A cached block for `bytes`: the most recently freed of its class (warm in cache), else one of
  /// a class at most 25% larger (a few shapes differ slightly between layers).
  char* take(std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    auto it = free_.lower_bound(cls);
    if (it == free_.end() || it->first > cls + cls / 4) return nullptr;
    char* raw = it->second.back().raw;
    it->second.pop_back();
    cached_ -= it->first;
    if (it->second.empty()) free_.erase(it);
    TL_DETAIL_UNPOISON(raw, kAlignment);
    return raw;
  }

  /// The smallest cached block of a class >= bytes and at most twice its class (most recently
  /// freed of that class). The bound keeps a small tensor from pinning a much larger block.
  char* take_larger(std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    auto it = free_.lower_bound(cls);
    if (it == free_.end() || it->first > 2 * cls) return nullptr;
    char* raw = it->second.back().raw;
    it->second.pop_back();
    cached_ -= it->first;
    if (it->second.empty()) free_.erase(it);
    TL_DETAIL_UNPOISON(raw, kAlignment);
    return raw;
  }

  /// The footprint allowed when `cap` more bytes are needed: 1.25x the highest capacity of live
  /// blocks so far (the program's own peak, counted as the blocks it held, size-class rounding
  /// included), or of the live blocks plus cap if that is higher.
  std::size_t budget_for(std::size_t cap) const {
    const std::size_t live = reserved_ - cached_;
    const std::size_t need = live + cap > hwm_live_ ? live + cap : hwm_live_;
    return need + need / 4;
  }
  bool over_budget(std::size_t cap) const { return reserved_ + cap > budget_for(cap); }

  /// Before taking `cap` more bytes from the system: release the least recently freed cached blocks
  /// while the footprint would exceed the budget.
  void make_room(std::size_t cap) {
    const std::size_t budget = budget_for(cap);
    release_while([&] { return reserved_ + cap > budget; });
  }

  template <class Cond>
  void release_while(Cond cond) {
    while (cached_ > 0 && cond()) {
      auto oldest = free_.begin();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->second.front().freed_at < oldest->second.front().freed_at) oldest = it;
      char* raw = oldest->second.front().raw;
      const std::size_t cap = oldest->first;
      oldest->second.pop_front();
      if (oldest->second.empty()) free_.erase(oldest);
      cached_ -= cap;
      reserved_ -= cap;
      ++releases_;
      system_free(raw, cap);
    }
  }

  static void system_free(char* raw, std::size_t cap) {
    TL_DETAIL_UNPOISON(raw, kAlignment + cap);
    std::free(raw);
  }

  std::mutex mutex_;
  std::map<std::size_t, std::deque<Cached>> free_;  // class -> blocks, most recently freed last
  bool enabled_ = true, shut_down_ = false;
  std::size_t limit_ = kNoCacheLimit;  // cap on cached bytes
  std::size_t in_use_ = 0, peak_in_use_ = 0, hwm_live_ = 0, cached_ = 0, reserved_ = 0, peak_reserved_ = 0;
  std::size_t hits_ = 0, misses_ = 0, releases_ = 0;
  std::uint64_t clock_ = 0;
};

struct PoolReleaseAtExit {
  CachingPool* pool;
  ~PoolReleaseAtExit() { pool->shut_down(); }
};

/// The process-wide pool. Never destroyed: tensors may be freed during static destruction, after a
/// static pool would be gone. Its cache is released at exit by a static constructed with it on
/// first use, so destroyed after every static whose construction allocated storage; blocks freed
/// after that go straight to the system. LeakSanitizer sees no cached block, and the pool itself
/// stays reachable from its static pointer.
inline CachingPool& caching_pool() {
  static CachingPool* const pool = new CachingPool();
  static PoolReleaseAtExit release_at_exit{pool};
  return *pool;
}

inline void* allocate_bytes(std::size_t bytes) { return caching_pool().allocate(bytes); }

inline void free_bytes(void* p) { caching_pool().free(p); }

}  // namespace detail
}  // namespace tl
