#pragma once
// The optimizer and scheduler references made by tests/data/make_optim_reference.py.
#include "support/ref_file.hpp"

namespace tl::test {

/// The reference tensor named k in optim_ref.bin (read once).
inline Tensor<double> optim_ref(const std::string& k) {
  static const auto r = read_ref(data_path("optim_ref.bin"));
  auto it = r.find(k);
  TL_CHECK(it != r.end(), "optim_ref.bin has no '", k, "'");
  return it->second;
}

}  // namespace tl::test
