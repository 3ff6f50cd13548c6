#pragma once
// Strided backward data as stride-1 convolutions, one per phase of dX.
//
// With strides sh x sw, phase (a, b) of dX holds the pixels (i*sh + a, j*sw + b). Input row
// ih = i*sh + a takes from tap r only the output row oh = i + e_r, e_r = (a + ph - r*dh) / sh, when
// that division is exact: phase (a, b) is a stride-1 correlation of dY with the taps r of row phase
// a and s of column phase b, channels swapped,
//   dX_ab[c, i, j] = sum over k, r, s of W[k, c, r, s] * dY[k, i + e_r, j + e_s]   (0 outside dY).
// The phases partition dX, so each dX pixel is computed once and written once; the GEMM + col2im
// path (conv2d_gemm.hpp) instead writes a CgRS x positions column matrix and scatter-adds it.
//
// Each phase runs on the implicit GEMM's flat-position view (conv2d_implicit_geometry.hpp): a task
// copies the rows of dY that its block of phase rows reads into a window of zero-padded rows Wf
// wide, shared by all the phases, and tap (k, r, s) is the offset k*plane + (e_r - e_min)*Wf +
// (e_s - e_min_col) into it. Phase (a, b)'s output at flat position (i - i0)*Wf + j is kept for
// j < its width; the column phases of a row phase are then interleaved into whole dX rows.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "tl/kernels/conv2d_implicit_geometry.hpp"
#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/copy_run.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/gemm_ukernel_offsets.hpp"
#include "tl/kernels/lane_mask.hpp"

TL_KERNELS_BEGIN

/// Whether tap r of a dX phase reads dY: num = a + pad - r*dil must be a multiple of the stride;
/// then e = num / stride is the offset from the phase index to the dY index.
inline bool phase_tap_offset(int64_t num, int64_t stride, int64_t& e) {
  if (((num % stride) + stride) % stride != 0) return false;
  e = num / stride;  // exact
  return true;
}

/// The smallest and largest offset e over all the phases of one axis and their taps (lo = hi = 0
/// when no tap reaches any phase).
inline void phase_offset_range(int64_t stride, int64_t taps, int64_t pad, int64_t dil, int64_t& lo, int64_t& hi) {
  bool any = false;
  lo = hi = 0;
  for (int64_t a = 0; a < stride; ++a)
    for (int64_t r = 0; r < taps; ++r) {
      int64_t e = 0;
      if (!phase_tap_offset(a + pad - r * dil, stride, e)) continue;
      lo = any ? std::min(lo, e) : e;
      hi = any ? std::max(hi, e) : e;
      any = true;
    }
}

/// The taps of one axis, per phase: phase a (of `stride`) reads tap t[i] at offset e[i] (output
/// index = phase index + e), i < count[a]. Tables of `stride` x `taps` entries in `buf`.
struct PhaseAxis {
  int64_t stride = 1, taps = 1, extent = 0;  // extent: the input size along the axis
  int64_t e_min = 0, e_max = 0;              // over all the phases' taps
  int64_t *count = nullptr, *t = nullptr, *e = nullptr;

  /// buf holds stride * (1 + 2 * taps) values.
  PhaseAxis(int64_t stride_, int64_t taps_, int64_t pad, int64_t dil, int64_t extent_, int64_t* buf)
      : stride(stride_), taps(taps_), extent(extent_), count(buf), t(buf + stride_), e(buf + stride_ * (1 + taps_)) {
    phase_offset_range(stride, taps, pad, dil, e_min, e_max);
    for (int64_t a = 0; a < stride; ++a) {
      count[a] = 0;
      for (int64_t r = 0; r < taps; ++r) {
        int64_t off = 0;
        if (!phase_tap_offset(a + pad - r * dil, stride, off)) continue;
        t[a * taps + count[a]] = r;
        e[a * taps + count[a]] = off;
        ++count[a];
      }
    }
  }
  /// The number of input indices in phase a: ceil((extent - a) / stride).
  int64_t size(int64_t a) const { return a < extent ? ceil_div(extent - a, stride) : 0; }
  /// The largest phase size (phase 0's).
  int64_t max_size() const { return size(0); }
};

/// Packs the A operand of phase (ra, sb) of group g, rows c < Cg, depth d = (k, u, v) over the
/// phase's taps: A[c, d] = W[g*Kg + k, c, rows.t[u], cols.t[v]], as [KC blocks][MR-row panels][kc][MR]
/// (the layout of prepack_a_shared), rows past Cg zero.
template <int MR, class T>
void pack_phase_weights(const Conv2dParams& p, const T* w, const PhaseAxis& rows, const PhaseAxis& cols, int64_t ra,
                        int64_t sb, int64_t g, int64_t KC, T* dst) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, RS = p.R * p.S;
  const int64_t nu = rows.count[ra], nv = cols.count[sb], D = Kg * nu * nv, Mpad = round_up(Cg, MR);
  for (int64_t d0 = 0; d0 < D; d0 += KC) {
    const int64_t kc = std::min(KC, D - d0);
    T* blk = dst + d0 * Mpad;
    for (int64_t ip = 0; ip < Mpad; ip += MR)
      for (int64_t k = 0; k < kc; ++k) {
        const int64_t d = d0 + k, kk = d / (nu * nv), u = (d / nv) % nu, v = d % nv;
        const T* src = w + (g * Kg + kk) * Cg * RS + rows.t[ra * rows.taps + u] * p.S + cols.t[sb * cols.taps + v];
        for (int64_t i = 0; i < MR; ++i) blk[ip * kc + k * MR + i] = ip + i < Cg ? src[(ip + i) * RS] : T(0);
      }
  }
}

/// dst[j] = src[j % stride][j / stride] for j < n: one row of dX from its column phases.
template <class T>
void interleave_phases(const T* const* src, int64_t stride, int64_t n, T* __restrict dst) {
  if (stride == 1) return copy_run(dst, src[0], n);
  int64_t j = 0;
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    if (stride == 2) {  // 16 values of each phase make 32 of dX: two two-source permutes
      const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      for (; j < n; j += 32) {  // the last round masked: ceil(r/2) even and floor(r/2) odd values of r
        const int64_t r = n - j;
        const __m512 e = _mm512_maskz_loadu_ps(lane_mask((r + 1) / 2), src[0] + j / 2);
        const __m512 o = _mm512_maskz_loadu_ps(lane_mask(r / 2), src[1] + j / 2);
        _mm512_mask_storeu_ps(dst + j, lane_mask(r), _mm512_permutex2var_ps(e, lo, o));
        _mm512_mask_storeu_ps(dst + j + 16, lane_mask(r - 16), _mm512_permutex2var_ps(e, hi, o));
      }
      return;
    }
  }
#endif
  for (; j < n; ++j) dst[j] = src[j % stride][j / stride];
}

/// dX = conv_transpose(dY, W) for any stride (stride 1 is one phase), through the micro-kernel UK
/// (an offset micro-kernel: gemm_ukernel_offsets.hpp).
template <class UK, class T>
void conv2d_backward_data_phased_with(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  constexpr int64_t MR = UK::mr, NR = UK::nr, KC = GemmBlocking::KC;
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, P = p.P(), Q = p.Q(), HW = p.H * p.W;
  const int64_t sh = p.stride_h, sw = p.stride_w, phases = sh * sw, Mpad = round_up(Cg, MR);
  int64_t* tables = scratch<int64_t>(Scratch::Columns, sh * (1 + 2 * p.R) + sw * (1 + 2 * p.S) + phases + 1);
  const PhaseAxis rows(sh, p.R, p.pad_h, p.dil_h, p.H, tables);
  const PhaseAxis cols(sw, p.S, p.pad_w, p.dil_w, p.W, tables + sh * (1 + 2 * p.R));
  // Where each phase's packed A starts (per group: Mpad * D_ab values)
  int64_t* a_start = tables + sh * (1 + 2 * p.R) + sw * (1 + 2 * p.S);
  a_start[0] = 0;
  for (int64_t ph = 0; ph < phases; ++ph)
    a_start[ph + 1] = a_start[ph] + G * Mpad * Kg * rows.count[ph / sw] * cols.count[ph % sw];
  T* apre = scratch<T>(Scratch::SharedA, std::max<int64_t>(a_start[phases], 1));
  // The window: rows of dY from (i0 + e_min) on, columns from e_min_col on, Wf wide.
  const int64_t span = rows.e_max - rows.e_min, Wf = cols.max_size() + cols.e_max - cols.e_min;
  const int64_t Hmax = rows.max_size();
  const int threads = kernel_threads();
  // Tasks: blocks of phase rows, of several images when the maps are small (so that a task streams
  // the packed A once for them, as conv2d_forward_implicit does); about 128K values of window (Kg
  // channels) per task, smaller blocks when there would not be two tasks per thread.
  const int64_t target = std::clamp<int64_t>(131072 / (Kg + Cg), 128, 4096);
  int64_t block = std::max<int64_t>(1, target / Wf);
  const int64_t images = std::clamp<int64_t>(target / (Hmax * Wf), 1, p.N), image_tasks = ceil_div(p.N, images);
  while (block > 1 && image_tasks * G * ceil_div(Hmax, block) < 2 * threads) block = ceil_div(block, 2);
  const int64_t blocks = ceil_div(Hmax, block);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#pragma omp for collapse(2) schedule(static)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t ph = 0; ph < phases; ++ph)
        if (a_start[ph + 1] > a_start[ph])
          pack_phase_weights<MR>(p, w, rows, cols, ph / sw, ph % sw, g, KC,
                                 apre + a_start[ph] + g * (a_start[ph + 1] - a_start[ph]) / G);
    // the implicit barrier: every task reads every phase's A
    int64_t* off = scratch<int64_t>(Scratch::Offsets, Kg * p.R * p.S);
#pragma omp for schedule(dynamic) nowait
    for (int64_t t = 0; t < image_tasks * G * blocks; ++t) {
      const int64_t n0 = (t / (G * blocks)) * images, g = (t / blocks) % G, i0 = (t % blocks) * block;
      const int64_t ni = std::min(images, p.N - n0);
      const int64_t i1 = std::min(Hmax, i0 + block), wrows = (i1 - i0) + span, plane = wrows * Wf;
      const int64_t wsize = Kg * plane;  // one image's window
      T* win = scratch<T>(Scratch::Padded, ni * wsize);  // the micro-kernels mask their last tile: no slack
      for (int64_t e = 0; e < ni; ++e) {  // window row i: dY row i0 + e_min + i; column j: dY column j + e_min_col
        const T* dyg = dy + ((n0 + e) * p.K + g * Kg) * P * Q;
        for (int64_t k = 0; k < Kg; ++k)
          copy_phase_rows(dyg + k * P * Q, P, Q, int64_t{0}, -cols.e_min, int64_t{1}, int64_t{1}, int64_t{0},
                          int64_t{0}, i0 + rows.e_min, wrows, Wf, win + e * wsize + k * plane);
      }
      for (int64_t a = 0; a < sh; ++a) {
        const int64_t nrows = std::min(i1, rows.size(a)) - i0, ld = nrows * Wf;
        if (nrows <= 0) continue;
        // The row phase's sw column phases, each [ni][Mpad][nrows x Wf positions], then interleaved into dX.
        T* local = scratch<T>(Scratch::Local, sw * ni * Mpad * ld);
        for (int64_t b = 0; b < sw; ++b) {
          const int64_t ph = a * sw + b, Wb = cols.size(b), nu = rows.count[a], nv = cols.count[b], D = Kg * nu * nv;
          const int64_t nl = (nrows - 1) * Wf + Wb;
          T* lb = local + b * ni * Mpad * ld;
          if (Wb <= 0) continue;
          if (D == 0) {  // no tap reaches this phase: its pixels get nothing
            std::fill(lb, lb + ni * Mpad * ld, T(0));
            continue;
          }
          for (int64_t d = 0; d < D; ++d) {
            const int64_t k = d / (nu * nv), u = (d / nv) % nu, v = d % nv;
            off[d] = k * plane + (rows.e[a * rows.taps + u] - rows.e_min) * Wf + cols.e[b * cols.taps + v] - cols.e_min;
          }
          const T* ag = apre + a_start[ph] + g * Mpad * D;
          for (int64_t d0 = 0; d0 < D; d0 += KC) {
            const int64_t kc = std::min(KC, D - d0);
            const T* ablk = ag + d0 * Mpad;
            for (int64_t e = 0; e < ni; ++e)
              for (int64_t jt = 0; jt < nl; jt += NR)
                for (int64_t it = 0; it < Cg; it += MR)
                  UK::run(kc, ablk + it * kc, win + e * wsize + jt, off + d0, std::min(MR, Cg - it),
                          std::min(NR, nl - jt), lb + (e * Mpad + it) * ld + jt, ld, d0 > 0,
                          it == 0 && jt + 2 * NR <= nl);
          }
        }
        const T* src[64];
        for (int64_t e = 0; e < ni; ++e) {
          T* dxg = dx + ((n0 + e) * p.C + g * Cg) * HW;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < nrows; ++i) {
              for (int64_t b = 0; b < sw; ++b) src[b] = local + ((b * ni + e) * Mpad + c) * ld + i * Wf;
              interleave_phases(src, sw, p.W, dxg + c * HW + ((i0 + i) * sh + a) * p.W);
            }
        }
      }
    }
  }
}

/// The micro-kernel for dX with Cg channels per group: in AVX-512 float, 3 x 128 tiles when Cg <= 3
/// (a stem's dX, 3 channels, would fill 3 of an 8 x 32 tile's 8 rows), else the implicit GEMM's.
template <class T>
constexpr bool phased_few_rows(int64_t Cg) {
#if defined(TL_KERNELS_ISA_AVX512)
  return std::is_same_v<T, float> && Cg <= 3;
#else
  (void)Cg;
  return false;
#endif
}

/// dX = conv_transpose(dY, W) one phase of dX at a time (see the top of this file); any geometry
/// with strides up to 64.
template <class T>
void conv2d_backward_data_phased(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
#if defined(TL_KERNELS_ISA_AVX512)
  if constexpr (std::is_same_v<T, float>) {
    if (phased_few_rows<T>(p.C / p.groups))
      return conv2d_backward_data_phased_with<Avx512FewRowsOffsetMicroKernelF32<3, 8>>(p, dy, w, dx);
  }
#endif
  conv2d_backward_data_phased_with<OffsetMicroKernel<T>>(p, dy, w, dx);
}

/// The width of the tiles conv2d_backward_data_phased computes for dX with Cg channels per group.
template <class T>
constexpr int64_t phased_tile_width(int64_t Cg) {
#if defined(TL_KERNELS_ISA_AVX512)
  if (phased_few_rows<T>(Cg)) return Avx512FewRowsOffsetMicroKernelF32<3, 8>::nr;
#endif
  (void)Cg;
  return OffsetMicroKernel<T>::nr;
}

/// Whether conv2d_backward_data_phased should replace the GEMM + col2im for strided p, with tiles
/// nr positions wide: kernels larger than 1x1 whose phases keep 85% or more of the positions they
/// compute. Measured (docs/performance.md, 2 threads, AVX-512): 1.31-1.40x on ResNet's 3x3
/// stride-2 layers over 56x56 images, 1.10-1.16x over 28x28 and 1.30-1.59x on the 7x7 stem;
/// 0.57-0.75x over 14x14 images (7x7 phases: 77% kept), 0.55-0.83x on 8x8 phases, and 0.8x on
/// 1x1 layers, whose other phases are all zero.
inline bool conv2d_phased_backward_data_preferred(const Conv2dParams& p, int64_t nr) {
  if ((p.stride_h == 1 && p.stride_w == 1) || p.R * p.S == 1 || p.stride_h > 64 || p.stride_w > 64) return false;
  int64_t e_min = 0, e_max = 0;  // as conv2d_backward_data_phased_with's window: Wf columns
  phase_offset_range(p.stride_w, p.S, p.pad_w, p.dil_w, e_min, e_max);
  const int64_t H0 = ceil_div(p.H, p.stride_h), W0 = ceil_div(p.W, p.stride_w), Wf = W0 + e_max - e_min;
  const double kept = static_cast<double>(H0 * W0) / static_cast<double>(round_up((H0 - 1) * Wf + W0, nr));
  return kept >= 0.85;
}

TL_KERNELS_END
