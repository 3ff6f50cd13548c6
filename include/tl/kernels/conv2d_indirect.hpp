#pragma once
// Convolution on small maps as an indirect GEMM, with the output positions as the GEMM's rows:
//   Y_g^T (positions x Kg) = X_rows (positions x taps) * W_g^T (taps x Kg)
// Row i of X_rows is read through a pointer to the window of output position i (in the zero-padded
// image) and the taps d = (c, r, s) through the offsets c*plane + r*dil_h*Wp + s*dil_w, so no
// im2col copy is made (gemm_ukernel_rows.hpp, run_indirect). W^T is packed in NR-channel panels,
// a depth block at a time by the task that uses it (no pass over all of W before the products).
//
// Why: on maps of 8x8 and less the implicit GEMM (conv2d_implicit.hpp) computes positions it then
// drops (the Wp - Q wrap columns of every row: 15 of 64 on a 7x7 map), and the packed GEMM has few
// columns (392 for 8 images of 7x7). Here every computed row is an output position, positions of
// all images share a tile, and any stride is a different pointer per row. The price is a
// transposed store of Y^T into NCHW y (one value per Cg*R*S multiply-adds).
#include <algorithm>
#include <cstdint>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_ukernel_rows.hpp"
#include "tl/kernels/transpose_block.hpp"

TL_KERNELS_BEGIN

/// Packs taps [d0, d0+dn) of channel panel kp of W_g^T (taps x Kg; wg is Kg x D) as [dn][NR],
/// zero past Kg.
template <int NR, class T>
void pack_weight_t(const T* wg, int64_t Kg, int64_t D, int64_t kp, int64_t d0, int64_t dn, T* dst) {
  pack_rows_transposed<NR>(wg + kp * NR * D + d0, D, std::min<int64_t>(NR, Kg - kp * NR), dn, dst);
}

/// How conv2d_forward_indirect reads w: as the K x Cg x R x S weight (Forward), or as each group's
/// W_g^T, D x Kg (Transposed): the layout a 1x1 layer's weight has for its own backward data, which
/// is then packed with row copies instead of transposes.
enum class IndirectWeights { Forward, Transposed };

/// Packs taps [d0, d0+dn) of channel panel kp of W_g^T given as it is (wg^T is D x Kg), zero past Kg.
template <int NR, class T>
void pack_weight_t_rows(const T* wgt, int64_t Kg, int64_t kp, int64_t d0, int64_t dn, T* dst) {
  const int64_t k0 = kp * NR, cols = std::min<int64_t>(NR, Kg - k0);
  for (int64_t d = d0; d < d0 + dn; ++d) {
    T* out = dst + (d - d0) * NR;
    std::copy(wgt + d * Kg + k0, wgt + d * Kg + k0 + cols, out);
    std::fill(out + cols, out + NR, T(0));
  }
}

/// Whether the indirect GEMM should run p's forward: output maps of 64 positions or fewer, and
/// 3x3-like layers up to 14x14. Measured (docs/performance.md, 2 threads, AVX-512, against what ran
/// before): 1.36-1.47x on 7x7 maps (3x3 and 1x1 layers of ResNet's last stage, and the stride-2
/// layers that produce them), 1.07-1.77x on CIFAR's 8x8 maps, 1.7-2.6x on 4x4 to 1x1 maps,
/// 1.01-1.05x on 3x3 layers at 14x14 and 1.11x on the stride-2 one that produces 14x14; 0.87-0.88x
/// on 1x1 layers at 14x14 and 0.81-0.94x on larger maps, which stay with the implicit GEMM.
inline bool conv2d_indirect_preferred(const Conv2dParams& p) {
  const int64_t PQ = p.P() * p.Q();
  return PQ <= 64 || (p.R * p.S > 1 && PQ <= 196);
}

/// Whether p's backward data (a 1x1 layer, stride 1, unpadded) should run as the indirect forward
/// of dY with p's weight read as it is (IndirectWeights::Transposed). Measured (docs/performance.md,
/// 2 threads, AVX-512, against the packed GEMM that ran before): 1.24-1.54x on maps of 7x7 to 4x4
/// with up to 1024 positions in the batch (2.2x at batch 1), 0.89-1.17x at 1568; 0.62-0.96x on 8x8
/// maps, where the packed GEMM's 32-column tiles hold whole images.
inline bool conv2d_indirect_backward_data_preferred(const Conv2dParams& p) {
  const int64_t HW = p.H * p.W;
  return is_pointwise(p) && HW < 64 && p.N * HW <= 1024;
}

/// The image as the indirect kernels read it: x itself, or (padded) a zero-padded copy of every
/// plane; `tap` holds the offset of each tap d = (c, r, s) of a group, `pos` the offset of each
/// output position's window origin (n, p, q), image included. Element (tap d, position i) of the
/// im2col matrix of group g is base[g*Cg*plane + tap[d] + pos[i]].
template <class T>
struct IndirectImage {
  const Conv2dParams& p;
  bool padded;
  int64_t Wp, plane;
  const T* base;
  T* copy;
  int64_t *tap, *pos;

  /// Call outside the parallel region (allocates the shared buffers from the caller's scratch).
  IndirectImage(const Conv2dParams& q, const T* x)
      : p(q), padded(q.pad_h > 0 || q.pad_w > 0), Wp(q.W + 2 * q.pad_w), plane((q.H + 2 * q.pad_h) * Wp) {
    copy = padded ? scratch<T>(Scratch::Padded, p.N * p.C * plane) : nullptr;
    base = padded ? copy : x;
    const int64_t D = (p.C / p.groups) * p.R * p.S;
    tap = scratch<int64_t>(Scratch::Offsets, D + p.N * p.P() * p.Q());
    pos = tap + D;
  }
  /// Call inside the parallel region, from every thread: fills the copy and the tables (a barrier).
  void prepare(const T* x) {
    if (padded) {
#pragma omp for schedule(static) nowait
      for (int64_t nc = 0; nc < p.N * p.C; ++nc) {
        T* dst = copy + nc * plane;
        std::fill(dst, dst + plane, T(0));
        for (int64_t h = 0; h < p.H; ++h)
          std::copy(x + (nc * p.H + h) * p.W, x + (nc * p.H + h + 1) * p.W, dst + (h + p.pad_h) * Wp + p.pad_w);
      }
    }
#pragma omp single nowait
    {
      for (int64_t c = 0, d = 0; c < p.C / p.groups; ++c)
        for (int64_t r = 0; r < p.R; ++r)
          for (int64_t s = 0; s < p.S; ++s) tap[d++] = c * plane + r * p.dil_h * Wp + s * p.dil_w;
      for (int64_t n = 0, i = 0; n < p.N; ++n)
        for (int64_t oh = 0; oh < p.P(); ++oh)
          for (int64_t ow = 0; ow < p.Q(); ++ow) pos[i++] = n * p.C * plane + oh * p.stride_h * Wp + ow * p.stride_w;
    }
#pragma omp barrier
  }
  /// Group g's planes.
  const T* group(int64_t g) const { return base + g * (p.C / p.groups) * plane; }
};

/// C[n x NR] (+)= A * panel (kc x NR) with A(i, k) = base[row_off[i] + depth_off[k]]: the n rows
/// MR at a time (the last tile's surplus rows repeat its last row, computed but not stored).
template <class UK, class T>
void indirect_rows(const T* base, const int64_t* row_off, int64_t n, const int64_t* depth_off, int64_t kc,
                   const T* panel, T* c, bool accumulate) {
  constexpr int64_t MR = UK::mr, NR = UK::nr;
  for (int64_t it = 0; it < n; it += MR) {
    const T* rows[MR];
    for (int64_t i = 0; i < MR; ++i) rows[i] = base + row_off[std::min(it + i, n - 1)];
    UK::run_indirect(kc, rows, depth_off, panel, std::min(MR, n - it), c + it * NR, NR, accumulate);
  }
}

/// y = ep(conv(x, w)) for any geometry; ep per output channel; w laid out as `order` says.
template <class T>
void conv2d_forward_indirect(const Conv2dParams& p, const T* x, const T* w, T* y, const Epilogue<T>& ep = {},
                             IndirectWeights order = IndirectWeights::Forward) {
  using UK = RowsMicroKernel<T>;
  constexpr int64_t MR = UK::mr, NR = UK::nr, KC = GemmBlocking::KC;
  const int64_t G = p.groups, Kg = p.K / G, D = (p.C / G) * p.R * p.S;
  const int64_t PQ = p.P() * p.Q(), NPQ = p.N * PQ;
  const int64_t kpanels = ceil_div(Kg, NR);
  const int threads = kernel_threads();
  // Tasks: (group, channel panel, chunk of positions); chunks of at most 512 positions (Y^T block
  // 64 KiB), fewer when the panels alone leave threads idle.
  int64_t chunk = std::min<int64_t>(round_up(NPQ, MR), 512);
  while (G * kpanels * ceil_div(NPQ, chunk) < 4 * threads && chunk > 4 * MR) chunk = round_up(chunk / 2, MR);
  const int64_t chunks = ceil_div(NPQ, chunk);
  IndirectImage<T> img(p, x);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    img.prepare(x);
    T* ct = scratch<T>(Scratch::Local, chunk * NR);
    T* panel = scratch<T>(Scratch::PackedB, KC * NR);
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < G * kpanels * chunks; ++t) {
      const int64_t g = t / (kpanels * chunks), kp = (t / chunks) % kpanels, i0 = (t % chunks) * chunk;
      const int64_t pn = std::min(chunk, NPQ - i0);
      const T* xg = img.group(g);
      for (int64_t d0 = 0; d0 < D; d0 += KC) {  // W^T packed a depth block at a time, into L1
        const int64_t kc = std::min(KC, D - d0);
        if (order == IndirectWeights::Transposed)
          pack_weight_t_rows<NR>(w + g * Kg * D, Kg, kp, d0, kc, panel);
        else
          pack_weight_t<NR>(w + g * Kg * D, Kg, D, kp, d0, kc, panel);
        indirect_rows<UK>(xg, img.pos + i0, pn, img.tap + d0, kc, panel, ct, d0 > 0);
      }
      // Y^T block -> y: a run of positions per image, transposed into the panel's channels
      const int64_t kn = std::min(NR, Kg - kp * NR), k0 = g * Kg + kp * NR;
      for (int64_t i = 0; i < pn;) {
        const int64_t n = (i0 + i) / PQ, pq = (i0 + i) % PQ, len = std::min(PQ - pq, pn - i);
        T* out = y + (n * p.K + k0) * PQ + pq;
        unpack_rows_transposed<NR>(ct + i * NR, len, kn, out, PQ);
        if (ep.active())
          for (int64_t j = 0; j < kn; ++j) ep.apply(out + j * PQ, len, k0 + j);
        i += len;
      }
    }
  }
}

/// Packs channel panel kp of dY_g^T (positions x Kg) over all N*P*Q positions as [N*PQ][NR], zero
/// past Kg; dyg points at the group's channel 0 in image 0 (images K*PQ apart).
template <int NR, class T>
void pack_dy_positions(const T* dyg, int64_t N, int64_t K, int64_t Kg, int64_t PQ, int64_t kp, T* dst) {
  for (int64_t n = 0; n < N; ++n)
    pack_rows_transposed<NR>(dyg + n * K * PQ + kp * NR * PQ, PQ, std::min<int64_t>(NR, Kg - kp * NR), PQ,
                             dst + n * PQ * NR);
}

/// Whether the indirect weight gradient should replace the implicit or packed one for p.
/// Measured (docs/performance.md, 2 threads, AVX-512, against what ran before): 3x3 layers 1.09-1.48x
/// on maps of 8x8 and less and 1.08-1.21x with 128 or more outputs on maps up to 28x28 (stride 2
/// included), 0.88-0.93x on larger maps or fewer outputs; 1x1 layers 1.10-1.45x where the outputs
/// outnumber the inputs 2:1 or more on maps up to 14x14, 0.81-0.96x otherwise; 0.46-0.82x with
/// fewer than 256 positions in the batch (the depth of its products).
inline bool conv2d_indirect_weight_grad_preferred(const Conv2dParams& p) {
  const int64_t PQ = p.P() * p.Q(), Kg = p.K / p.groups, D = (p.C / p.groups) * p.R * p.S;
  if (p.N * PQ < 256) return false;
  if (p.R * p.S == 1) return 2 * D <= Kg && PQ <= 196;
  return PQ <= 64 || (Kg >= 128 && PQ <= 784);
}

/// dw (and db when not null) for any geometry, overwritten:
///   dW_g^T (taps x Kg) = X_col_g (taps x positions) * dY_g^T (positions x Kg)
/// with the taps as the micro-kernel's rows (pointers to each tap's plane offset) and the positions
/// as its depth (read through the position offsets); dY^T packed per channel panel.
template <class T>
void conv2d_backward_weight_indirect(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  using UK = RowsMicroKernel<T>;
  constexpr int64_t MR = UK::mr, NR = UK::nr, KC = GemmBlocking::KC;
  const int64_t G = p.groups, Kg = p.K / G, D = (p.C / G) * p.R * p.S;
  const int64_t PQ = p.P() * p.Q(), NPQ = p.N * PQ;
  const int64_t kpanels = ceil_div(Kg, NR);
  const int threads = kernel_threads();
  // Tasks: (group, channel panel, block of taps); blocks of 8 tiles or more, fewer taps when the
  // panels alone leave threads idle. A task re-packs its dY^T panel only when the panel changes.
  int64_t tblock = round_up(D, MR);
  while (G * kpanels * ceil_div(D, tblock) < 4 * threads && tblock > 8 * MR) tblock = round_up(tblock / 2, MR);
  const int64_t tblocks = ceil_div(D, tblock);
  IndirectImage<T> img(p, x);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    img.prepare(x);
    T* bt = scratch<T>(Scratch::PackedB, NPQ * NR);
    T* ct = scratch<T>(Scratch::Local, tblock * NR);
    int64_t packed = -1;  // the (group, panel) in bt
#pragma omp for schedule(dynamic) nowait
    for (int64_t t = 0; t < G * kpanels * tblocks; ++t) {
      const int64_t g = t / (kpanels * tblocks), kp = (t / tblocks) % kpanels, d0 = (t % tblocks) * tblock;
      const int64_t dn = std::min(tblock, D - d0);
      if (g * kpanels + kp != packed) {
        pack_dy_positions<NR>(dy + g * Kg * PQ, p.N, p.K, Kg, PQ, kp, bt);
        packed = g * kpanels + kp;
      }
      const T* xg = img.group(g);
      for (int64_t k0 = 0; k0 < NPQ; k0 += KC) {  // a depth block of dY^T (KC x NR) stays in L1
        const int64_t kc = std::min(KC, NPQ - k0);
        indirect_rows<UK>(xg, img.tap + d0, dn, img.pos + k0, kc, bt + k0 * NR, ct, k0 > 0);
      }
      // dW^T block -> dw (rows of D taps), through register transposes
      unpack_rows_transposed<NR>(ct, dn, std::min(NR, Kg - kp * NR), dw + (g * Kg + kp * NR) * D + d0, D);
    }
    if (db) conv2d_bias_grad(p, dy, db);
  }
}

TL_KERNELS_END
