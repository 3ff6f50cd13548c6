#pragma once
// Strided 1x1 convolutions (ResNet's downsampling shortcuts) read only every stride-th pixel of
// every stride-th row: they equal a stride-1 1x1 convolution of the image subsampled to the
// output's P x Q. Copying that subsample once (a quarter of the image at stride 2) lets the
// stride-1 kernels run on it, in place and with the pixels of a map contiguous, instead of a
// kernel reading the image with a stride.
#include <cstdint>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/copy_run.hpp"
#include "tl/kernels/gemm_parallel.hpp"

TL_KERNELS_BEGIN

/// Whether p's forward should run on the subsampled image: unpadded strided 1x1 layers, but not
/// those with 8x8 or smaller outputs and fewer than 512 outputs, where the copy costs more than it
/// saves (the indirect GEMM reads the strided pixels as well as the copied ones). Measured
/// (docs/performance.md, 2 threads, AVX-512, against the kernels that ran before): 1.04-1.36x on
/// the stride-2 shortcuts of ResNet-18 to -152 at 224x224, 1.05-1.30x on 32x64x32x32 k128; 0.85x
/// and 0.95x on 32x128x16x16 k256 (8x8 outputs).
inline bool conv2d_subsample_preferred(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && (p.stride_h > 1 || p.stride_w > 1) && p.pad_h == 0 && p.pad_w == 0 &&
         (p.P() * p.Q() > 64 || p.K >= 512);
}

/// p with the stride taken out: a stride-1 1x1 convolution of the P x Q subsampled image.
inline Conv2dParams subsampled(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.H = p.P();
  q.W = p.Q();
  q.stride_h = q.stride_w = 1;
  return q;
}

/// xs (N x C x P x Q) = the pixels (p*stride_h, q*stride_w) of x (N x C x H x W).
template <class T>
void subsample_image(const Conv2dParams& p, const T* x, T* xs) {
  const int64_t P = p.P(), Q = p.Q(), sh = p.stride_h, sw = p.stride_w;
#pragma omp parallel for schedule(static) num_threads(kernel_threads()) if (p.N * p.C * P * Q > 32768)
  for (int64_t nc = 0; nc < p.N * p.C; ++nc)
    for (int64_t i = 0; i < P; ++i) copy_strided_run(xs + (nc * P + i) * Q, x + (nc * p.H + i * sh) * p.W, Q, sw);
}

TL_KERNELS_END
