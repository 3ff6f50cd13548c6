#pragma once
// Which task each step of a multi-task epoch trains, reproducibly: task_schedule() (multitask.hpp)
// with a generator seeded from (seed, epoch), so epoch e's order is a function of the two alone (a
// resumed run replays it) and different epochs mix differently.
//
//   tl::transfer::TaskBatchScheduler sched({loader_a.size(), loader_b.size()}, TaskMixing::Proportional, seed);
//   for (size_t task : sched.epoch(e)) { ...next batch of that task... }
//
// RoundRobin: a0 b0 a1 b1 ... (a task that ran out is skipped); every task gets its turn equally
// often while it has batches. Proportional: all batches of the epoch, shuffled together, so each
// task's share of any stretch of steps is about its share of the data.
#include <cstdint>
#include <string>
#include <vector>

#include "tl/core/generator.hpp"
#include "tl/transfer/multitask.hpp"

namespace tl::transfer {

class TaskBatchScheduler {
 public:
  TaskBatchScheduler(std::vector<int64_t> batches_per_task, TaskMixing mixing, uint64_t seed = 0)
      : batches_(std::move(batches_per_task)), mixing_(mixing), seed_(seed) {
    TL_CHECK(!batches_.empty(), "transfer::TaskBatchScheduler: no tasks");
    for (auto b : batches_) TL_CHECK(b >= 0, "transfer::TaskBatchScheduler: negative batch count ", b);
  }

  /// The task index of every step of epoch e (all batches of every task, once each).
  std::vector<size_t> epoch(int64_t e) const {
    Generator gen(epoch_seed(e));
    return task_schedule(batches_, mixing_, gen);
  }

  /// Steps per epoch: the sum of the tasks' batch counts.
  int64_t steps_per_epoch() const {
    int64_t s = 0;
    for (auto b : batches_) s += b;
    return s;
  }
  /// Each task's share of an epoch's steps.
  std::vector<double> proportions() const {
    std::vector<double> p;
    const double total = static_cast<double>(steps_per_epoch());
    for (auto b : batches_) p.push_back(total > 0 ? static_cast<double>(b) / total : 0.0);
    return p;
  }
  const std::vector<int64_t>& batches_per_task() const { return batches_; }
  TaskMixing mixing() const { return mixing_; }

 private:
  uint64_t epoch_seed(int64_t e) const {
    // splitmix64 of (seed, epoch): nearby seeds and epochs give unrelated orders.
    uint64_t x = seed_ ^ (0x9e3779b97f4a7c15ull * (static_cast<uint64_t>(e) + 1));
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  std::vector<int64_t> batches_;
  TaskMixing mixing_;
  uint64_t seed_;
};

/// "round-robin" / "proportional" -> TaskMixing (for command lines).
inline TaskMixing task_mixing_from_name(const std::string& name) {
  if (name == "round-robin" || name == "round_robin" || name == "roundrobin") return TaskMixing::RoundRobin;
  if (name == "proportional") return TaskMixing::Proportional;
  tl::detail::fail("transfer::task_mixing_from_name: unknown mixing '", name, "' (expected round-robin or proportional)");
}

}  // namespace tl::transfer
