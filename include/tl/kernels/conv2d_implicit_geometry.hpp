#pragma once
// The view of a stride-1 convolution that the implicit-GEMM kernels (conv2d_implicit.hpp,
// conv2d_implicit_weight_grad.hpp) share, and how they cut it into tasks.
//
// With the input padded into Hp x Wp planes, the window of output pixel (p, q) starts at the flat
// position l = p*Wp + q of every plane, and the im2col row of tap (c, r, s) is plane c shifted by
// off = c*plane + r*dil_h*Wp + s*dil_w. Consecutive positions l read consecutive memory.
// Positions with q >= Q (where the window wraps into the next row) are computed and dropped; an
// image has L = (P-1)*Wp + Q positions. A task copies only the padded rows its positions read into
// a window (planes of `rows` x Wp); a dropped wrap position of the window's last row reads up to
// dil_w*(S-1) values past it, hence the zeroed slack after a window.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tl/kernels/conv2d_params.hpp"
#include "tl/kernels/gemm_core.hpp"

TL_KERNELS_BEGIN

/// True when the implicit-GEMM kernels handle p (stride 1; any kernel, padding, dilation, groups).
inline bool conv2d_implicit_applies(const Conv2dParams& p) { return p.stride_h == 1 && p.stride_w == 1; }

/// Copies padded rows [h0, h0+rows) of one H x W plane (padding ph, pw) into a rows x Wp window:
/// padded row hr holds input row hr - ph, or zeros above and below the image.
template <class T>
void copy_padded_rows(const T* src, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t h0, int64_t rows, T* dst) {
  const int64_t Wp = W + 2 * pw;
  for (int64_t hr = h0; hr < h0 + rows; ++hr) {
    T* row = dst + (hr - h0) * Wp;
    const int64_t h = hr - ph;
    if (h < 0 || h >= H) {
      std::fill(row, row + Wp, T(0));
      continue;
    }
    std::fill(row, row + pw, T(0));
    std::memcpy(row + pw, src + h * W, static_cast<size_t>(W) * sizeof(T));
    std::fill(row + pw + W, row + Wp, T(0));
  }
}

/// The padded rows read by a chunk of positions: rows [h0, h0 + rows) of every channel of a group,
/// `plane` = rows * Wp values per channel, `size` per image; position l is at base + l in it.
struct ImplicitWindow {
  int64_t h0, rows, plane, size, base;
};

struct ImplicitGeometry {
  const Conv2dParams& p;
  int64_t Cg, Wp, L;
  bool padded;
  explicit ImplicitGeometry(const Conv2dParams& q)
      : p(q), Cg(q.C / q.groups), Wp(q.W + 2 * q.pad_w), L((q.P() - 1) * (q.W + 2 * q.pad_w) + q.Q()),
        padded(q.pad_h > 0 || q.pad_w > 0) {}

  /// The fraction of computed positions that are kept when tiles are nr positions wide.
  double kept(int64_t nr) const {
    return static_cast<double>(p.P() * p.Q()) / static_cast<double>(round_up(L, nr));
  }
  /// off[d] for the taps d = (c, r, s) of a group, over planes of `plane` values.
  void tap_offsets(int64_t plane, int64_t* off) const {
    for (int64_t c = 0, d = 0; c < Cg; ++c)
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s) off[d++] = c * plane + r * p.dil_h * Wp + s * p.dil_w;
  }
  /// The window of positions [j0, j0 + nc) (of one image).
  ImplicitWindow window(int64_t j0, int64_t nc) const {
    const int64_t h0 = j0 / Wp, rows = (j0 + nc - 1) / Wp - h0 + 1 + p.dil_h * (p.R - 1);
    return {h0, rows, rows * Wp, Cg * rows * Wp, j0 - h0 * Wp};
  }
  /// Values to zero after the last window (the wrap reach, plus nr for tiles that read whole rows).
  int64_t slack(int64_t nr) const { return p.dil_w * (p.S - 1) + nr; }
  /// Copies the window's rows of the Cg channels starting at xg (one image's group) to dst.
  template <class T>
  void copy_window(const T* xg, const ImplicitWindow& win, T* dst) const {
    for (int64_t c = 0; c < Cg; ++c)
      copy_padded_rows(xg + c * p.H * p.W, p.H, p.W, p.pad_h, p.pad_w, win.h0, win.rows, dst + c * win.plane);
  }
  template <class T>
  void clear_slack(T* end, int64_t nr) const {
    std::fill(end, end + slack(nr), T(0));
  }
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

inline ImplicitTasks plan_implicit_tasks(int64_t N, int64_t L, int64_t M, int64_t C, int64_t G, int threads,
                                         int64_t MR, int64_t NR) {
  // about 512 KiB of window (C channels) and output block (M rows) per task: half of L2 (1 MiB)
  const int64_t target = std::clamp<int64_t>(131072 / (C + M), 128, 4096);
  ImplicitTasks t;
  t.image_tasks = ceil_div(N, std::max<int64_t>(1, target / L));
  t.images = ceil_div(N, t.image_tasks);
  t.image_tasks = ceil_div(N, t.images);
  t.col_tasks = ceil_div(L, target);
  t.cols = round_up(ceil_div(L, t.col_tasks), NR);
  t.col_tasks = ceil_div(L, t.cols);
  const int64_t panels = ceil_div(M, MR);
  int64_t split = 1;  // row chunks: only when the other splits leave a thread idle half the time
  while (G * t.image_tasks * t.col_tasks * split < 2 * threads && 2 * split <= panels) split *= 2;
  t.rows = ceil_div(panels, split) * MR;
  t.row_tasks = ceil_div(M, t.rows);
  return t;
}

TL_KERNELS_END
