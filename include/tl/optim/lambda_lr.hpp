#pragma once
// LambdaLR: lr = base_lr * lambda(epoch), one function for all groups or one per group.
#include <functional>

#include "tl/optim/lr_scheduler.hpp"

namespace tl::optim {

class LambdaLR : public LRScheduler {
 public:
  using Fn = std::function<double(int64_t)>;
  LambdaLR(OptimizerBase& opt, Fn lr_lambda) : LambdaLR(opt, std::vector<Fn>(opt.num_param_groups(), lr_lambda)) {}
  LambdaLR(OptimizerBase& opt, std::vector<Fn> lr_lambdas) : LRScheduler(opt), fns_(std::move(lr_lambdas)) {
    TL_CHECK(fns_.size() == opt.num_param_groups(), "LambdaLR: expected ", opt.num_param_groups(),
             " lr_lambdas (one per parameter group), got ", fns_.size());
    for (size_t g = 0; g < fns_.size(); ++g) TL_CHECK(bool(fns_[g]), "LambdaLR: lr_lambda ", g, " is empty");
    initial_step();
  }
  std::string name() const override { return "LambdaLR"; }

 protected:
  std::vector<double> get_lr() override {
    std::vector<double> lrs;
    for (size_t g = 0; g < fns_.size(); ++g) lrs.push_back(base_lrs_[g] * fns_[g](last_epoch_));
    return lrs;
  }

 private:
  std::vector<Fn> fns_;
};

}  // namespace tl::optim
