#pragma once
// The view of a convolution that the implicit-GEMM kernels (conv2d_implicit.hpp,
// conv2d_implicit_weight_grad.hpp) share, and how they cut it into tasks.
//
// Stride 1: with the input padded into Hp x Wp planes, the window of output pixel (p, q) starts at
// the flat position l = p*Wp + q of every plane, and the im2col row of tap (c, r, s) is plane c
// shifted by off = c*plane + r*dil_h*Wp + s*dil_w. Consecutive positions l read consecutive memory.
//
// Stride sh x sw: the padded plane is split into phases, phase (a, b) holding the padded pixels
// (i*sh + a, j*sw + b) as a plane of Wf = ceil(Wp / sw) columns. Tap (r, s) of output pixel (p, q)
// reads padded pixel (p*sh + r*dil_h, q*sw + s*dil_w), which is pixel (p + r*dil_h / sh,
// q + s*dil_w / sw) of phase (r*dil_h % sh, s*dil_w % sw): again position l = p*Wf + q shifted by a
// per-tap offset. Only the phases some tap reads are made (one for a 1x1 stride-2 layer: the
// phase split is then a plain subsampling copy). Stride 1 is the case of one phase with Wf = Wp.
//
// Positions with q >= Q (where the window wraps into the next row) are computed and dropped; an
// image has L = (P-1)*Wf + Q positions. A task copies only the rows its positions read into a
// window (per channel and phase, `rows` x Wf values); a dropped wrap position of the window's last
// row reads up to dil_w*(S-1)/sw values past it, hence the zeroed slack after a window. Unpadded
// stride-1 images are read in place, with no copy.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/copy_run.hpp"
#include "tl/kernels/gemm_core.hpp"
#include "tl/kernels/gemm_scratch.hpp"

TL_KERNELS_BEGIN

/// True when the implicit-GEMM kernels handle p (any kernel, padding, dilation, groups; strides up
/// to 64, the phases being a 64-bit mask).
inline bool conv2d_implicit_applies(const Conv2dParams& p) {
  return p.stride_h >= 1 && p.stride_w >= 1 && p.stride_h <= 64 && p.stride_w <= 64;
}

/// Copies rows [h0, h0+rows) of phase (a, b) of one H x W plane (padding ph, pw, strides sh, sw)
/// into a rows x Wf window: row i, column j holds input pixel ((h0+i)*sh + a - ph, j*sw + b - pw),
/// or zero where that is padding (or past the padded plane).
template <class T>
void copy_phase_rows(const T* src, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t sh, int64_t sw, int64_t a,
                     int64_t b, int64_t h0, int64_t rows, int64_t Wf, T* dst) {
  // columns j with 0 <= j*sw + b - pw < W: [j_lo, j_hi)
  const int64_t j_lo = std::min(Wf, ceil_div(std::max<int64_t>(0, pw - b), sw));
  const int64_t j_hi = std::clamp<int64_t>(ceil_div(W + pw - b, sw), j_lo, Wf);
  for (int64_t i = 0; i < rows; ++i) {
    T* row = dst + i * Wf;
    const int64_t h = (h0 + i) * sh + a - ph;
    if (h < 0 || h >= H) {
      zero_run(row, Wf);
      continue;
    }
    zero_run(row, j_lo);
    const T* in = src + h * W + j_lo * sw + b - pw;
    if (sw == 1) {
      copy_run(row + j_lo, in, j_hi - j_lo);
    } else {
      copy_strided_run(row + j_lo, in, j_hi - j_lo, sw);
    }
    zero_run(row + j_hi, Wf - j_hi);
  }
}

/// The rows read by a chunk of positions: rows [h0, h0 + rows) of every phase of every channel of a
/// group, `plane` = rows * Wf values per (channel, phase), `size` per image; position l is at
/// base + l in it.
struct ImplicitWindow {
  int64_t h0, rows, plane, size, base;
};

struct ImplicitGeometry {
  const Conv2dParams& p;
  int64_t Cg, Wf, L;
  bool copied;                             // false: an unpadded stride-1 image, read in place
  uint64_t row_phases, col_phases;  // bit a: some tap reads phase a (a = r*dil_h % sh, s*dil_w % sw)

  explicit ImplicitGeometry(const Conv2dParams& q)
      : p(q), Cg(q.C / q.groups), Wf(ceil_div(q.W + 2 * q.pad_w, q.stride_w)), L((q.P() - 1) * Wf + q.Q()),
        copied(q.pad_h > 0 || q.pad_w > 0 || q.stride_h > 1 || q.stride_w > 1),
        row_phases(used_phases(q.R, q.dil_h, q.stride_h)), col_phases(used_phases(q.S, q.dil_w, q.stride_w)) {}

  /// Phases per channel in a window.
  int64_t phases() const { return __builtin_popcountll(row_phases) * __builtin_popcountll(col_phases); }
  /// Planes of a window per image (the "channels" a task's window holds).
  int64_t planes() const { return Cg * phases(); }
  /// The fraction of computed positions that are kept when tiles are nr positions wide.
  double kept(int64_t nr) const {
    return static_cast<double>(p.P() * p.Q()) / static_cast<double>(round_up(L, nr));
  }
  /// off[d] for the taps d = (c, r, s) of a group, over planes of `plane` values.
  void tap_offsets(int64_t plane, int64_t* off) const {
    for (int64_t c = 0, d = 0; c < Cg; ++c)
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s) {
          const int64_t u = r * p.dil_h, v = s * p.dil_w;
          const int64_t phase = index_of(row_phases, u % p.stride_h) * __builtin_popcountll(col_phases) +
                                index_of(col_phases, v % p.stride_w);
          off[d++] = (c * phases() + phase) * plane + (u / p.stride_h) * Wf + v / p.stride_w;
        }
  }
  /// The window of positions [j0, j0 + nc) (of one image).
  ImplicitWindow window(int64_t j0, int64_t nc) const {
    const int64_t h0 = j0 / Wf, rows = (j0 + nc - 1) / Wf - h0 + 1 + p.dil_h * (p.R - 1) / p.stride_h;
    return {h0, rows, rows * Wf, planes() * rows * Wf, j0 - h0 * Wf};
  }
  /// Values to zero after the last window (the wrap reach, plus nr for tiles that read whole rows).
  int64_t slack(int64_t nr) const { return p.dil_w * (p.S - 1) / p.stride_w + nr; }
  /// Copies the window's rows of the Cg channels starting at xg (one image's group) to dst.
  template <class T>
  void copy_window(const T* xg, const ImplicitWindow& win, T* dst) const {
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t a = 0; a < p.stride_h; ++a)
        for (int64_t b = 0; b < p.stride_w; ++b) {
          if (!(row_phases >> a & 1) || !(col_phases >> b & 1)) continue;
          copy_phase_rows(xg + c * p.H * p.W, p.H, p.W, p.pad_h, p.pad_w, p.stride_h, p.stride_w, a, b, win.h0,
                          win.rows, Wf, dst);
          dst += win.plane;
        }
  }
  template <class T>
  void clear_slack(T* end, int64_t nr) const {
    std::fill(end, end + slack(nr), T(0));
  }
  /// Where a task reading positions [j0, j0 + nc) of one image's group xg, nr at a time, finds them:
  /// in place (xg, with off[] over H*W planes, set once by the caller) when not `copied`, else in a
  /// copy of their window in the thread's Padded scratch (off[] set here over its planes). Position l
  /// of tap d is at src[base + off[d] + l - j0].
  template <class T>
  const T* task_source(const T* xg, int64_t j0, int64_t nc, int64_t nr, int64_t* off, int64_t& base) const {
    base = j0;
    if (!copied) return xg;
    const ImplicitWindow win = window(j0, nc);
    T* buf = scratch<T>(Scratch::Padded, win.size + slack(nr));
    copy_window(xg, win, buf);
    clear_slack(buf + win.size, nr);
    tap_offsets(win.plane, off);
    base = win.base;
    return buf;
  }

 private:
  /// Bit a set for each a = t*dil % stride over the taps t in [0, taps).
  static uint64_t used_phases(int64_t taps, int64_t dil, int64_t stride) {
    uint64_t used = 0;
    for (int64_t t = 0; t < std::min(taps, stride); ++t) used |= uint64_t(1) << (t * dil % stride);
    return used;
  }
  /// The position of phase a among the used ones.
  static int64_t index_of(uint64_t used, int64_t a) { return __builtin_popcountll(used & ((uint64_t(1) << a) - 1)); }
};

/// How conv2d_forward_implicit cuts its work: each task owns `images` consecutive images, a chunk of
/// `cols` flat positions of each, and `rows` output channels. Small maps are batched (so a task's
/// A block is streamed once for several images: on 7x7 maps the weights outweigh the image);
/// large maps are cut into chunks of about 384 positions, so a task's output block stays in L2
/// and chunk boundaries (where two threads write the same output row) stay rare.
struct ImplicitTasks {
  int64_t images = 1, image_tasks = 1, cols = 1, col_tasks = 1, rows = 1, row_tasks = 1;
  int64_t per_group() const { return image_tasks * col_tasks * row_tasks; }
};

/// The number of images per task, from `images` down to half of it, that shares N images out most
/// evenly over the threads when each image's work is cut into `per_image` tasks: the one whose
/// busiest thread gets the fewest images (the largest such count). On 32x32x16x16 k32, 32 images
/// in 5 tasks of 7 leave one thread 21 images and the other 11; 8 tasks of 4 give both 16
/// (1.07-1.08x, 2 threads). Not below half: batched images share one pass over the weights.
inline int64_t balanced_images(int64_t N, int64_t images, int64_t per_image, int threads) {
  if (threads <= 1) return images;
  // rounds of tasks on the busiest thread, times the task's images (the last task may have fewer)
  const auto busiest = [&](int64_t i) { return ceil_div(ceil_div(N, i) * per_image, int64_t{threads}) * i; };
  int64_t best = images;
  for (int64_t i = images - 1; i >= std::max<int64_t>(1, ceil_div(images, 2)); --i)
    if (busiest(i) < busiest(best)) best = i;
  return best;
}

inline ImplicitTasks plan_implicit_tasks(int64_t N, int64_t L, int64_t M, int64_t C, int64_t G, int threads,
                                         int64_t MR, int64_t NR) {
  // about 512 KiB of window (C channels) and output block (M rows) per task: half of L2 (1 MiB)
  const int64_t target = std::clamp<int64_t>(131072 / (C + M), 128, 4096);
  ImplicitTasks t;
  t.col_tasks = ceil_div(L, target);
  t.cols = round_up(ceil_div(L, t.col_tasks), NR);
  t.col_tasks = ceil_div(L, t.cols);
  t.images = ceil_div(N, ceil_div(N, std::max<int64_t>(1, target / L)));
  t.images = balanced_images(N, t.images, G * t.col_tasks, threads);
  t.image_tasks = ceil_div(N, t.images);
  const int64_t panels = ceil_div(M, MR);
  int64_t split = 1;  // row chunks: only when the other splits leave a thread idle half the time
  while (G * t.image_tasks * t.col_tasks * split < 2 * threads && 2 * split <= panels) split *= 2;
  t.rows = ceil_div(panels, split) * MR;
  t.row_tasks = ceil_div(M, t.rows);
  return t;
}

TL_KERNELS_END
