#pragma once
// Helpers for PyTorch-like module printouts (extra_repr).
#include <cmath>
#include <sstream>
#include <string>

namespace tl::nn::detail {

/// A double as Python prints it: 0.5 -> "0.5", 0 -> "0.0", 1e-05 -> "1e-05".
inline std::string repr_float(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  std::string r = s.str();
  if (std::isfinite(v) && r.find_first_of(".e") == std::string::npos) r += ".0";
  return r;
}

inline const char* repr_bool(bool b) { return b ? "True" : "False"; }

}  // namespace tl::nn::detail
