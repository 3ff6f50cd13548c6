// The caching allocator behind tensor storage (tl/core/allocator.hpp, tl/core/memory.hpp): reuse,
// alignment, the cap and the footprint bound, empty_cache, disabled mode, statistics, concurrent
// use from OpenMP threads, and tensor workloads whose in-use bytes are known.
#include <doctest/doctest.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <tl/tl.hpp>
#include <vector>

namespace {

using tl::detail::allocate_bytes;
using tl::detail::free_bytes;
constexpr std::size_t MiB = std::size_t(1) << 20;

/// Each test starts from an empty cache with caching on and no cap, and restores the settings.
struct FreshPool {
  bool was_enabled = tl::caching_allocator_enabled();
  std::size_t was_limit = tl::memory_cache_limit();
  FreshPool() {
    tl::set_caching_allocator_enabled(true);
    tl::set_memory_cache_limit(tl::detail::kNoCacheLimit);
    tl::empty_cache();
  }
  ~FreshPool() {
    tl::set_memory_cache_limit(was_limit);
    tl::set_caching_allocator_enabled(was_enabled);
  }
};

// Static tensors freed at exit, one constructed with the pool (freed before the cache is released)
// and one filled later (freed after it): the test program must exit cleanly, ASan/LSan included.
tl::Tensor<float> g_static_tensor = tl::zeros<float>({300, 300});
std::vector<tl::Tensor<float>> g_late_tensors;

}  // namespace

TEST_CASE("allocator: size classes round up by less than 12.5% and are stable") {
  using tl::detail::size_class;
  CHECK(size_class(64 << 10) == (64u << 10));
  CHECK(size_class((64 << 10) + 1) == (72u << 10));
  CHECK(size_class(MiB - 100) == MiB);
  CHECK(size_class(MiB + 1) == MiB + MiB / 8);
  for (std::size_t b = 64 << 10; b < (std::size_t(1) << 34); b = b * 9 / 7 + 4032) {
    const std::size_t c = size_class(b);
    CHECK(c >= b);
    CHECK(c - b < b / 8 + 1);
    CHECK(c % 64 == 0);
    CHECK(size_class(c) == c);
  }
}

TEST_CASE("allocator: a freed block is handed out again for its size class") {
  FreshPool fresh;
  const auto s0 = tl::memory_stats();
  void* p = allocate_bytes(MiB);
  free_bytes(p);
  void* q = allocate_bytes(MiB - 1000);  // same class
  CHECK(q == p);
  auto s1 = tl::memory_stats();
  CHECK(s1.cache_hits == s0.cache_hits + 1);
  CHECK(s1.cache_misses == s0.cache_misses + 1);
  void* r = allocate_bytes(MiB);  // the one cached block is in use: a new one
  CHECK(r != q);
  free_bytes(q);
  free_bytes(r);
  // A request may take a block of a class up to 25% larger (900 KiB -> class 960 KiB, block 1 MiB),
  // not a much larger one.
  void* small = allocate_bytes(900 << 10);
  CHECK((small == q || small == r));
  free_bytes(small);
  tl::empty_cache();
  void* hold = allocate_bytes(32 * MiB);  // a peak that leaves the footprint bound room for a fresh block
  void* big = allocate_bytes(4 * MiB);
  free_bytes(big);
  const auto before = tl::memory_stats();
  void* other = allocate_bytes(2 * MiB);
  CHECK(other != big);
  CHECK(tl::memory_stats().cache_hits == before.cache_hits);
  free_bytes(other);
  free_bytes(hold);
}

TEST_CASE("allocator: near the footprint bound a request reuses a cached block up to twice its class") {
  FreshPool fresh;  // empty_cache: the bound is learned again from here
  void* a = allocate_bytes(8 * MiB);
  void* b = allocate_bytes(8 * MiB);
  free_bytes(a);
  free_bytes(b);
  // 6 MiB: no cached block within 25% of it, and a fresh one would take the footprint over 1.25x
  // the peak (16 MiB): the most recently freed 8 MiB block is used instead of a release + fresh block.
  const auto s0 = tl::memory_stats();
  void* c = allocate_bytes(6 * MiB);
  CHECK(c == b);
  const auto s1 = tl::memory_stats();
  CHECK(s1.cache_hits == s0.cache_hits + 1);
  CHECK(s1.cache_releases == s0.cache_releases);
  CHECK(s1.reserved == s0.reserved);
  std::memset(c, 1, 6 * MiB);
  free_bytes(c);
  // 3 MiB: the 8 MiB blocks are more than twice its class: not taken (a fresh block, after releases).
  void* d = allocate_bytes(3 * MiB);
  CHECK((d != a && d != b));
  const auto s2 = tl::memory_stats();
  CHECK(s2.cache_misses == s1.cache_misses + 1);
  free_bytes(d);
}

TEST_CASE("allocator: every block is 64-byte aligned and writable to its end, fresh or reused") {
  FreshPool fresh;
  const std::size_t sizes[] = {1, 63, 64, 65, 1000, 4095, 65535, 65536, 65537, MiB, MiB + 3, 3 * MiB};
  for (int round = 0; round < 2; ++round) {  // the second round is served from the cache
    std::vector<void*> ps;
    for (std::size_t n : sizes) {
      void* p = allocate_bytes(n);
      CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
      std::memset(p, 0xab, n);
      ps.push_back(p);
    }
    for (void* p : ps) free_bytes(p);
  }
  CHECK(reinterpret_cast<std::uintptr_t>(tl::zeros<float>({3}).data()) % 64 == 0);
}

TEST_CASE("allocator: the cap keeps the most recently freed blocks") {
  FreshPool fresh;
  tl::set_memory_cache_limit(2 * MiB + MiB / 2);
  CHECK(tl::memory_cache_limit() == 2 * MiB + MiB / 2);
  void* a = allocate_bytes(MiB);
  void* b = allocate_bytes(MiB);
  void* c = allocate_bytes(MiB);
  const auto s0 = tl::memory_stats();
  free_bytes(a);
  free_bytes(b);
  free_bytes(c);  // over the cap: a, the oldest, goes back to the system
  const auto s1 = tl::memory_stats();
  CHECK(s1.cached == 2 * MiB);
  CHECK(s1.cache_releases == s0.cache_releases + 1);
  CHECK(s1.reserved == s0.reserved - MiB);
  void* d = allocate_bytes(MiB);
  CHECK(d == c);  // most recently freed first
  free_bytes(d);
  tl::set_memory_cache_limit(MiB / 2);  // lowering the cap releases at once
  CHECK(tl::memory_stats().cached == 0);
  void* e = allocate_bytes(MiB);
  free_bytes(e);  // larger than the cap: not cached
  CHECK(tl::memory_stats().cached == 0);
}

TEST_CASE("allocator: the cache's footprint stays within 1.25x the peak of live blocks") {
  FreshPool fresh;
  // One block alive at a time, of six different classes (16..36 MiB, larger than anything else
  // this program allocates): caching each class would hold ~156 MiB for a 36 MiB peak.
  const auto s0 = tl::memory_stats();
  for (int round = 0; round < 3; ++round)
    for (std::size_t k = 0; k < 6; ++k) {
      void* p = allocate_bytes((16 + 4 * k) * MiB);
      free_bytes(p);
    }
  const auto s1 = tl::memory_stats();
  CHECK(s1.cached <= (36 + 2) * MiB * 5 / 4);  // 2 MiB: whatever else is alive
  CHECK(s1.cached >= 16 * MiB);
  CHECK(s1.cache_releases > s0.cache_releases);
  CHECK(s1.in_use == s0.in_use);
}

TEST_CASE("allocator: empty_cache gives every cached block back") {
  FreshPool fresh;
  void* a = allocate_bytes(MiB);
  void* b = allocate_bytes(3 * MiB);
  free_bytes(a);
  free_bytes(b);
  const auto s0 = tl::memory_stats();
  CHECK(s0.cached == 4 * MiB);
  tl::empty_cache();
  const auto s1 = tl::memory_stats();
  CHECK(s1.cached == 0);
  CHECK(s1.reserved == s0.reserved - 4 * MiB);
  CHECK(s1.cache_releases == s0.cache_releases + 2);
  CHECK(s1.in_use == s0.in_use);
}

TEST_CASE("allocator: disabled, freed blocks go straight back to the system") {
  FreshPool fresh;
  void* hold = allocate_bytes(32 * MiB);  // a peak that leaves the footprint bound room (no releases)
  void* a = allocate_bytes(MiB);
  free_bytes(a);
  CHECK(tl::memory_stats().cached == MiB);
  tl::set_caching_allocator_enabled(false);
  CHECK_FALSE(tl::caching_allocator_enabled());
  CHECK(tl::memory_stats().cached == 0);  // disabling released the cache
  const auto s0 = tl::memory_stats();
  void* b = allocate_bytes(MiB);
  free_bytes(b);
  void* c = allocate_bytes(MiB);
  CHECK(reinterpret_cast<std::uintptr_t>(c) % 64 == 0);
  const auto s1 = tl::memory_stats();
  CHECK(s1.cache_hits == s0.cache_hits);
  CHECK(s1.in_use == s0.in_use + MiB);
  CHECK(s1.reserved == s0.reserved + MiB);  // the exact size, no class rounding
  tl::set_caching_allocator_enabled(true);
  free_bytes(c);  // allocated while disabled (1 MiB is a class size): cached now
  CHECK(tl::memory_stats().cached == MiB);
  void* d = allocate_bytes(MiB + 1000);  // class 1.125 MiB: not a block of MiB
  free_bytes(d);
  void* e = allocate_bytes(MiB - 64);
  CHECK(e == c);
  free_bytes(e);
  free_bytes(hold);
}

TEST_CASE("allocator: statistics count requests rounded to 64 bytes, classes for reserved") {
  FreshPool fresh;
  const auto s0 = tl::memory_stats();
  void* p = allocate_bytes(100000);  // 100032 in use, class 106496 (13 x 8 KiB) reserved
  auto s1 = tl::memory_stats();
  CHECK(s1.in_use == s0.in_use + 100032);
  CHECK(s1.reserved == s0.reserved + 106496);
  CHECK(s1.peak_in_use >= s1.in_use);
  CHECK(s1.peak_reserved >= s1.reserved);
  CHECK(s1.cache_misses == s0.cache_misses + 1);
  void* small = allocate_bytes(100);  // small: in use and reserved at 128, never cached
  auto s2 = tl::memory_stats();
  CHECK(s2.in_use == s1.in_use + 128);
  CHECK(s2.reserved == s1.reserved + 128);
  CHECK(s2.cache_misses == s1.cache_misses);
  free_bytes(small);
  free_bytes(p);
  auto s3 = tl::memory_stats();
  CHECK(s3.in_use == s0.in_use);
  CHECK(s3.cached == 106496);
  CHECK(s3.reserved == s0.reserved + 106496);
  tl::reset_peak_memory_stats();
  auto s4 = tl::memory_stats();
  CHECK(s4.peak_in_use == s4.in_use);
  CHECK(s4.peak_reserved == s4.reserved);
  free_bytes(nullptr);  // a no-op, like free(nullptr)
  CHECK(tl::memory_stats().in_use == s4.in_use);
  CHECK_THROWS_AS(allocate_bytes(std::numeric_limits<std::size_t>::max() - 10), std::bad_alloc);  // no wrap
  CHECK(tl::memory_stats().in_use == s4.in_use);
}

TEST_CASE("allocator: concurrent allocation and free from OpenMP threads, across threads") {
  FreshPool fresh;
  const auto s0 = tl::memory_stats();
  constexpr int kThreads = 4, kSlots = 16, kIters = 400;
  std::atomic<void*> slots[kSlots];
  for (auto& s : slots) s = nullptr;
  const std::size_t sizes[] = {100, 70000, 300000, 600000, MiB};  // at most ~20 MiB live
  std::atomic<int> bad{0};
  // A block carries its size and owner stamp in its first and last 16 bytes; whoever frees it checks.
  auto stamp = [](void* p, std::size_t n, std::uint64_t tag) {
    std::memcpy(p, &tag, 8);
    std::memcpy(static_cast<char*>(p) + 8, &n, 8);
    std::memcpy(static_cast<char*>(p) + n - 8, &tag, 8);
  };
  auto check_and_free = [&](void* p) {
    std::uint64_t tag, tail;
    std::size_t n;
    std::memcpy(&tag, p, 8);
    std::memcpy(&n, static_cast<char*>(p) + 8, 8);
    std::memcpy(&tail, static_cast<char*>(p) + n - 8, 8);
    if (tag != tail) bad.fetch_add(1);
    free_bytes(p);
  };
#pragma omp parallel num_threads(kThreads)
  {
    std::uint64_t rng = 12345u + 7919u * static_cast<std::uint64_t>(omp_get_thread_num());
    for (int i = 0; i < kIters; ++i) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      const std::size_t n = sizes[(rng >> 33) % 5];
      void* p = allocate_bytes(n);
      if (reinterpret_cast<std::uintptr_t>(p) % 64 != 0) bad.fetch_add(1);
      stamp(p, n, rng);
      // Swap into a shared slot: the previous occupant, allocated by any thread, is freed here.
      void* prev = slots[(rng >> 40) % kSlots].exchange(p);
      if (prev) check_and_free(prev);
      if (i % 7 == 0) tl::memory_stats();  // readers too
      if (omp_get_thread_num() == 0 && i % 100 == 99) tl::empty_cache();
    }
  }
  for (auto& s : slots)
    if (void* p = s.exchange(nullptr)) check_and_free(p);
  CHECK(bad.load() == 0);
  const auto s1 = tl::memory_stats();
  CHECK(s1.in_use == s0.in_use);
  CHECK(s1.cache_hits > s0.cache_hits);
}

TEST_CASE("allocator: tensor workloads, in-use bytes and peak as expected") {
  FreshPool fresh;
  tl::reset_peak_memory_stats();
  const auto s0 = tl::memory_stats();
  {
    auto a = tl::Tensor<float>::uninitialized({1000, 100});  // 400000 bytes (a multiple of 64)
    auto v = a.view({100, 1000});                            // a view: no new storage
    auto z = tl::zeros<float>({50, 50});                     // 10000 bytes, rounded to 10048
    CHECK(tl::memory_stats().in_use == s0.in_use + 400000 + 10048);
    auto r = v.relu();  // one new 400000-byte tensor
    CHECK(tl::memory_stats().in_use == s0.in_use + 800000 + 10048);
  }
  auto s1 = tl::memory_stats();
  CHECK(s1.in_use == s0.in_use);
  CHECK(s1.peak_in_use == s0.in_use + 800000 + 10048);

  // A training-like loop: after the first two steps every large block comes from the cache, and
  // nothing is left in use but the gradient. (The first backward's fresh gradient becomes w.grad
  // itself, so the second step may miss once for the block that left the pool that way.)
  auto w = tl::randn<float>({256, 512}).requires_grad_();  // 512 KiB
  auto x = tl::randn<float>({64, 256});
  const auto before = tl::memory_stats();
  std::size_t misses_after_two = 0;
  for (int step = 0; step < 5; ++step) {
    auto loss = x.matmul(w).relu().square().sum();
    loss.backward();
    w.grad().zero_();
    if (step == 1) misses_after_two = tl::memory_stats().cache_misses;
  }
  const auto after = tl::memory_stats();
  CHECK(after.cache_misses == misses_after_two);
  CHECK(after.cache_hits > before.cache_hits);
  CHECK(after.in_use == before.in_use + 256 * 512 * 4);  // w.grad
}

TEST_CASE("allocator: tensors alive at exit") {
  FreshPool fresh;
  g_late_tensors.push_back(tl::ones<float>({512, 512}));
  CHECK(g_static_tensor.numel() == 90000);
  CHECK(g_late_tensors.back().sum().item() == 512.0f * 512.0f);
}
