// The vectorised max-pooling forward (AVX-512 or AVX2 when compiled for it), the plain-C++ row
// maxima kernel (the AVX2 build's, called directly here in every build) and the scalar kernel,
// all against a window loop written here: values and argmax indices bit-identical, on random
// geometries (padding, stride, dilation, ceil mode's partial last windows, widths not a multiple
// of 16), with ties, -inf and NaN in the data. In the generic build the dispatcher runs the scalar
// kernel, so there the window loop is what makes these tests able to fail.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tl/kernels/pooling.hpp"

namespace {

using tl::kernels::Pool2dParams;

/// Each output: the window's taps in row-major order, padding skipped; a tap wins when it is
/// greater or NaN (PyTorch's rule: NaN propagates, the last NaN's index); the index of the first
/// tap inside the image when nothing wins (a window of -inf). A window with no tap inside the image
/// (only hand-made geometries: pool_output_size never makes one) gives -inf and, as PyTorch's loop
/// does, the offset of its first row and column at or past 0.
void window_max_pool(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
  for (int64_t pl = 0; pl < p.planes; ++pl)
    for (int64_t oh = 0; oh < p.P; ++oh)
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        float m = -std::numeric_limits<float>::infinity();
        int64_t best = -1;
        for (int64_t r = 0; r < p.kh; ++r)
          for (int64_t s = 0; s < p.kw; ++s) {
            const int64_t ih = oh * p.sh - p.ph + r * p.dh, iw = ow * p.sw - p.pw + s * p.dw;
            if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
            const float v = x[(pl * p.H + ih) * p.W + iw];
            if (best < 0) best = ih * p.W + iw;
            if (v > m || std::isnan(v)) m = v, best = ih * p.W + iw;
          }
        if (best < 0) {
          int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
          while (h0 < 0) h0 += p.dh;
          while (w0 < 0) w0 += p.dw;
          best = h0 * p.W + w0;
        }
        y[(pl * p.P + oh) * p.Q + ow] = m;
        idx[(pl * p.P + oh) * p.Q + ow] = best;
      }
}

bool same_pool(const std::vector<float>& y, const std::vector<int64_t>& i, const std::vector<float>& y_ref,
               const std::vector<int64_t>& i_ref) {
  for (size_t o = 0; o < y.size(); ++o) {
    const bool both_nan = std::isnan(y[o]) && std::isnan(y_ref[o]);
    if (!(both_nan || y[o] == y_ref[o]) || i[o] != i_ref[o]) return false;
  }
  return true;
}

void check_max_pool(const Pool2dParams& p, std::mt19937& rng) {
  const int64_t xs = p.planes * p.H * p.W, ys = p.planes * p.P * p.Q;
  std::uniform_int_distribution<int> v(-3, 3), special(0, 40);
  std::vector<float> x(static_cast<size_t>(xs));
  for (auto& e : x) {  // few distinct values: many ties
    const int s = special(rng);
    e = s == 0 ? std::numeric_limits<float>::quiet_NaN() : s == 1 ? -std::numeric_limits<float>::infinity()
                                                                  : static_cast<float>(v(rng));
  }
  std::vector<float> y(ys, 7.f), y_scalar(ys, 7.f), y_ref(ys);
  std::vector<int64_t> i(ys, -7), i_scalar(ys, -7), i_ref(ys);
  tl::kernels::max_pool2d_forward(p, x.data(), y.data(), i.data());
  tl::kernels::max_pool2d_forward_scalar(p, x.data(), y_scalar.data(), i_scalar.data());
  window_max_pool(p, x.data(), y_ref.data(), i_ref.data());
  INFO("planes=", p.planes, " H=", p.H, " W=", p.W, " k=", p.kh, "x", p.kw, " s=", p.sh, ",", p.sw, " pad=", p.ph,
       ",", p.pw, " dil=", p.dh, ",", p.dw, " out=", p.P, "x", p.Q);
  CHECK(same_pool(y, i, y_ref, i_ref));
  CHECK(same_pool(y_scalar, i_scalar, y_ref, i_ref));
  if (tl::kernels::max_pool2d_by_row_maxima_applies(p)) {  // the AVX2 build's kernel, called in every build
    std::vector<float> y_rows(ys, 7.f);
    std::vector<int64_t> i_rows(ys, -7), i_rows_d(ys, -7);
    tl::kernels::max_pool2d_by_row_maxima(p, x.data(), y_rows.data(), i_rows.data());
    CHECK(same_pool(y_rows, i_rows, y_ref, i_ref));
    const std::vector<double> xd(x.begin(), x.end());  // small integers, -inf and NaN: exact in both
    std::vector<double> yd(ys, 7.0);
    tl::kernels::max_pool2d_by_row_maxima(p, xd.data(), yd.data(), i_rows_d.data());
    CHECK(same_pool(std::vector<float>(yd.begin(), yd.end()), i_rows_d, y_ref, i_ref));
  }
}

}  // namespace

TEST_CASE("max_pool2d forward: vector and scalar kernels match a window loop exactly") {
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> k(1, 4), st(1, 3), dil(1, 2), hw(1, 40), planes(1, 5), ceil(0, 1);
  int checked = 0;
  for (int t = 0; t < 300; ++t) {
    Pool2dParams p;
    p.planes = planes(rng);
    p.H = hw(rng), p.W = hw(rng);
    p.kh = k(rng), p.kw = k(rng), p.sh = st(rng), p.sw = st(rng), p.dh = dil(rng), p.dw = dil(rng);
    p.ph = std::uniform_int_distribution<int>(0, static_cast<int>(p.kh / 2))(rng);
    p.pw = std::uniform_int_distribution<int>(0, static_cast<int>(p.kw / 2))(rng);
    const bool cm = ceil(rng) == 1;
    p.P = tl::kernels::pool_output_size(p.H, p.kh, p.sh, p.ph, p.dh, cm);
    p.Q = tl::kernels::pool_output_size(p.W, p.kw, p.sw, p.pw, p.dw, cm);
    if (p.P <= 0 || p.Q <= 0) continue;
    check_max_pool(p, rng);
    ++checked;
  }
  CHECK(checked > 200);
  Pool2dParams r;  // ResNet's stem pool: 3x3, stride 2, padding 1, on 112x112 -> 56x56
  r.planes = 3, r.H = r.W = 112, r.kh = r.kw = 3, r.sh = r.sw = 2, r.ph = r.pw = 1, r.P = r.Q = 56;
  check_max_pool(r, rng);
  Pool2dParams wide = r;  // stride 1 over 7 blocks of 16 columns: groups of 4 blocks and a partial group
  wide.planes = 2, wide.sh = wide.sw = 1, wide.P = wide.Q = 112;
  check_max_pool(wide, rng);
  Pool2dParams tall = r;  // one block per row: groups of 4 rows, windows past the bottom (ceil mode)
  tall.planes = 2, tall.H = 31, tall.W = 9, tall.P = tl::kernels::pool_output_size(31, 3, 2, 1, 1, true), tall.Q = 5;
  check_max_pool(tall, rng);
}

TEST_CASE("max_pool2d forward by row maxima (stride 1 or 2 along rows) matches a window loop exactly") {
  using tl::kernels::max_pool2d_by_row_maxima_applies;
  Pool2dParams resnet;  // ResNet's stem pool, 2x2 and 3x3 stride-1 pools take this path; others the tap kernel
  resnet.planes = 2, resnet.H = resnet.W = 112, resnet.kh = resnet.kw = 3, resnet.sh = resnet.sw = 2;
  resnet.ph = resnet.pw = 1, resnet.P = resnet.Q = 56;
  CHECK(max_pool2d_by_row_maxima_applies(resnet));
  Pool2dParams two = resnet;
  two.kh = two.kw = 2, two.ph = two.pw = 0;
  CHECK(max_pool2d_by_row_maxima_applies(two));
  Pool2dParams one = resnet;
  one.sh = one.sw = 1, one.P = one.Q = 112;
  CHECK(max_pool2d_by_row_maxima_applies(one));
  Pool2dParams no = resnet;
  no.sw = 3;
  CHECK_FALSE(max_pool2d_by_row_maxima_applies(no));
  no = resnet, no.dw = 2;
  CHECK_FALSE(max_pool2d_by_row_maxima_applies(no));
  no = resnet, no.kw = 3, no.pw = 0;  // tap 2q + 2
  CHECK_FALSE(max_pool2d_by_row_maxima_applies(no));
  no = resnet, no.kw = 5, no.pw = 2;
  CHECK_FALSE(max_pool2d_by_row_maxima_applies(no));
  no = resnet, no.kw = 4, no.pw = 2;  // taps 2q - 2 .. 2q + 1
  CHECK_FALSE(max_pool2d_by_row_maxima_applies(no));

  std::mt19937 rng(32);
  std::uniform_int_distribution<int> k(1, 4), st(1, 3), dil(1, 2), h(1, 40), w(1, 90), planes(1, 3), ceil(0, 1);
  int checked = 0;
  for (int t = 0; t < 600 && checked < 200; ++t) {
    Pool2dParams p;
    p.planes = planes(rng);
    p.H = h(rng), p.W = w(rng);
    p.kh = k(rng), p.kw = std::uniform_int_distribution<int>(1, 3)(rng), p.sh = st(rng);
    p.sw = std::uniform_int_distribution<int>(1, 2)(rng);
    p.dh = dil(rng), p.dw = 1;
    p.ph = std::uniform_int_distribution<int>(0, static_cast<int>(p.kh / 2))(rng);
    p.pw = std::uniform_int_distribution<int>(0, static_cast<int>(p.kw / 2))(rng);
    const bool cm = ceil(rng) == 1;
    p.P = tl::kernels::pool_output_size(p.H, p.kh, p.sh, p.ph, p.dh, cm);
    p.Q = tl::kernels::pool_output_size(p.W, p.kw, p.sw, p.pw, p.dw, cm);
    if (p.P <= 0 || p.Q <= 0 || !max_pool2d_by_row_maxima_applies(p)) continue;
    check_max_pool(p, rng);
    ++checked;
  }
  CHECK(checked == 200);
  check_max_pool(resnet, rng);
  check_max_pool(two, rng);
  check_max_pool(one, rng);
  Pool2dParams skip = resnet;  // dilation 2 over one row: the first output row's window holds no row
  skip.H = 1, skip.kh = 3, skip.sh = 3, skip.ph = 1, skip.dh = 2, skip.P = 1;
  check_max_pool(skip, rng);
  Pool2dParams edge = resnet;  // a 33-column row: the last block of 16 outputs reads one column
  edge.H = 5, edge.W = 33, edge.P = 3, edge.Q = 17;
  check_max_pool(edge, rng);
  edge.sh = edge.sw = 1, edge.P = 5, edge.Q = 33;  // stride 1: the last block holds one output
  check_max_pool(edge, rng);
}
