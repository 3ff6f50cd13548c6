#pragma once
// The blocked GEMM loop nest (one thread's share of the work), in the style of BLIS/GotoBLAS:
//   for each depth block (KC):  for each column block (NC): pack B;  for each row block (MC): get packed A;
//     for each NR column panel:  for each MR row panel:  micro-kernel on an MR x NR tile of C.
// Packing is delegated to callables, so convolution can pack straight from the image (im2col fused
// into packing) and a caller can hand in A packed once for all threads.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/gemm_ukernel.hpp"

TL_KERNELS_BEGIN

/// Where C lives: element (i, j) is at ptr[i * rs + col(j)], col(j) = coloff ? coloff[j] : j.
/// The column map lets C be, e.g., the N x K x P x Q output of a convolution whose GEMM columns run
/// over (image, pixel) pairs. coloff must be strictly increasing.
template <class T>
struct CView {
  T* ptr;
  int64_t rs;
  const int64_t* coloff = nullptr;
  int64_t col(int64_t j) const { return coloff ? coloff[j] : j; }
};

/// What to do to each finished element of C row r, while its tile is still in L1:
///   v = v * scale[r] + shift[r] (either may be null: 1 and 0), then + the residual's element at
///   the same place (when residual is set), then max(v, 0) when relu.
/// A convolution's bias is shift; an inference BatchNorm after it is scale and shift; the end of a
/// residual block (bn(conv(x)) + shortcut, then ReLU) adds the shortcut as the residual.
/// residual has C's layout: the element for C's address out_base + i is residual[i].
template <class T>
struct Epilogue {
  const T* scale = nullptr;
  const T* shift = nullptr;
  bool relu = false;
  const T* residual = nullptr;
  const T* out_base = nullptr;
  bool active() const { return scale || shift || relu || residual; }
  /// The same epilogue for the rows from `r0` on.
  Epilogue from_row(int64_t r0) const {
    return {scale ? scale + r0 : nullptr, shift ? shift + r0 : nullptr, relu, residual, out_base};
  }
  /// Applies row r's transform to n consecutive values of C.
  void apply(T* v, int64_t n, int64_t r) const {
    const T a = scale ? scale[r] : T(1), b = shift ? shift[r] : T(0);
    if (scale) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) v[j] = v[j] * a;
    }
    if (shift) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) v[j] = v[j] + b;
    }
    if (residual) {
      const T* res = residual + (v - out_base);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) v[j] = v[j] + res[j];
    }
    if (relu) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) v[j] = v[j] > T(0) ? v[j] : T(0);
    }
  }
};

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// C[mc x nc] (+)= packed A (mc x kc) * packed B (kc x nc); c already points at the block's origin
/// (c.coloff too). Full tiles whose columns are contiguous in memory are written in place; edge and
/// scattered tiles go through a small local tile. ep (rows counted from the block's first row) is
/// applied to each tile once it is written.
template <class T>
void gemm_macro_kernel(int64_t mc, int64_t nc, int64_t kc, const T* ap, const T* bp, const CView<T>& c,
                       bool accumulate, const Epilogue<T>& ep = {}) {
  using UK = MicroKernel<T>;
  constexpr int MR = UK::mr, NR = UK::nr;
  alignas(64) T tile[MR * NR];
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min<int64_t>(NR, nc - jr);
    const bool contiguous = nr == NR && (!c.coloff || c.coloff[jr + NR - 1] - c.coloff[jr] == NR - 1);
    const T* bpanel = bp + jr * kc;
    for (int64_t ir = 0; ir < mc; ir += MR) {
      const int64_t mr = std::min<int64_t>(MR, mc - ir);
      const T* apanel = ap + ir * kc;
      if (contiguous && mr == MR) {
        T* ct = c.ptr + ir * c.rs + c.col(jr);
        UK::run(kc, apanel, bpanel, ct, c.rs, accumulate);
        if (ep.active())
          for (int64_t i = 0; i < MR; ++i) ep.apply(ct + i * c.rs, NR, ir + i);
        continue;
      }
      UK::run(kc, apanel, bpanel, tile, NR, false);
      for (int64_t i = 0; i < mr; ++i) {
        T* row = c.ptr + (ir + i) * c.rs;
        for (int64_t j = 0; j < nr; ++j) {
          T& dst = row[c.col(jr + j)];
          dst = accumulate ? dst + tile[i * NR + j] : tile[i * NR + j];
          if (ep.active()) ep.apply(&dst, 1, ir + i);
        }
      }
    }
  }
}

/// Single-threaded blocked GEMM: C[i, j] (+)= sum_d A[i, d] * B[d, j] for i < M, j < N, d < D.
///   pack_a(i0, mc, d0, kc) -> const T*   A[i0:i0+mc, d0:d0+kc] packed (may return a pre-packed block)
///   pack_b(j0, nc, d0, kc, T* dst)        packs B[d0:d0+kc, j0:j0+nc] into dst
/// accumulate=false overwrites C. ep is applied to each element of C once its sum is complete.
template <class T, class PackA, class PackB>
void gemm_blocked(int64_t M, int64_t N, int64_t D, PackA&& pack_a, PackB&& pack_b, const CView<T>& c,
                  bool accumulate, const Epilogue<T>& ep = {}) {
  constexpr int64_t KC = GemmBlocking::KC, MC = GemmBlocking::MC, NC = GemmBlocking::NC;
  if (D == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T& dst = c.ptr[i * c.rs + c.col(j)];
        if (!accumulate) dst = T(0);
        if (ep.active()) ep.apply(&dst, 1, i);
      }
    return;
  }
  T* bbuf = scratch<T>(Scratch::PackedB, KC * round_up(std::min(N, NC), MicroKernel<T>::nr));
  for (int64_t d0 = 0; d0 < D; d0 += KC) {
    const int64_t kc = std::min(KC, D - d0);
    const bool acc = accumulate || d0 > 0;
    for (int64_t j0 = 0; j0 < N; j0 += NC) {
      const int64_t nc = std::min(NC, N - j0);
      pack_b(j0, nc, d0, kc, bbuf);
      for (int64_t i0 = 0; i0 < M; i0 += MC) {
        const int64_t mc = std::min(MC, M - i0);
        const T* ap = pack_a(i0, mc, d0, kc);
        CView<T> cb{c.ptr + i0 * c.rs + (c.coloff ? 0 : j0), c.rs, c.coloff ? c.coloff + j0 : nullptr};
        gemm_macro_kernel(mc, nc, kc, ap, bbuf, cb, acc, d0 + kc >= D ? ep.from_row(i0) : Epilogue<T>{});
      }
    }
  }
}

TL_KERNELS_END
