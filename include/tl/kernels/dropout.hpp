#pragma once
// Inverted dropout: each element is kept with probability 1 - p and scaled by 1 / (1 - p), so the
// expected value is unchanged and evaluation needs no rescaling.
#include <cstdint>

#include "tl/core/generator.hpp"

namespace tl::kernels {

/// mask[i] = 0 with probability p, else 1 / (1 - p); draws n uniforms from gen in order.
template <class T>
void dropout_mask(T* mask, int64_t n, double p, Generator& gen) {
  const T keep = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  for (int64_t i = 0; i < n; ++i) mask[i] = gen.uniform() < p ? T(0) : keep;
}

/// out[i] = x[i] * mask[i].
template <class T>
void apply_mask(const T* x, const T* mask, T* out, int64_t n) {
#pragma omp parallel for simd if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * mask[i];
}

}  // namespace tl::kernels
