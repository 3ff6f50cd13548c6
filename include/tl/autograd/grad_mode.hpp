#pragma once
// Whether ops record the graph: on by default, off inside a NoGradGuard (per thread).
#include "tl/core/tensor.hpp"

namespace tl {

namespace detail {
inline bool& grad_mode_flag() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

struct GradMode {
  static bool is_enabled() { return detail::grad_mode_flag(); }
  static void set_enabled(bool on) { detail::grad_mode_flag() = on; }
};

/// Disables graph recording in its scope (like torch::NoGradGuard).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// Re-enables graph recording in its scope.
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

template <class T>
void Tensor<T>::check_inplace(const char* op) const {
  TL_CHECK(!(GradMode::is_enabled() && requires_grad() && is_leaf()), op,
           ": in-place change of a leaf tensor that requires grad; do it under tl::NoGradGuard");
}

}  // namespace tl
