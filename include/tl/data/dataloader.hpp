#pragma once
// tl::data::DataLoader: batches [B, C, H, W] float + [B] int64 labels from a Dataset, shuffled per
// epoch, loaded and augmented on worker threads while the current batch trains.
//
//   tl::data::DataLoader loader(train_set, {.batch_size = 64, .shuffle = true, .num_workers = 2, .seed = 1},
//                               tl::data::Compose{tl::data::RandomCrop(28, 2), tl::data::RandomHorizontalFlip()});
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);
//     for (const auto& batch : loader) { ... batch.images, batch.labels ... }
//   }
//
// Determinism: the order of epoch e is a function of (seed, e), and sample i of epoch e is
// transformed with a Generator seeded from (seed, e, i). So batches are identical for any number
// of workers, and an epoch can be replayed (resume) from its number alone.
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tl/data/dataset.hpp"
#include "tl/data/transforms.hpp"

namespace tl::data {

struct Batch {
  Tensor<float> images;            // [B, C, H, W]
  Tensor<int64_t> labels;          // [B]
  std::vector<int64_t> indices;    // dataset indices of the samples
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;
  int num_workers = 0;       // 0: load in the calling thread
  int prefetch_factor = 2;   // batches in flight per worker (PyTorch's default)
  uint64_t seed = 0;
};

namespace detail {
/// splitmix64 finaliser: decorrelates nearby seeds.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return mix64(mix64(mix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}
}  // namespace detail

class DataLoader {
 public:
  DataLoader(Dataset::Ptr dataset, DataLoaderOptions options = {}, TransformFn transform = {})
      : ds_(std::move(dataset)), opt_(options), transform_(std::move(transform)) {
    TL_CHECK(ds_ != nullptr, "DataLoader: null dataset");
    TL_CHECK(opt_.batch_size > 0, "DataLoader: batch_size must be positive, got ", opt_.batch_size);
    TL_CHECK(opt_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ", opt_.num_workers);
    TL_CHECK(opt_.prefetch_factor > 0, "DataLoader: prefetch_factor must be positive, got ", opt_.prefetch_factor);
  }
  ~DataLoader() { run_.reset(); }
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Batches per epoch (len(loader)).
  int64_t size() const {
    const int64_t n = ds_->size(), b = opt_.batch_size;
    return opt_.drop_last ? n / b : (n + b - 1) / b;
  }
  const Dataset& dataset() const { return *ds_; }
  const DataLoaderOptions& options() const { return opt_; }
  /// The epoch the next begin() runs; each begin() then advances it by one.
  void set_epoch(int64_t e) { epoch_ = e; }
  int64_t epoch() const { return epoch_; }

  /// The sample order of an epoch: 0..n-1, or a permutation seeded by (seed, epoch).
  std::vector<int64_t> order(int64_t epoch) const {
    std::vector<int64_t> idx(static_cast<size_t>(ds_->size()));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    if (opt_.shuffle) {
      Generator g(detail::sample_seed(opt_.seed, epoch, -1));
      for (size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[static_cast<size_t>(g.randint(int64_t(i)))]);
    }
    return idx;
  }

  /// Batch b of an epoch with that epoch's order, built in the calling thread.
  Batch make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t b) const {
    const int64_t n = static_cast<int64_t>(order.size());
    const int64_t start = b * opt_.batch_size, stop = std::min(n, start + opt_.batch_size);
    TL_CHECK(start < stop, "DataLoader: batch ", b, " is out of range");
    Batch batch;
    for (int64_t k = start; k < stop; ++k) {
      const int64_t i = order[static_cast<size_t>(k)];
      Example ex = ds_->get(i);
      if (transform_) {
        Generator g(detail::sample_seed(opt_.seed, epoch, i));
        ex.image = transform_(ex.image, g);
      }
      if (k == start) {
        Shape s = ex.image.shape();
        s.insert(s.begin(), stop - start);
        batch.images = Tensor<float>::uninitialized(s);
        batch.labels = Tensor<int64_t>::uninitialized({stop - start});
      }
      const Shape& want = batch.images.shape();
      TL_CHECK(ex.image.dim() + 1 == batch.images.dim() &&
                   std::equal(want.begin() + 1, want.end(), ex.image.shape().begin()),
               "DataLoader: sample ", i, " of ", ds_->name(), " has shape ", shape_str(ex.image.shape()),
               " but the batch's first sample has ", shape_str(Shape(want.begin() + 1, want.end())),
               "; add a Resize/CenterCrop transform so all images have one size");
      auto img = ex.image.is_contiguous() ? ex.image : ex.image.to<float>();
      const int64_t per = img.numel();
      std::copy(img.data(), img.data() + per, batch.images.data() + (k - start) * per);
      batch.labels.data()[k - start] = ex.label;
      batch.indices.push_back(i);
    }
    return batch;
  }

 private:
  // One epoch in flight: workers build batches k = 0, 1, ... ahead of the consumer, at most
  // `capacity` beyond the one it takes next; the consumer takes them in order.
  struct Run {
    const DataLoader* dl;
    int64_t epoch, num_batches, capacity;
    std::vector<int64_t> order;
    std::mutex m;
    std::condition_variable produced, consumed;
    int64_t next_to_make = 0, next_to_take = 0;
    struct Slot {
      Batch batch;
      std::exception_ptr error;
    };
    std::map<int64_t, Slot> ready;
    bool stop = false;
    std::vector<std::thread> threads;

    Run(const DataLoader* d, int64_t e) : dl(d), epoch(e), num_batches(d->size()), order(d->order(e)) {
      capacity = int64_t(d->opt_.num_workers) * d->opt_.prefetch_factor;
      for (int w = 0; w < d->opt_.num_workers; ++w) threads.emplace_back([this] { work(); });
    }
    ~Run() {
      {
        std::lock_guard<std::mutex> l(m);
        stop = true;
      }
      consumed.notify_all();
      for (auto& t : threads) t.join();
    }
    void work() {
      while (true) {
        int64_t k;
        {
          std::unique_lock<std::mutex> l(m);
          consumed.wait(l, [&] { return stop || next_to_make >= num_batches || next_to_make < next_to_take + capacity; });
          if (stop || next_to_make >= num_batches) return;
          k = next_to_make++;
        }
        Slot s;
        try {
          s.batch = dl->make_batch(order, epoch, k);
        } catch (...) {
          s.error = std::current_exception();
        }
        {
          std::lock_guard<std::mutex> l(m);
          ready.emplace(k, std::move(s));
        }
        produced.notify_all();
      }
    }
    Batch take(int64_t k) {
      if (threads.empty()) return dl->make_batch(order, epoch, k);
      std::unique_lock<std::mutex> l(m);
      produced.wait(l, [&] { return ready.count(k) != 0; });
      Slot s = std::move(ready.at(k));
      ready.erase(k);
      next_to_take = k + 1;
      l.unlock();
      consumed.notify_all();
      if (s.error) std::rethrow_exception(s.error);
      return std::move(s.batch);
    }
  };

 public:
  /// An input iterator over one epoch's batches.
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    const Batch& operator*() const { return batch_; }
    const Batch* operator->() const { return &batch_; }
    Iterator& operator++() {
      if (++k_ < run_->num_batches) batch_ = run_->take(k_);
      else batch_ = Batch{};
      return *this;
    }
    bool operator==(const Iterator& o) const { return k_ == o.k_; }
    bool operator!=(const Iterator& o) const { return k_ != o.k_; }
    /// Position in the epoch (0-based batch number).
    int64_t index() const { return k_; }

   private:
    friend class DataLoader;
    Iterator(Run* run, int64_t k) : run_(run), k_(k) {
      if (run_ && k_ < run_->num_batches) batch_ = run_->take(k_);
    }
    Run* run_ = nullptr;
    int64_t k_ = 0;
    Batch batch_;
  };

  /// Starts epoch epoch() (stopping any unfinished one) and advances epoch() for the next call.
  Iterator begin() {
    run_.reset();
    run_ = std::make_unique<Run>(this, epoch_++);
    return Iterator(run_.get(), 0);
  }
  Iterator end() const { return Iterator(nullptr, size()); }

 private:
  Dataset::Ptr ds_;
  DataLoaderOptions opt_;
  TransformFn transform_;
  int64_t epoch_ = 0;
  std::unique_ptr<Run> run_;
};

}  // namespace tl::data
