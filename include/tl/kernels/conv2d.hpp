#pragma once
// Convolution entry points used by ops/conv2d.hpp. Each picks the fastest kernel available for
// the shape and type; the reference kernels (conv2d_ref.hpp) are the fallback and the oracle.
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_ref.hpp"

namespace tl::kernels {

template <class T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  conv2d_forward_ref(p, x, w, b, y);
}

template <class T>
void conv2d_backward_data(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  conv2d_backward_data_ref(p, dy, w, dx);
}

template <class T>
void conv2d_backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  conv2d_backward_weight_ref(p, x, dy, dw, db);
}

}  // namespace tl::kernels
