#pragma once
// Winograd F(4x4, 3x3) forward convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015) for 3x3, stride-1, undilated, ungrouped layers.
//
// Each 4x4 tile of the output comes from the 6x6 input tile under it:
//   Y = A^T [ sum_c (G g_kc G^T) . (B^T d_c B) ] A        (. multiplies the 6x6 points elementwise)
// so one (k, c) pair costs 36 multiplies per tile instead of 4*4*9 = 144. At each of the 36 points the
// sum over c is a GEMM, M_pt (K x tiles) = U_pt (K x C) * V_pt (C x tiles), run on the packed GEMM
// micro-kernel:
//   - U = G g G^T of every (k, c), packed once per call as the micro-kernel's A panels, shared;
//   - per task (a block of NR tiles and a range of output channels): the block's V = B^T d B, packed as
//     the micro-kernel's B panels (one per point); then, KB output channels at a time, the 36 GEMMs
//     into a small M and its output transform A^T M A, with the epilogue, straight into y.
// The transforms run across the block's NR tiles in SIMD lanes (plain loops over arrays of NR); the
// ones the weight gradient shares are in conv2d_winograd_transforms.hpp.
// Rounding: the transforms' constants (1/4 .. 1/24, up to 8 and 5) make float results differ from a
// direct convolution by about 1e-6..1e-5 of the output's scale; the tests bound it.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/conv2d_winograd_transforms.hpp"
#include "tl/kernels/gemm_config.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_parallel.hpp"
#include "tl/kernels/gemm_scratch.hpp"
#include "tl/kernels/gemm_ukernel.hpp"
#include "tl/kernels/lane_mask.hpp"

namespace tl::kernels {  // outside the ISA namespaces: one switch for every ISA flavour

/// Whether the fast kernels may use Winograd convolution (on by default). Its float results differ
/// from a direct convolution's by rounding (about 1e-6 of the output's scale); turn it off for
/// results that follow the direct kernels' rounding. One switch for every ISA flavour.
inline std::atomic<bool>& winograd_switch() {
  static std::atomic<bool> on{true};
  return on;
}
inline void set_winograd_enabled(bool on) { winograd_switch().store(on, std::memory_order_relaxed); }
inline bool winograd_enabled() { return winograd_switch().load(std::memory_order_relaxed); }

}  // namespace tl::kernels

TL_KERNELS_BEGIN

/// Whether p's forward (and so its stride-1 backward data, which runs as a forward) should run as
/// Winograd F(4x4, 3x3): float with AVX-512 or AVX2 (the generic build was not measured), at least
/// 32 input and output channels, 128 tiles of 4x4 outputs, and maps of 14x14 or more. Measured
/// (docs/performance.md, 2 threads, Winograd off / on), AVX-512 on Zen 5: forward and backward data
/// 1.7x at 56x56, 1.4-1.5x at 14x14 (batch 8), 1.8-1.9x on CIFAR's 32x32 and 16x16 maps
/// (bench_conv); 1.5-1.7x at 28x28 (one-off runs); but 0.8-1.1x at 8x8, 0.4-0.6x at 4x4 and on 7x7
/// maps of 512 channels (32 tiles: the 37 MB of transformed weights cost more than they save),
/// 0.6-0.9x with 16 channels. AVX2 on Zen 3: 1.8-3.5x at 56x56, 32x32, 16x16 and 14x14; 1.0x with
/// 16 channels.
inline bool conv2d_winograd_preferred(const Conv2dParams& p) {
#if defined(TL_KERNELS_ISA_AVX512) || defined(TL_KERNELS_ISA_AVX2)
  return winograd_enabled() && conv2d_winograd_geometry(p) && p.C >= 32 && p.K >= 32 && winograd_tiles(p) >= 128 &&
         p.P() * p.Q() >= 196;
#else
  return static_cast<void>(p), false;
#endif
}

namespace winograd {

/// Packs U = G g G^T of every (k, c) as A panels of the micro-kernel: point pt's rows k0..k0+MR-1
/// start at u + (pt * Kpad + k0) * C, depth c at + c * MR. Rows K..Kpad-1 are zero. One task per
/// panel and block of CB channels: its (channel, row) pairs run in SIMD lanes, in the order u stores
/// them, so each point's values are written as one contiguous run. Inside a parallel region.
template <class T, int MR>
void pack_weights(const Conv2dParams& p, const T* w, T* u, int64_t Kpad) {
  constexpr int CB = 32, L = CB * MR;
  const int64_t C = p.C, cblocks = ceil_div(C, CB);
#pragma omp for schedule(static)
  for (int64_t task = 0; task < Kpad / MR * cblocks; ++task) {
    const int64_t k0 = task / cblocks * MR, c0 = task % cblocks * CB;
    const int n = static_cast<int>(std::min<int64_t>(CB, C - c0)) * MR;
    alignas(64) T g[9][L];     // tap t of lane j = (c - c0) * MR + row
    alignas(64) T cols[18][L];  // G applied down kernel column s: cols[s * 6 + i]
    for (int j = 0; j < n; ++j) {
      const int64_t k = k0 + j % MR, c = c0 + j / MR;
      for (int t = 0; t < 9; ++t) g[t][j] = k < p.K ? w[(k * C + c) * 9 + t] : T(0);
    }
    for (int s = 0; s < 3; ++s) {
      T* out[6] = {cols[s * 6], cols[s * 6 + 1], cols[s * 6 + 2], cols[s * 6 + 3], cols[s * 6 + 4], cols[s * 6 + 5]};
      weight_1d<T>(g[s], g[3 + s], g[6 + s], out, n);
    }
    for (int i = 0; i < 6; ++i) {
      T* out[6];
      for (int j = 0; j < 6; ++j) out[j] = u + ((i * 6 + j) * Kpad + k0) * C + c0 * MR;
      weight_1d<T>(cols[i], cols[6 + i], cols[12 + i], out, n);
    }
  }
}

#if defined(TL_KERNELS_ISA_AVX512)
/// The inverse of split_phases: out[k] lane l = in[l % 4] lane 4k + l / 4.
inline void merge_phases(const __m512 in[4], __m512 out[4]) {
  // Pairs (in[0][q], in[1][q]) and (in[2][q], in[3][q]) side by side, q = 0..7 and 8..15 ...
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 t0 = _mm512_permutex2var_ps(in[0], lo, in[1]), t1 = _mm512_permutex2var_ps(in[0], hi, in[1]);
  const __m512 s0 = _mm512_permutex2var_ps(in[2], lo, in[3]), s1 = _mm512_permutex2var_ps(in[2], hi, in[3]);
  // ... then the two pairs of each q together, four q per vector.
  const __m512i q0 = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const __m512i q1 = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  out[0] = _mm512_permutex2var_ps(t0, q0, s0);
  out[1] = _mm512_permutex2var_ps(t0, q1, s0);
  out[2] = _mm512_permutex2var_ps(t1, q0, s1);
  out[3] = _mm512_permutex2var_ps(t1, q1, s1);
}

/// Stores n (<= 64) values of an output row from four vectors: dst[j] = ep(v[j / 16] lane j % 16).
inline void store_output_row_avx512(const __m512 v[4], int64_t n, float* dst, float a, float s,
                                    const Epilogue<float>& ep) {
  const float* res = ep.residual ? ep.residual + (dst - ep.out_base) : nullptr;
  for (int k = 0; k < 4 && 16 * k < n; ++k) {
    const __mmask16 m = lane_mask(n - 16 * k);
    __m512 o = _mm512_fmadd_ps(v[k], _mm512_set1_ps(a), _mm512_set1_ps(s));
    if (res) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, res + 16 * k));
    if (ep.relu) o = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(o, _mm512_setzero_ps(), _CMP_GT_OQ), o);  // NaN -> 0
    _mm512_mask_storeu_ps(dst + 16 * k, m, o);
  }
}
#elif defined(TL_KERNELS_ISA_AVX2)
/// The inverse of split_phases: out[k] holds columns 8k .. 8k + 7, column 4q + r being in[r] lane q
/// (a 4 x 4 transpose in each 128-bit half, then the halves of q and q + 1 paired).
inline void merge_phases(const __m256 in[4], __m256 out[4]) {
  const __m256 t0 = _mm256_unpacklo_ps(in[0], in[1]), t1 = _mm256_unpackhi_ps(in[0], in[1]);
  const __m256 t2 = _mm256_unpacklo_ps(in[2], in[3]), t3 = _mm256_unpackhi_ps(in[2], in[3]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));  // q0 | q4
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));  // q1 | q5
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));  // q2 | q6
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));  // q3 | q7
  out[0] = _mm256_permute2f128_ps(s0, s1, 0x20);
  out[1] = _mm256_permute2f128_ps(s2, s3, 0x20);
  out[2] = _mm256_permute2f128_ps(s0, s1, 0x31);
  out[3] = _mm256_permute2f128_ps(s2, s3, 0x31);
}

/// Stores n (<= 32) values of an output row from four vectors: dst[j] = ep(v[j / 8] lane j % 8).
/// A partial vector is stored through a buffer: vmaskmovps to memory is microcoded on AMD's Zen 3,
/// where it took 15-20% of a forward's samples.
inline void store_output_row_avx2(const __m256 v[4], int64_t n, float* dst, float a, float s,
                                  const Epilogue<float>& ep) {
  const float* res = ep.residual ? ep.residual + (dst - ep.out_base) : nullptr;
  for (int k = 0; k < 4 && 8 * k < n; ++k) {
    const int64_t left = n - 8 * k;
    __m256 o = _mm256_fmadd_ps(v[k], _mm256_set1_ps(a), _mm256_set1_ps(s));
    if (res) o = _mm256_add_ps(o, left >= 8 ? _mm256_loadu_ps(res + 8 * k)
                                            : _mm256_maskload_ps(res + 8 * k, lane_mask8(left)));
    if (ep.relu) o = _mm256_and_ps(o, _mm256_cmp_ps(o, _mm256_setzero_ps(), _CMP_GT_OQ));  // NaN -> 0
    if (left >= 8) {
      _mm256_storeu_ps(dst + 8 * k, o);
    } else {
      alignas(32) float part[8];
      _mm256_store_ps(part, o);
      std::copy(part, part + left, dst + 8 * k);
    }
  }
}
#endif

/// Y = A^T M A for output channels k0..k0+kb-1 of the block's tiles (m: point pt, channel row r at
/// m + (pt * KB + r) * NR), then the epilogue, into y.
template <class T, int NR>
void transform_output(const Conv2dParams& p, const T* m, int64_t KB, int64_t k0, int64_t kb, const TileBlock<NR>& b,
                      T* y, const Epilogue<T>& ep) {
  alignas(64) T rows[24][NR];
  alignas(64) T out[16][NR + 16];  // + 16: the AVX-512 store reads whole vectors from a run's first lane
  const int64_t P = p.P(), Q = p.Q();
  for (int64_t r = 0; r < kb; ++r) {
    const int64_t k = k0 + r;
    for (int i = 0; i < 6; ++i) {
      const T* in[6];
      for (int j = 0; j < 6; ++j) in[j] = m + ((i * 6 + j) * KB + r) * NR;
      T* o[4] = {rows[i * 4], rows[i * 4 + 1], rows[i * 4 + 2], rows[i * 4 + 3]};
      output_1d<T>(in, o, NR);
    }
    for (int j = 0; j < 4; ++j) {
      const T* in[6] = {rows[j], rows[4 + j], rows[8 + j], rows[12 + j], rows[16 + j], rows[20 + j]};
      T* o[4] = {out[j], out[4 + j], out[8 + j], out[12 + j]};
      output_1d<T>(in, o, NR);
    }
    for (int ri = 0; ri < b.runs; ++ri) {
      const TileRun& run = b.run[ri];
      const int64_t oy0 = 4 * run.ty, ox0 = 4 * run.tx0, cols = std::min<int64_t>(4 * run.count, Q - ox0);
      for (int i = 0; i < 4 && oy0 + i < P; ++i) {
        T* dst = y + ((run.n * p.K + k) * P + oy0 + i) * Q + ox0;
#if defined(TL_KERNELS_ISA_AVX512)
        if constexpr (std::is_same_v<T, float>) {
          const float a = ep.scale ? ep.scale[k] : 1.f, s = ep.shift ? ep.shift[k] : 0.f;
          for (int q0 = 0; q0 < run.count; q0 += 16) {
            __m512 in[4], merged[4];
            for (int j = 0; j < 4; ++j) in[j] = _mm512_loadu_ps(out[i * 4 + j] + run.first + q0);
            merge_phases(in, merged);
            store_output_row_avx512(merged, cols - 4 * q0, dst + 4 * q0, a, s, ep);
          }
          continue;
        }
#elif defined(TL_KERNELS_ISA_AVX2)
        if constexpr (std::is_same_v<T, float>) {
          const float a = ep.scale ? ep.scale[k] : 1.f, s = ep.shift ? ep.shift[k] : 0.f;
          for (int q0 = 0; q0 < run.count; q0 += 8) {
            __m256 in[4], merged[4];
            for (int j = 0; j < 4; ++j) in[j] = _mm256_loadu_ps(out[i * 4 + j] + run.first + q0);
            merge_phases(in, merged);
            store_output_row_avx2(merged, cols - 4 * q0, dst + 4 * q0, a, s, ep);
          }
          continue;
        }
#endif
        for (int64_t j = 0; j < cols; ++j) dst[j] = out[i * 4 + j % 4][run.first + j / 4];  // phases interleaved
        if (ep.active()) ep.apply(dst, cols, k);
      }
    }
  }
}

}  // namespace winograd

/// y = ep(conv(x, w)) for a layer with conv2d_winograd_geometry(p) (ep as in conv2d_forward_fused;
/// ep.out_base must be y when ep.residual is set).
template <class T>
void conv2d_forward_winograd(const Conv2dParams& p, const T* x, const T* w, T* y, const Epilogue<T>& ep) {
  using UK = MicroKernel<T>;
  constexpr int MR = UK::mr, NR = UK::nr, PT = winograd::kPoints;
  const int64_t KB = 8 * MR;  // output channels per M block: 36 x KB x NR values stay in L2
  const int64_t Kpad = round_up(p.K, MR), th = ceil_div(p.P(), 4), tw = ceil_div(p.Q(), 4);
  const int64_t tiles = winograd_tiles(p), blocks = ceil_div(tiles, NR), kblocks = ceil_div(p.K, KB);
  const int threads = kernel_threads();
  // Split the output channels over tasks too when there are few tile blocks (small maps).
  int64_t kparts = 1;
  while (blocks * kparts < 4 * threads && kparts < kblocks) kparts *= 2;
  kparts = std::min(kparts, kblocks);
  const int64_t kblocks_per_part = ceil_div(kblocks, kparts);
  T* u = scratch<T>(Scratch::SharedA, PT * Kpad * p.C);
  const int64_t phase_stride = NR + 16;  // the transform reads NR + 1 columns of a phase
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    winograd::pack_weights<T, MR>(p, w, u, Kpad);  // ends with the implicit barrier of its omp for
    T* v = scratch<T>(Scratch::PackedB, PT * (p.C + 1) * NR + NR);
    T* m = scratch<T>(Scratch::Local, PT * KB * NR);
    T* line = scratch<T>(Scratch::Padded, 4 * (phase_stride + 1));
    T* ph = scratch<T>(Scratch::Columns, 24 * phase_stride);
    std::fill(ph, ph + 24 * phase_stride, T(0));  // lanes past a run read finite values
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < blocks * kparts; ++task) {
      const int64_t blk = task / kparts, part = task % kparts;
      const auto b = winograd::tile_block<NR>(blk * NR, tiles, th, tw);
      winograd::transform_input<T, NR>(p, x, b, v, line, ph, phase_stride);
      const int64_t kb_end = std::min(kblocks, (part + 1) * kblocks_per_part);
      for (int64_t kbi = part * kblocks_per_part; kbi < kb_end; ++kbi) {
        const int64_t k0 = kbi * KB, kb = std::min(KB, p.K - k0);
        for (int pt = 0; pt < PT; ++pt)
          for (int64_t r = 0; r < kb; r += MR)
            UK::run(p.C, u + (pt * Kpad + k0 + r) * p.C, v + pt * (p.C + 1) * NR, m + (pt * KB + r) * NR, NR, false);
        winograd::transform_output<T, NR>(p, m, KB, k0, kb, b, y, ep);
      }
    }
  }
}

TL_KERNELS_END
