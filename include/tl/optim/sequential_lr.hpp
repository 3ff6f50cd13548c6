#pragma once
// SequentialLR: runs schedulers one after another, switching at the milestone epochs (e.g. a
// LinearLR warm-up, then CosineAnnealingLR). PyTorch's semantics: all schedulers share the
// optimizer's base lrs; at a milestone the next scheduler restarts from epoch 0 (closed form).
//
//   auto warm = std::make_shared<tl::optim::LinearLR>(opt, 0.1, 1.0, 5);
//   auto cos = std::make_shared<tl::optim::CosineAnnealingLR>(opt, 95);
//   tl::optim::SequentialLR sched(opt, {warm, cos}, {5});
#include <algorithm>
#include <memory>

#include "tl/optim/lr_scheduler.hpp"

namespace tl::optim {

class SequentialLR : public LRScheduler {
 public:
  SequentialLR(OptimizerBase& opt, std::vector<std::shared_ptr<LRScheduler>> schedulers, std::vector<int64_t> milestones)
      : LRScheduler(opt), scheds_(std::move(schedulers)), milestones_(std::move(milestones)) {
    TL_CHECK(!scheds_.empty(), "SequentialLR: expected at least one scheduler");
    for (size_t i = 0; i < scheds_.size(); ++i) {
      TL_CHECK(scheds_[i] != nullptr, "SequentialLR: scheduler ", i, " is null");
      TL_CHECK(&scheds_[i]->opt_ == &opt, "SequentialLR: scheduler ", i,
               " belongs to another optimizer; all must use the one passed in");
    }
    TL_CHECK(milestones_.size() + 1 == scheds_.size(), "SequentialLR: expected ", scheds_.size() - 1,
             " milestones (one fewer than the ", scheds_.size(), " schedulers), got ", milestones_.size());
    // Undo the schedulers' initial steps: restart from the base lrs with the first one.
    for (size_t g = 0; g < opt.num_param_groups(); ++g) opt.set_lr(g, *opt.initial_lr(g));
    for (auto& s : scheds_) --s->last_epoch_;
    scheds_[0]->initial_step();
    last_epoch_ = 0;
    last_lr_ = scheds_[0]->last_lr_;
  }
  std::string name() const override { return "SequentialLR"; }

  void step() override {
    ++step_count_;
    ++last_epoch_;
    const auto idx = size_t(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin());
    auto& s = *scheds_[idx];
    if (idx > 0 && milestones_[idx - 1] == last_epoch_) s.step(int64_t{0});
    else s.step();
    last_lr_ = s.last_lr_;
  }

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }  // unused: step() delegates
  void save(const Writer& w, const std::string& prefix) const override {
    w(prefix + "last_epoch", {double(last_epoch_)}, true, true);
    w(prefix + "last_lr", last_lr_, false, false);
    for (size_t i = 0; i < scheds_.size(); ++i) scheds_[i]->save(w, prefix + "schedulers." + std::to_string(i) + ".");
  }
  std::function<void()> prepare_load(const Reader& r, const std::string& prefix) override {
    int64_t last_epoch = read_count(r, prefix + "last_epoch");
    auto last = r(prefix + "last_lr", opt_.num_param_groups());
    std::vector<std::function<void()>> commits;
    for (size_t i = 0; i < scheds_.size(); ++i)
      commits.push_back(scheds_[i]->prepare_load(r, prefix + "schedulers." + std::to_string(i) + "."));
    return [=, this] {
      last_epoch_ = last_epoch;
      last_lr_ = last;
      for (auto& c : commits) c();
    };
  }

 private:
  std::vector<std::shared_ptr<LRScheduler>> scheds_;
  std::vector<int64_t> milestones_;
};

}  // namespace tl::optim
