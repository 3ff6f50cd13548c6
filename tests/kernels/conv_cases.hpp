#pragma once
// The convolution test cases, included by several translation units that each compile the kernels
// with a different instruction set (native, forced-generic, AVX2): each defines TL_TEST_ISA (a
// string label) first. Every fast pass is compared with the reference kernel on the same inputs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kernel_check.hpp"
#include "tl/kernels/conv2d.hpp"
#include "tl/kernels/conv2d_ref.hpp"
#include "tl/kernels/copy_run.hpp"

namespace {

using tl::kernels::Conv2dParams;

/// Whether this translation unit's kernels are the named set ("avx512", "avx2" or "generic").
inline bool isa_is(const char* name) { return std::string(tl::kernels::kernel_isa_name()) == name; }
/// Whether they are a SIMD set (AVX-512 or AVX2), where the Winograd kernels are dispatched to.
inline bool simd_isa() { return !isa_is("generic"); }

/// Runs all three passes fast and reference on random data; returns false (with CHECKs failed) on a mismatch.
template <class T>
void check_conv(const Conv2dParams& p, std::mt19937& rng, double tol, bool with_bias = true) {
  const int64_t Cg = p.C / p.groups;
  const int64_t xs = p.N * p.C * p.H * p.W, ws = p.K * Cg * p.R * p.S, ys = p.N * p.K * p.P() * p.Q();
  auto x = random_vector<T>(rng, xs), w = random_vector<T>(rng, ws), b = random_vector<T>(rng, p.K);
  auto dy = random_vector<T>(rng, ys);
  const T* bp = with_bias ? b.data() : nullptr;
  INFO(describe(p));

  std::vector<T> y(ys, T(7)), y_ref(ys);
  tl::kernels::conv2d_forward(p, x.data(), w.data(), bp, y.data());
  tl::kernels::conv2d_forward_ref(p, x.data(), w.data(), bp, y_ref.data());
  CHECK_MESSAGE(max_rel_error(y, y_ref) <= tol, "forward");

  std::vector<T> dx(xs, T(7)), dx_ref(xs);
  tl::kernels::conv2d_backward_data(p, dy.data(), w.data(), dx.data());
  tl::kernels::conv2d_backward_data_ref(p, dy.data(), w.data(), dx_ref.data());
  CHECK_MESSAGE(max_rel_error(dx, dx_ref) <= tol, "backward data");

  std::vector<T> dw(ws, T(7)), dw_ref(ws), db(p.K, T(7)), db_ref(p.K);
  tl::kernels::conv2d_backward_weight(p, x.data(), dy.data(), dw.data(), with_bias ? db.data() : nullptr);
  tl::kernels::conv2d_backward_weight_ref(p, x.data(), dy.data(), dw_ref.data(), with_bias ? db_ref.data() : nullptr);
  CHECK_MESSAGE(max_rel_error(dw, dw_ref) <= tol, "backward weight");
  if (with_bias) CHECK_MESSAGE(max_rel_error(db, db_ref) <= tol, "backward bias");
}

Conv2dParams conv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t stride,
                  int64_t pad, int64_t groups = 1, int64_t dil = 1) {
  Conv2dParams p;
  p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = R, p.S = S;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.dil_h = p.dil_w = dil;
  p.groups = groups;
  return p;
}

}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d fast kernels match the reference on random geometries (float)") {
  std::mt19937 rng(1234);
  for (int i = 0; i < 150; ++i) check_conv<float>(random_conv(rng), rng, 1e-4, i % 3 != 0);
}

TEST_CASE(TL_TEST_ISA " conv2d fast kernels match the reference on random geometries (double)") {
  std::mt19937 rng(99);
  for (int i = 0; i < 60; ++i) check_conv<double>(random_conv(rng), rng, 1e-12);
}

TEST_CASE(TL_TEST_ISA " conv2d fast kernels on ResNet-like and blocking-edge shapes") {
  std::mt19937 rng(7);
  check_conv<float>(conv(2, 3, 23, 21, 8, 7, 7, 2, 3), rng, 1e-4);     // stem, C=3, odd sizes
  check_conv<float>(conv(2, 40, 9, 11, 37, 3, 3, 1, 1), rng, 1e-4);    // depth 360 > KC, K not multiple of MR
  check_conv<float>(conv(3, 20, 10, 10, 30, 3, 3, 2, 1), rng, 1e-4);   // stride 2
  check_conv<float>(conv(2, 33, 9, 9, 19, 1, 1, 1, 0), rng, 1e-4);     // pointwise
  check_conv<float>(conv(2, 16, 9, 9, 24, 1, 1, 2, 0), rng, 1e-4);     // pointwise stride 2 (downsample)
  check_conv<float>(conv(1, 300, 3, 3, 5, 1, 1, 1, 0), rng, 1e-4);     // depth 300 > KC on the pointwise path
  check_conv<float>(conv(1, 3, 5, 5, 600, 1, 1, 1, 0), rng, 1e-4);     // K > MC rows
  check_conv<float>(conv(1, 2, 30, 30, 3, 3, 3, 1, 1), rng, 1e-4);     // 900 columns > NC in one image
  check_conv<float>(conv(1, 24, 8, 8, 16, 3, 3, 1, 1), rng, 1e-4);     // N=1: backward data in channel blocks
  check_conv<float>(conv(1, 36, 6, 6, 16, 5, 5, 1, 2), rng, 1e-4);     // channel blocks with R*S=25
  check_conv<float>(conv(2, 32, 8, 8, 64, 3, 3, 1, 1, 8), rng, 1e-4);  // grouped (ResNeXt-like)
  check_conv<float>(conv(2, 12, 9, 9, 12, 3, 3, 1, 1, 12), rng, 1e-4); // depthwise
  check_conv<float>(conv(2, 6, 9, 9, 12, 3, 3, 2, 1, 6), rng, 1e-4);   // depthwise, multiplier 2, stride 2
  check_conv<float>(conv(2, 8, 12, 12, 8, 3, 3, 1, 2, 1, 2), rng, 1e-4);  // dilation 2
  check_conv<float>(conv(2, 8, 12, 12, 8, 3, 3, 1, 2, 8, 2), rng, 1e-4);  // depthwise dilated
}

TEST_CASE(TL_TEST_ISA " conv2d fast kernels on small images in large batches (ResNet at 32x32)") {
  // Backward data batches several images per GEMM here; images straddle column panels and tasks.
  std::mt19937 rng(17);
  check_conv<float>(conv(33, 24, 1, 1, 40, 3, 3, 1, 1), rng, 1e-4);   // 1x1 maps, 3x3 kernel (ResNet layer4)
  check_conv<float>(conv(35, 19, 2, 2, 44, 3, 3, 1, 1), rng, 1e-4);   // 2x2 maps
  check_conv<float>(conv(29, 18, 4, 3, 21, 3, 3, 2, 1), rng, 1e-4);   // stride 2 to 2x2
  check_conv<float>(conv(70, 9, 3, 3, 300, 3, 3, 1, 1), rng, 1e-4);   // K > KC: depth blocks accumulate
  check_conv<float>(conv(17, 10, 5, 5, 12, 1, 1, 2, 0), rng, 1e-4);   // pointwise stride 2
  check_conv<float>(conv(9, 6, 17, 15, 8, 3, 3, 1, 1), rng, 1e-4);    // PQ = 255: chunks of one image
  check_conv<double>(conv(21, 7, 2, 3, 9, 3, 3, 1, 1), rng, 1e-12);
}

TEST_CASE(TL_TEST_ISA " conv2d kernels cropped to the taps that touch the image") {
  using tl::kernels::crop_taps;
  const auto c1 = crop_taps(conv(2, 4, 1, 1, 4, 3, 3, 1, 1));  // 1x1 map: only the centre tap
  CHECK((c1.applies && c1.q.R == 1 && c1.q.S == 1 && c1.r0 == 1 && c1.s0 == 1 && c1.q.pad_h == 0));
  const auto c2 = crop_taps(conv(2, 4, 2, 2, 4, 3, 3, 2, 1));  // 2x2 -> 1x1, stride 2: taps 1..2
  CHECK((c2.applies && c2.q.R == 2 && c2.q.S == 2 && c2.r0 == 1 && c2.s0 == 1));
  const auto c3 = crop_taps(conv(2, 4, 1, 6, 4, 3, 3, 1, 1));  // 1 x 6 map: rows cropped, columns kept
  CHECK((c3.applies && c3.q.R == 1 && c3.q.S == 3 && c3.s0 == 0));
  CHECK_FALSE(crop_taps(conv(2, 4, 2, 2, 4, 3, 3, 1, 1)).applies);  // 2x2 map: every tap is used
  CHECK_FALSE(crop_taps(conv(2, 4, 8, 8, 4, 3, 3, 1, 1)).applies);
  std::mt19937 rng(23);
  check_conv<float>(conv(3, 5, 1, 1, 6, 3, 3, 1, 1), rng, 1e-5);
  check_conv<float>(conv(3, 5, 2, 2, 6, 3, 3, 2, 1), rng, 1e-5);
  check_conv<float>(conv(3, 5, 1, 6, 6, 3, 3, 1, 1), rng, 1e-5);
  check_conv<float>(conv(2, 4, 3, 3, 5, 3, 3, 1, 2, 1, 2), rng, 1e-5);  // dilation 2, padding 2
  check_conv<float>(conv(2, 4, 2, 3, 5, 5, 5, 1, 2), rng, 1e-5);        // 5x5 on 2x3
  check_conv<float>(conv(2, 6, 1, 1, 6, 3, 3, 1, 1, 2), rng, 1e-5);     // grouped
  check_conv<double>(conv(2, 3, 1, 2, 4, 3, 3, 2, 1), rng, 1e-12);
  // 96x96x3x3 = 82944 weights, above the 65536 at which crop/uncrop run in parallel
  check_conv<float>(conv(2, 96, 1, 1, 96, 3, 3, 1, 1), rng, 1e-4);  // 1x1 map: centre tap
  check_conv<float>(conv(2, 96, 2, 2, 96, 3, 3, 2, 1), rng, 1e-4);  // 2x2 -> 1x1, stride 2: 2x2 taps
  for (int i = 0; i < 40; ++i) {  // random small maps with large padded kernels
    std::uniform_int_distribution<int> d(1, 3), k(2, 5), st(1, 3);
    const int64_t R = k(rng), S = k(rng), H = d(rng), W = d(rng);
    Conv2dParams p = conv(d(rng), d(rng) + 1, H, W, d(rng) + 2, R, S, st(rng), 0, 1, d(rng) == 1 ? 2 : 1);
    p.R = R;
    p.S = S;
    p.pad_h = (R - 1) * p.dil_h;  // enough padding for any tap pattern to stay valid
    p.pad_w = (S - 1) * p.dil_w - (i % 2);
    if (p.P() < 1 || p.Q() < 1) continue;
    check_conv<float>(p, rng, 1e-5);
  }
}

TEST_CASE(TL_TEST_ISA " conv2d fast kernels on edge cases") {
  std::mt19937 rng(11);
  check_conv<float>(conv(1, 1, 1, 1, 1, 1, 1, 1, 0), rng, 1e-5);   // everything 1
  check_conv<float>(conv(3, 5, 1, 1, 4, 1, 1, 1, 0), rng, 1e-5);   // 1x1 images
  check_conv<float>(conv(2, 5, 1, 1, 4, 3, 3, 1, 1), rng, 1e-5);   // 1x1 image, 3x3 kernel, padding
  check_conv<float>(conv(2, 1, 7, 7, 1, 3, 3, 1, 1), rng, 1e-5);   // C=1, K=1
  check_conv<float>(conv(2, 1, 7, 6, 9, 3, 3, 1, 0), rng, 1e-5);   // C=1 (MNIST-like first layer)
  check_conv<float>(conv(1, 4, 5, 5, 1, 5, 5, 1, 0), rng, 1e-5);   // kernel as large as the image, K=1
  check_conv<float>(conv(2, 3, 4, 4, 2, 1, 1, 3, 2), rng, 1e-5);   // padding wider than the stride step
}

TEST_CASE(TL_TEST_ISA " conv2d fast kernels give the same result when called again (scratch reuse)") {
  std::mt19937 rng(5);
  const Conv2dParams big = conv(2, 20, 12, 12, 24, 3, 3, 1, 1), small = conv(1, 3, 5, 5, 4, 3, 3, 1, 1);
  auto x = random_vector<float>(rng, 2 * 20 * 144), w = random_vector<float>(rng, 24 * 20 * 9);
  std::vector<float> y1(2 * 24 * 144), y2(2 * 24 * 144), ys(4 * 25);
  tl::kernels::conv2d_forward(big, x.data(), w.data(), static_cast<const float*>(nullptr), y1.data());
  tl::kernels::conv2d_forward(small, x.data(), w.data(), static_cast<const float*>(nullptr), ys.data());
  tl::kernels::conv2d_forward(big, x.data(), w.data(), static_cast<const float*>(nullptr), y2.data());
  CHECK(y1 == y2);
}

namespace {
/// forward(p, x, w, y, ep), a convolution with an epilogue (per-channel scale, shift, a residual,
/// ReLU: the bits of `variant`), against the reference convolution followed by the same transform
/// in plain scalar code.
template <class T, class Forward>
void check_epilogue_forward(const Conv2dParams& p, std::mt19937& rng, double tol, int variant, Forward forward,
                            const char* what) {
  const int64_t Cg = p.C / p.groups, PQ = p.P() * p.Q();
  auto x = random_vector<T>(rng, p.N * p.C * p.H * p.W), w = random_vector<T>(rng, p.K * Cg * p.R * p.S);
  auto scale = random_vector<T>(rng, p.K), shift = random_vector<T>(rng, p.K);
  auto residual = random_vector<T>(rng, p.N * p.K * PQ);
  std::vector<T> y(p.N * p.K * PQ, T(7)), y_ref(p.N * p.K * PQ);
  tl::kernels::Epilogue<T> ep{variant & 1 ? scale.data() : nullptr, variant & 2 ? shift.data() : nullptr,
                              (variant & 4) != 0, variant & 8 ? residual.data() : nullptr, y.data()};
  INFO(what, ": ", describe(p), " scale ", (variant & 1), " shift ", (variant & 2), " relu ", (variant & 4),
       " residual ", (variant & 8));
  forward(p, x.data(), w.data(), y.data(), ep);
  tl::kernels::conv2d_forward_ref(p, x.data(), w.data(), static_cast<const T*>(nullptr), y_ref.data());
  int64_t clipped = 0;
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t i = 0; i < PQ; ++i) {
        T& v = y_ref[(n * p.K + k) * PQ + i];
        if (ep.scale) v *= scale[k];
        if (ep.shift) v += shift[k];
        if (ep.residual) v += residual[(n * p.K + k) * PQ + i];
        if (ep.relu && v <= T(0)) v = T(0), ++clipped;
      }
  CHECK_MESSAGE(max_rel_error(y, y_ref) <= tol, "forward with epilogue");
  if (ep.relu && y.size() > 40) CHECK(clipped > 0);
}

/// conv2d_forward_fused, the dispatching entry point.
template <class T>
void check_conv_epilogue(const Conv2dParams& p, std::mt19937& rng, double tol, int variant) {
  auto fused = [](const Conv2dParams& q, const T* x, const T* w, T* y, const tl::kernels::Epilogue<T>& ep) {
    tl::kernels::conv2d_forward_fused(q, x, w, y, ep);
  };
  check_epilogue_forward<T>(p, rng, tol, variant, fused, "conv2d_forward_fused");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d forward with a fused epilogue (scale, shift, residual, ReLU) matches conv then the transform") {
  std::mt19937 rng(77);
  for (int i = 0; i < 96; ++i) check_conv_epilogue<float>(random_conv(rng), rng, 1e-4, i % 16);
  for (int i = 0; i < 16; ++i) check_conv_epilogue<double>(random_conv(rng), rng, 1e-10, i);
  // Blocking edges (depth > KC, K > MC, columns > NC), 1x1 (plain GEMM), a cropped kernel, depthwise
  // (the pass-after path) and K not a multiple of the micro-tile rows; 14 and 15 add a residual.
  for (int v : {1, 3, 6, 7, 14, 15}) {
    check_conv_epilogue<float>(conv(2, 40, 9, 9, 600, 3, 3, 1, 1), rng, 1e-4, v);
    check_conv_epilogue<float>(conv(3, 64, 16, 16, 20, 1, 1, 1, 0), rng, 1e-4, v);
    check_conv_epilogue<float>(conv(4, 16, 1, 1, 24, 3, 3, 1, 1), rng, 1e-4, v);
    check_conv_epilogue<float>(conv(2, 12, 10, 10, 12, 3, 3, 2, 1, 12), rng, 1e-4, v);
    check_conv_epilogue<float>(conv(2, 8, 40, 40, 13, 3, 3, 1, 1), rng, 1e-4, v);
  }
}

namespace {
/// conv2d_forward_implicit called directly (whatever the dispatcher would pick); `variant` as in
/// check_epilogue_forward.
template <class T>
void check_implicit(const Conv2dParams& p, std::mt19937& rng, double tol, int variant = 2) {
  check_epilogue_forward<T>(p, rng, tol, variant, tl::kernels::conv2d_forward_implicit<T>, "conv2d_forward_implicit");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d implicit GEMM (stride 1, image read in place) matches the reference") {
  std::mt19937 rng(31);
  int checked = 0;
  for (int i = 0; i < 200 && checked < 100; ++i) {
    Conv2dParams p = random_conv(rng);
    p.stride_h = p.stride_w = 1;
    if (p.P() < 1 || p.Q() < 1) continue;
    check_implicit<float>(p, rng, 1e-4, i % 16);
    if (checked % 4 == 0) check_implicit<double>(p, rng, 1e-12, i % 16);
    ++checked;
  }
  CHECK(checked == 100);
  check_implicit<float>(conv(2, 3, 7, 50, 5, 1, 1, 1, 0), rng, 1e-5);      // 1x1 unpadded: in place, 350 = 10*32 + 30
  check_implicit<float>(conv(2, 40, 9, 11, 37, 3, 3, 1, 1), rng, 1e-4, 7);  // depth 360, K = 37 (row tail)
  check_implicit<float>(conv(1, 300, 3, 3, 5, 1, 1, 1, 0), rng, 1e-4);     // pointwise depth 300, in place
  // depth blocks (KC_IMPLICIT deep) that accumulate: 3x3, 1x1 in place, strided
  constexpr int64_t kc = tl::kernels::GemmBlocking::KC_IMPLICIT;
  static_assert(140 * 9 > kc && 1200 > kc && 130 * 9 > kc, "the cases below span two depth blocks");
  check_implicit<float>(conv(2, 140, 9, 11, 37, 3, 3, 1, 1), rng, 1e-4, 7);
  check_implicit<float>(conv(1, 1200, 3, 3, 5, 1, 1, 1, 0), rng, 1e-4);
  check_implicit<float>(conv(2, 130, 15, 15, 24, 3, 3, 2, 1), rng, 1e-4, 15);
  check_implicit<double>(conv(1, 140, 6, 7, 9, 3, 3, 1, 1), rng, 1e-12);
  check_implicit<float>(conv(9, 6, 5, 5, 8, 3, 3, 1, 1), rng, 1e-5);       // small maps: several images per task
  check_implicit<float>(conv(1, 8, 6, 6, 256, 3, 3, 1, 1), rng, 1e-4);     // one image: row chunks
  check_implicit<float>(conv(1, 4, 70, 70, 8, 3, 3, 1, 1), rng, 1e-5);     // 4966 positions: column chunks
  check_implicit<float>(conv(2, 8, 64, 40, 8, 1, 1, 1, 0), rng, 1e-5);     // in place, column chunks
  check_implicit<float>(conv(2, 8, 12, 12, 8, 3, 3, 1, 2, 1, 2), rng, 1e-5);  // dilation 2
  check_implicit<float>(conv(2, 32, 8, 8, 64, 3, 3, 1, 1, 8), rng, 1e-4);  // groups
  check_implicit<float>(conv(2, 5, 6, 7, 6, 3, 3, 1, 3), rng, 1e-5);       // padding beyond the kernel's reach
  Conv2dParams asym = conv(2, 5, 9, 4, 7, 2, 5, 1, 0);                      // R != S, pad_h != pad_w
  asym.pad_h = 1;
  asym.pad_w = 2;
  check_implicit<float>(asym, rng, 1e-5, 13);
}

TEST_CASE(TL_TEST_ISA " conv2d implicit GEMM with each tile's B packed first (AVX2: 96 rows or more)") {
  // Tasks of 96 or more output channels copy each whole tile's B into a panel (implicit_packs_b_tiles):
  // in place and padded, strided (window copies), two depth blocks, a row tail, partial tiles. Enough
  // images that the task plan keeps all the rows in one task.
  std::mt19937 rng(66);
  check_implicit<float>(conv(8, 20, 30, 40, 100, 1, 1, 1, 0), rng, 1e-4, 7);    // 1x1 in place, K = 16*6 + 4
  check_implicit<float>(conv(16, 1200, 4, 9, 96, 1, 1, 1, 0), rng, 1e-4, 15);   // two depth blocks
  check_implicit<float>(conv(16, 24, 11, 13, 130, 3, 3, 1, 1), rng, 1e-4, 13);  // padded: a window per task
  check_implicit<float>(conv(32, 9, 23, 21, 128, 3, 3, 2, 1), rng, 1e-4, 3);    // stride 2: phases
  check_implicit<double>(conv(40, 30, 9, 10, 102, 3, 3, 1, 1), rng, 1e-12);
}

TEST_CASE(TL_TEST_ISA " conv2d implicit GEMM shares the images evenly over the threads") {
  using tl::kernels::plan_implicit_tasks;
  // 32 images of 32x32 (1088 flat positions), 16 channels in and out: at most 3 images per task
  // fit the task's budget. Tasks of 3 would give one of 2 threads 17 images and the other 15.
  const auto two = plan_implicit_tasks(32, 1088, 16, 16, 1, 2, 8, 32);
  CHECK(two.images == 2);
  CHECK(two.image_tasks == 16);
  const auto one = plan_implicit_tasks(32, 1088, 16, 16, 1, 1, 8, 32);  // one thread: nothing to even out
  CHECK(one.images == 3);
  CHECK(one.image_tasks == 11);
  const auto three = plan_implicit_tasks(32, 1088, 16, 16, 1, 3, 8, 32);  // 11 tasks of 3: 4 rounds, 12 images
  CHECK(three.images == 3);
  const auto cifar = plan_implicit_tasks(32, 288, 32, 32, 1, 2, 8, 32);  // 16x16 maps: 5 tasks of 7 images
  CHECK(cifar.images == 4);
  CHECK(cifar.image_tasks == 8);
  const auto seven = plan_implicit_tasks(7, 288, 16, 16, 1, 2, 8, 32);  // 7 images of 16x16 fit one task
  CHECK(seven.images == 4);
  CHECK(seven.image_tasks == 2);
  const auto large = plan_implicit_tasks(8, 3248, 64, 64, 1, 2, 8, 32);  // 56x56 maps: column chunks
  CHECK(large.images == 1);
  CHECK(large.col_tasks == 4);
  std::mt19937 rng(63);
  check_implicit<float>(conv(7, 16, 16, 16, 16, 3, 3, 1, 1), rng, 1e-4);  // tasks of 4 and 3 images
  check_implicit<float>(conv(5, 6, 5, 5, 8, 3, 3, 1, 1, 2), rng, 1e-5);   // two groups, tasks of 3 and 2
}

TEST_CASE(TL_TEST_ISA " conv2d implicit GEMM computes the partial last tiles of 1x1 layers together") {
  using tl::kernels::pointwise_tail;
  constexpr int64_t nr = tl::kernels::OffsetMicroKernel<float>::nr;
  std::mt19937 rng(41);
  // 14x14 and 10x10 maps end 4 pixels past a whole tile of 32 (and of 16): those of 8 images fill one
  const Conv2dParams resnet = conv(8, 40, 14, 14, 24, 1, 1, 1, 0);
  REQUIRE(pointwise_tail(resnet, nr) == 4);
  for (int v : {0, 2, 7, 15}) check_implicit<float>(resnet, rng, 1e-4, v);
  const Conv2dParams deep = conv(9, 300, 10, 10, 37, 1, 1, 1, 0);  // depth 300, K = 37, 36 tail pixels
  REQUIRE(pointwise_tail(deep, nr) == 4);
  check_implicit<float>(deep, rng, 1e-4, 15);
  const Conv2dParams deeper = conv(9, 1200, 10, 10, 37, 1, 1, 1, 0);  // two depth blocks (KC_IMPLICIT)
  REQUIRE(1200 > tl::kernels::GemmBlocking::KC_IMPLICIT);
  check_implicit<float>(deeper, rng, 1e-4, 15);
  const Conv2dParams groups = conv(8, 32, 10, 10, 16, 1, 1, 1, 0, 4);
  REQUIRE(pointwise_tail(groups, nr) == 4);
  check_implicit<float>(groups, rng, 1e-4, 7);
  const Conv2dParams odd = conv(3, 16, 7, 50, 11, 1, 1, 1, 0);  // 350 pixels: tails of 30 (14 with tiles of 16)
  REQUIRE(pointwise_tail(odd, nr) > 0);
  check_implicit<float>(odd, rng, 1e-4, 11);
  const Conv2dParams wide = conv(8, 12, 10, 10, 10, 1, 1, 1, 0);
  REQUIRE(pointwise_tail(wide, tl::kernels::OffsetMicroKernel<double>::nr) > 0);
  check_implicit<double>(wide, rng, 1e-12, 15);
  // through the dispatcher, which picks the implicit GEMM for these
  const Conv2dParams dispatched = conv(8, 24, 10, 10, 20, 1, 1, 1, 0);
  REQUIRE(tl::kernels::conv2d_implicit_preferred(dispatched, nr));
  for (int v : {3, 14}) check_conv_epilogue<float>(dispatched, rng, 1e-4, v);
  // too few tail pixels to fill a tile together (one image), or none (56x56 = 98 tiles)
  CHECK(pointwise_tail(conv(1, 40, 14, 14, 24, 1, 1, 1, 0), nr) == 0);
  CHECK(pointwise_tail(conv(8, 40, 56, 56, 24, 1, 1, 1, 0), 32) == 0);
  CHECK(pointwise_tail(conv(8, 40, 14, 14, 24, 3, 3, 1, 1), nr) == 0);  // 3x3: wrap columns, not tails
  check_implicit<float>(conv(1, 40, 14, 14, 24, 1, 1, 1, 0), rng, 1e-4, 15);
}

TEST_CASE(TL_TEST_ISA " conv2d runs strided 1x1 layers on the subsampled image") {
  using tl::kernels::conv2d_subsample_preferred;
  std::mt19937 rng(43);
  const Conv2dParams down = conv(2, 16, 19, 19, 24, 1, 1, 2, 0);  // 10x10 outputs
  REQUIRE(conv2d_subsample_preferred(down));
  check_conv<float>(down, rng, 1e-4, true);
  for (int v : {7, 15}) check_conv_epilogue<float>(down, rng, 1e-4, v);
  Conv2dParams uneven = conv(3, 8, 31, 26, 12, 1, 1, 2, 0, 4);  // strides 3 and 2, groups
  uneven.stride_h = 3;
  REQUIRE(conv2d_subsample_preferred(uneven));
  check_conv<float>(uneven, rng, 1e-4, false);
  check_conv_epilogue<float>(uneven, rng, 1e-4, 15);
  const Conv2dParams wide = conv(2, 8, 8, 8, 512, 1, 1, 2, 0);  // 4x4 outputs, 512 of them
  REQUIRE(conv2d_subsample_preferred(wide));
  check_conv_epilogue<float>(wide, rng, 1e-4, 3);
  CHECK(conv2d_subsample_preferred(conv(8, 256, 56, 56, 512, 1, 1, 2, 0)));     // ResNet-50's shortcuts
  CHECK(conv2d_subsample_preferred(conv(8, 1024, 14, 14, 2048, 1, 1, 2, 0)));
  CHECK(conv2d_subsample_preferred(conv(8, 64, 56, 56, 128, 1, 1, 2, 0)));      // ResNet-18's
  CHECK_FALSE(conv2d_subsample_preferred(conv(32, 128, 16, 16, 256, 1, 1, 2, 0)));  // 8x8 outputs: 0.85x
  CHECK_FALSE(conv2d_subsample_preferred(conv(8, 64, 56, 56, 128, 3, 3, 2, 1)));    // 3x3
  CHECK_FALSE(conv2d_subsample_preferred(conv(8, 64, 56, 56, 128, 1, 1, 2, 1)));    // padded
  CHECK_FALSE(conv2d_subsample_preferred(conv(8, 64, 56, 56, 128, 1, 1, 1, 0)));    // stride 1
}

TEST_CASE(TL_TEST_ISA " the window copies' short runs: plain, strided and zero-filled") {
  // Sources sized exactly, so that a read past the last element needed shows in the sanitizer build.
  for (int64_t stride : {0, 1, 2, 3}) {  // 0: copy_run, else copy_strided_run
    for (int64_t n = 0; n <= 50; ++n) {
      const int64_t step = std::max<int64_t>(stride, 1);
      std::vector<float> src(static_cast<size_t>(std::max<int64_t>(1, (n - 1) * step + 1)));
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
      std::vector<float> dst(static_cast<size_t>(n + 1), -1.0f);
      if (stride == 0)
        tl::kernels::copy_run(dst.data(), src.data(), n);
      else
        tl::kernels::copy_strided_run(dst.data(), src.data(), n, stride);
      INFO("n ", n, " stride ", stride);
      for (int64_t i = 0; i < n; ++i) CHECK(dst[i] == src[i * step]);
      CHECK(dst[n] == -1.0f);  // nothing written past n
      tl::kernels::zero_run(dst.data(), n);
      for (int64_t i = 0; i < n; ++i) CHECK(dst[i] == 0.0f);
      CHECK(dst[n] == -1.0f);
    }
  }
}

TEST_CASE(TL_TEST_ISA " conv2d implicit GEMM with strides (phase-split image) matches the reference") {
  std::mt19937 rng(37);
  int checked = 0;
  for (int i = 0; i < 400 && checked < 100; ++i) {
    const Conv2dParams p = random_conv(rng);  // strides 1-3, either dimension
    if (p.stride_h == 1 && p.stride_w == 1) continue;
    check_implicit<float>(p, rng, 1e-4, i % 16);
    if (checked % 4 == 0) check_implicit<double>(p, rng, 1e-12, i % 16);
    ++checked;
  }
  CHECK(checked == 100);
  check_implicit<float>(conv(2, 3, 40, 38, 64, 7, 7, 2, 3), rng, 1e-4);    // a stem: 4 phases, Wf = 22
  check_implicit<float>(conv(2, 16, 14, 14, 24, 1, 1, 2, 0), rng, 1e-4);   // 1x1 stride 2: one phase, in place
  check_implicit<float>(conv(2, 16, 15, 15, 24, 3, 3, 2, 1), rng, 1e-4, 7);  // odd map: phases of unequal size
  check_implicit<float>(conv(1, 4, 70, 70, 8, 3, 3, 2, 1), rng, 1e-5);     // column chunks
  check_implicit<float>(conv(2, 8, 13, 13, 8, 3, 3, 2, 2, 1, 2), rng, 1e-5);  // dilation 2 at stride 2: one phase
  check_implicit<float>(conv(2, 8, 13, 13, 8, 3, 3, 3, 1, 1, 2), rng, 1e-5);  // dilation 2 at stride 3: all phases
  check_implicit<float>(conv(2, 32, 9, 9, 64, 3, 3, 2, 1, 8), rng, 1e-4);  // groups
}

namespace {
/// conv2d_backward_data_phased, called directly, against the reference; dx starts as 7s, so a pixel
/// that no phase writes shows.
template <class T>
void check_phased(const Conv2dParams& p, std::mt19937& rng, double tol) {
  const int64_t xs = p.N * p.C * p.H * p.W, ws = p.K * (p.C / p.groups) * p.R * p.S, ys = p.N * p.K * p.P() * p.Q();
  auto w = random_vector<T>(rng, ws), dy = random_vector<T>(rng, ys);
  std::vector<T> dx(xs, T(7)), dx_ref(xs);
  INFO(describe(p));
  tl::kernels::conv2d_backward_data_phased(p, dy.data(), w.data(), dx.data());
  tl::kernels::conv2d_backward_data_ref(p, dy.data(), w.data(), dx_ref.data());
  CHECK(max_rel_error(dx, dx_ref) <= tol);
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d backward data by phases of dX (strided) matches the reference") {
  std::mt19937 rng(61);
  for (int i = 0; i < 150; ++i) {
    const Conv2dParams p = random_conv(rng);  // strides 1-3, either dimension; stride 1 is one phase
    check_phased<float>(p, rng, 1e-4);
    if (i % 4 == 0) check_phased<double>(p, rng, 1e-12);
  }
  check_phased<float>(conv(2, 3, 40, 38, 64, 7, 7, 2, 3), rng, 1e-4);       // a stem: 3 x 128 tiles (AVX-512)
  check_phased<float>(conv(2, 6, 20, 21, 8, 5, 5, 2, 2, 2), rng, 1e-4);     // 3 channels per group, 2 groups
  check_phased<float>(conv(3, 2, 17, 17, 5, 3, 3, 2, 1), rng, 1e-4);        // 2 channels: a row of the tile unused
  check_phased<double>(conv(2, 3, 40, 38, 64, 7, 7, 2, 3), rng, 1e-12);
  check_phased<float>(conv(2, 16, 15, 15, 24, 3, 3, 2, 1), rng, 1e-4);      // odd map: phases of unequal size
  check_phased<float>(conv(2, 16, 14, 14, 24, 1, 1, 2, 0), rng, 1e-4);      // 1x1: three phases get no tap
  check_phased<float>(conv(2, 8, 13, 13, 8, 3, 3, 2, 2, 1, 2), rng, 1e-5);  // dilation 2 at stride 2: likewise
  check_phased<float>(conv(2, 8, 13, 13, 8, 3, 3, 3, 1, 1, 2), rng, 1e-5);  // dilation 2 at stride 3
  check_phased<float>(conv(2, 4, 9, 9, 4, 3, 3, 2, 3), rng, 1e-5);          // padding past the kernel's reach
  check_phased<float>(conv(2, 32, 9, 9, 64, 3, 3, 2, 1, 8), rng, 1e-4);     // groups
  check_phased<float>(conv(1, 8, 70, 70, 128, 3, 3, 2, 1), rng, 1e-4);      // row blocks, depth past KC
  check_phased<float>(conv(4, 16, 12, 12, 32, 3, 3, 2, 1), rng, 1e-4);      // several images per task
  Conv2dParams uneven = conv(2, 8, 23, 30, 16, 3, 5, 2, 2);                  // strides 3 x 2, 3x5 kernel
  uneven.stride_h = 3;
  check_phased<float>(uneven, rng, 1e-4);
}

TEST_CASE(TL_TEST_ISA " conv2d picks the backward data by phases only where it measured faster") {
  using tl::kernels::conv2d_phased_backward_data_preferred;
  using tl::kernels::phased_tile_width;
  std::mt19937 rng(62);
  auto preferred = [](const Conv2dParams& p) {
    return conv2d_phased_backward_data_preferred(p, phased_tile_width<float>(p.C / p.groups));
  };
  const Conv2dParams small = conv(2, 16, 24, 24, 32, 3, 3, 2, 1);  // 12x12 phases, 90% kept
  REQUIRE(preferred(small));
  check_conv<float>(small, rng, 1e-4);
  const Conv2dParams stem = conv(2, 3, 64, 64, 16, 7, 7, 2, 3);
  REQUIRE(preferred(stem));
  check_conv<float>(stem, rng, 1e-4, false);
  CHECK(preferred(conv(8, 64, 56, 56, 128, 3, 3, 2, 1)));      // ResNet's 3x3 stride-2 layers: 1.2-1.4x
  CHECK(preferred(conv(8, 128, 28, 28, 256, 3, 3, 2, 1)));     // 1.15x
  CHECK(preferred(conv(8, 3, 224, 224, 64, 7, 7, 2, 3)));      // the stem: 1.3-1.6x
  CHECK(preferred(conv(32, 64, 32, 32, 128, 3, 3, 2, 1)));     // ResNet-18 at 32x32: 1.3x
  CHECK_FALSE(preferred(conv(8, 256, 14, 14, 512, 3, 3, 2, 1)));   // 7x7 phases: 0.6-0.75x
  CHECK_FALSE(preferred(conv(32, 128, 16, 16, 256, 3, 3, 2, 1)));  // 8x8 phases: 0.83x
  CHECK_FALSE(preferred(conv(8, 256, 56, 56, 512, 1, 1, 2, 0)));   // 1x1: 0.8x
  CHECK_FALSE(preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 1)));     // stride 1
}

TEST_CASE(TL_TEST_ISA " the phases of a dX row interleave into it") {
  // Sources sized exactly, so that a read past the last element needed shows in the sanitizer build.
  for (int64_t stride : {1, 2, 3}) {
    for (int64_t n = 0; n <= 70; ++n) {
      std::vector<std::vector<float>> phase(static_cast<size_t>(stride));
      const float* src[3];
      for (int64_t b = 0; b < stride; ++b) {
        const int64_t count = b < n ? (n - b + stride - 1) / stride : 0;
        phase[b].resize(static_cast<size_t>(std::max<int64_t>(count, 1)));
        for (int64_t i = 0; i < count; ++i) phase[b][i] = static_cast<float>(i * stride + b) + 0.5f;
        src[b] = phase[b].data();
      }
      std::vector<float> dst(static_cast<size_t>(n + 1), -1.0f);
      tl::kernels::interleave_phases(src, stride, n, dst.data());
      INFO("n ", n, " stride ", stride);
      for (int64_t j = 0; j < n; ++j) CHECK(dst[j] == static_cast<float>(j) + 0.5f);
      CHECK(dst[n] == -1.0f);  // nothing written past n
    }
  }
}

TEST_CASE(TL_TEST_ISA " conv2d picks the indirect GEMM for small output maps") {
  using tl::kernels::conv2d_indirect_preferred;
  CHECK(conv2d_indirect_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)));
  CHECK(conv2d_indirect_preferred(conv(8, 256, 14, 14, 512, 3, 3, 2, 1)));  // 7x7 out
  CHECK(conv2d_indirect_preferred(conv(32, 256, 8, 8, 256, 3, 3, 1, 1)));
  CHECK(conv2d_indirect_preferred(conv(32, 512, 1, 1, 512, 3, 3, 1, 1)));
  CHECK(conv2d_indirect_preferred(conv(8, 256, 14, 14, 256, 3, 3, 1, 1)));
  CHECK_FALSE(conv2d_indirect_preferred(conv(8, 1024, 14, 14, 256, 1, 1, 1, 0)));  // 1x1 at 14x14
  CHECK_FALSE(conv2d_indirect_preferred(conv(32, 128, 16, 16, 128, 3, 3, 1, 1)));
  CHECK_FALSE(conv2d_indirect_preferred(conv(32, 64, 18, 18, 128, 1, 1, 2, 0)));  // 1x1, 9x9 out
}

TEST_CASE(TL_TEST_ISA " conv2d picks the implicit GEMM only where it measured faster") {
  using tl::kernels::conv2d_implicit_preferred;
  CHECK(conv2d_implicit_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 1), 32));
  CHECK(conv2d_implicit_preferred(conv(8, 256, 56, 56, 64, 1, 1, 1, 0), 32));
  CHECK(conv2d_implicit_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1), 32));    // 49 of 64 kept, 3x3
  CHECK_FALSE(conv2d_implicit_preferred(conv(8, 2048, 7, 7, 512, 1, 1, 1, 0), 32));  // 49 of 64, 1x1
  CHECK(conv2d_implicit_preferred(conv(8, 1024, 14, 14, 256, 1, 1, 1, 0), 32));    // tails gathered
  CHECK(conv2d_implicit_preferred(conv(8, 1024, 10, 10, 256, 1, 1, 1, 0), 32));    // tails gathered
  CHECK_FALSE(conv2d_implicit_preferred(conv(4, 1024, 10, 10, 256, 1, 1, 1, 0), 32));  // 100 of 128, no gather
  CHECK_FALSE(conv2d_implicit_preferred(conv(32, 256, 8, 8, 256, 3, 3, 1, 1), 32));  // 64 of 96
  CHECK(conv2d_implicit_preferred(conv(8, 3, 224, 224, 64, 7, 7, 2, 3), 32));       // stem: phase-split
  CHECK_FALSE(tl::kernels::conv2d_implicit_applies(conv(1, 2, 300, 300, 4, 3, 3, 65, 0)));  // phases: 64-bit mask
  CHECK(conv2d_implicit_preferred(conv(8, 64, 56, 56, 128, 3, 3, 2, 1), 32));       // 3x3 stride 2
  CHECK_FALSE(conv2d_implicit_preferred(conv(8, 256, 56, 56, 512, 1, 1, 2, 0), 32));  // 1x1 stride 2
  CHECK_FALSE(conv2d_implicit_preferred(conv(32, 64, 8, 8, 128, 3, 3, 2, 1), 32));    // 16 of 32 kept
}

namespace {
/// conv2d_forward_indirect called directly; `variant` as in check_epilogue_forward.
template <class T>
void check_indirect(const Conv2dParams& p, std::mt19937& rng, double tol, int variant = 2) {
  auto indirect = [](const Conv2dParams& q, const T* x, const T* w, T* y, const tl::kernels::Epilogue<T>& ep) {
    tl::kernels::conv2d_forward_indirect(q, x, w, y, ep);
  };
  check_epilogue_forward<T>(p, rng, tol, variant, indirect, "conv2d_forward_indirect");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d indirect GEMM (positions as rows) matches the reference") {
  std::mt19937 rng(47);
  for (int i = 0; i < 100; ++i) {
    const Conv2dParams p = random_conv(rng);  // any stride, padding, dilation, groups
    check_indirect<float>(p, rng, 1e-4, i % 16);
    if (i % 4 == 0) check_indirect<double>(p, rng, 1e-12, i % 16);
  }
  check_indirect<float>(conv(8, 64, 7, 7, 96, 3, 3, 1, 1), rng, 1e-4, 7);    // 392 positions, 3 panels
  check_indirect<float>(conv(3, 300, 4, 4, 40, 1, 1, 1, 0), rng, 1e-4);      // depth 300 > KC, unpadded
  check_indirect<float>(conv(2, 40, 9, 9, 33, 3, 3, 1, 1), rng, 1e-4, 15);   // depth 360 > KC, K = 33
  check_indirect<float>(conv(5, 8, 8, 8, 16, 3, 3, 2, 1), rng, 1e-5);        // stride 2
  check_indirect<float>(conv(2, 32, 6, 6, 64, 3, 3, 1, 2, 8, 2), rng, 1e-4); // groups, dilation 2
  check_indirect<float>(conv(40, 8, 5, 5, 8, 3, 3, 1, 1), rng, 1e-5);       // 1000 positions: chunks
}

namespace {
/// A 1x1 layer's backward data as the indirect forward of dY reading w as W~^T (IndirectWeights::Transposed).
template <class T>
void check_indirect_backward_data(const Conv2dParams& p, std::mt19937& rng, double tol) {
  Conv2dParams t;
  REQUIRE(tl::kernels::backward_data_as_forward(p, t));
  auto w = random_vector<T>(rng, p.K * (p.C / p.groups)), dy = random_vector<T>(rng, p.N * p.K * p.P() * p.Q());
  std::vector<T> dx(p.N * p.C * p.H * p.W, T(7)), dx_ref(dx.size());
  INFO(describe(p));
  tl::kernels::conv2d_forward_indirect(t, dy.data(), w.data(), dx.data(), tl::kernels::Epilogue<T>{},
                                       tl::kernels::IndirectWeights::Transposed);
  tl::kernels::conv2d_backward_data_ref(p, dy.data(), w.data(), dx_ref.data());
  CHECK_MESSAGE(max_rel_error(dx, dx_ref) <= tol, "indirect backward data");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d 1x1 backward data through the indirect GEMM (weight read as it is) matches the reference") {
  std::mt19937 rng(4242);
  check_indirect_backward_data<float>(conv(8, 96, 7, 7, 160, 1, 1, 1, 0), rng, 1e-4);     // depth 160, 3 panels
  check_indirect_backward_data<float>(conv(2, 37, 3, 5, 300, 1, 1, 1, 0), rng, 1e-4);     // depth 300 > KC, 37 outputs
  check_indirect_backward_data<float>(conv(3, 64, 4, 4, 48, 1, 1, 1, 0, 4), rng, 1e-4);   // groups: 16 -> 12
  check_indirect_backward_data<double>(conv(4, 40, 6, 6, 24, 1, 1, 1, 0, 2), rng, 1e-12);
  using tl::kernels::conv2d_indirect_backward_data_preferred;
  CHECK(conv2d_indirect_backward_data_preferred(conv(8, 2048, 7, 7, 512, 1, 1, 1, 0)));
  CHECK(conv2d_indirect_backward_data_preferred(conv(32, 512, 4, 4, 2048, 1, 1, 1, 0)));
  CHECK_FALSE(conv2d_indirect_backward_data_preferred(conv(32, 256, 8, 8, 512, 1, 1, 1, 0)));   // 8x8
  CHECK_FALSE(conv2d_indirect_backward_data_preferred(conv(32, 512, 7, 7, 2048, 1, 1, 1, 0)));  // 1568 positions
  CHECK_FALSE(conv2d_indirect_backward_data_preferred(conv(8, 256, 14, 14, 512, 1, 1, 2, 0)));  // stride 2
  CHECK_FALSE(conv2d_indirect_backward_data_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)));    // 3x3
  // Through the dispatching entry point (all three passes).
  check_conv<float>(conv(8, 128, 7, 7, 256, 1, 1, 1, 0), rng, 1e-4);
  check_conv<float>(conv(16, 64, 5, 5, 40, 1, 1, 1, 0, 2), rng, 1e-4, false);
}

namespace {
/// A weight-gradient kernel (dw and db, overwritten) called directly against the reference.
template <class T, class Kernel>
void check_weight_grad_kernel(const Conv2dParams& p, std::mt19937& rng, double tol, Kernel kernel, const char* name) {
  const int64_t ws = p.K * (p.C / p.groups) * p.R * p.S;
  auto x = random_vector<T>(rng, p.N * p.C * p.H * p.W), dy = random_vector<T>(rng, p.N * p.K * p.P() * p.Q());
  INFO(describe(p));
  std::vector<T> dw(ws, T(7)), dw_ref(ws), db(p.K, T(7)), db_ref(p.K);
  kernel(p, x.data(), dy.data(), dw.data(), db.data());
  tl::kernels::conv2d_backward_weight_ref(p, x.data(), dy.data(), dw_ref.data(), db_ref.data());
  CHECK_MESSAGE(max_rel_error(dw, dw_ref) <= tol, name);
  CHECK_MESSAGE(max_rel_error(db, db_ref) <= tol, "bias gradient");
}

/// check(p, T(), tol) on 100 random geometries (any stride, padding, dilation, groups): in float,
/// and every 4th also in double.
template <class Check>
void on_random_geometries(std::mt19937& rng, Check check) {
  for (int i = 0; i < 100; ++i) {
    const Conv2dParams p = random_conv(rng);
    check(p, float(), 1e-4);
    if (i % 4 == 0) check(p, double(), 1e-12);
  }
}

template <class T>
void check_implicit_weight_grad(const Conv2dParams& p, std::mt19937& rng, double tol) {
  check_weight_grad_kernel<T>(p, rng, tol, tl::kernels::conv2d_backward_weight_implicit<T>, "implicit weight gradient");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d implicit weight gradient matches the reference") {
  std::mt19937 rng(41);
  int checked = 0;
  for (int i = 0; i < 200 && checked < 100; ++i) {
    Conv2dParams p = random_conv(rng);
    p.stride_h = p.stride_w = 1;
    if (p.P() < 1 || p.Q() < 1) continue;
    check_implicit_weight_grad<float>(p, rng, 1e-4);
    if (checked % 4 == 0) check_implicit_weight_grad<double>(p, rng, 1e-12);
    ++checked;
  }
  CHECK(checked == 100);
  // Both work splits (outputs on small maps, positions on large ones), ragged tap and channel
  // panels, depth blocks, several chunks per image, groups, dilation, unpadded 1x1.
  check_implicit_weight_grad<float>(conv(8, 40, 7, 7, 72, 3, 3, 1, 1), rng, 1e-4);    // split outputs (2 threads)
  check_implicit_weight_grad<float>(conv(2, 13, 5, 6, 37, 3, 3, 1, 1, 1), rng, 1e-4);  // D = 117, K = 37
  check_implicit_weight_grad<float>(conv(2, 6, 40, 45, 20, 3, 3, 1, 1), rng, 1e-4);   // chunks, depth blocks
  check_implicit_weight_grad<float>(conv(3, 16, 30, 30, 8, 1, 1, 1, 0), rng, 1e-4);   // unpadded 1x1
  check_implicit_weight_grad<float>(conv(2, 8, 12, 12, 8, 3, 3, 1, 2, 1, 2), rng, 1e-4);  // dilation 2
  check_implicit_weight_grad<float>(conv(2, 32, 9, 9, 64, 3, 3, 1, 1, 8), rng, 1e-4);     // groups
  check_implicit_weight_grad<float>(conv(2, 5, 9, 8, 6, 5, 3, 1, 0), rng, 1e-4);          // unpadded 5x3
  check_implicit_weight_grad<double>(conv(8, 20, 6, 6, 40, 3, 3, 1, 1), rng, 1e-12);
  // 16 outputs per group or fewer (16-wide tiles): 128-deep steps with and without a remainder,
  // both work splits, groups, a stride.
  check_implicit_weight_grad<float>(conv(4, 16, 32, 32, 16, 3, 3, 1, 1), rng, 1e-4);     // split positions
  check_implicit_weight_grad<float>(conv(2, 16, 10, 10, 16, 3, 3, 1, 1), rng, 1e-4);     // split outputs, L = 120
  check_implicit_weight_grad<float>(conv(3, 7, 14, 14, 11, 3, 3, 1, 1), rng, 1e-4);      // K = 11, D = 63
  check_implicit_weight_grad<float>(conv(2, 24, 15, 15, 24, 3, 3, 1, 1, 3), rng, 1e-4);  // groups: 8 -> 8
  check_implicit_weight_grad<float>(conv(4, 8, 33, 33, 16, 3, 3, 2, 1), rng, 1e-4);      // stride 2
  check_implicit_weight_grad<double>(conv(2, 16, 12, 12, 16, 3, 3, 1, 1), rng, 1e-12);
}

TEST_CASE(TL_TEST_ISA " conv2d implicit weight gradient with strides (phase-split image) matches the reference") {
  std::mt19937 rng(43);
  int checked = 0;
  for (int i = 0; i < 400 && checked < 100; ++i) {
    const Conv2dParams p = random_conv(rng);
    if (p.stride_h == 1 && p.stride_w == 1) continue;
    check_implicit_weight_grad<float>(p, rng, 1e-4);
    if (checked % 4 == 0) check_implicit_weight_grad<double>(p, rng, 1e-12);
    ++checked;
  }
  CHECK(checked == 100);
  check_implicit_weight_grad<float>(conv(2, 3, 40, 38, 64, 7, 7, 2, 3), rng, 1e-4);   // a stem, split positions
  check_implicit_weight_grad<float>(conv(8, 40, 13, 13, 72, 3, 3, 2, 1), rng, 1e-4);  // split outputs (2 threads)
  check_implicit_weight_grad<float>(conv(3, 16, 30, 30, 8, 1, 1, 2, 0), rng, 1e-4);   // 1x1 stride 2
  check_implicit_weight_grad<float>(conv(2, 32, 9, 9, 64, 3, 3, 2, 1, 8), rng, 1e-4); // groups
}

namespace {
template <class T>
void check_indirect_weight_grad(const Conv2dParams& p, std::mt19937& rng, double tol) {
  check_weight_grad_kernel<T>(p, rng, tol, tl::kernels::conv2d_backward_weight_indirect<T>, "indirect weight gradient");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d indirect weight gradient matches the reference") {
  std::mt19937 rng(53);
  on_random_geometries(rng, [&](const Conv2dParams& p, auto type, double tol) {
    check_indirect_weight_grad<decltype(type)>(p, rng, tol);
  });
  check_indirect_weight_grad<float>(conv(8, 64, 7, 7, 96, 3, 3, 1, 1), rng, 1e-4);   // 392 positions > KC, 3 panels
  check_indirect_weight_grad<float>(conv(3, 300, 4, 4, 40, 1, 1, 1, 0), rng, 1e-4);  // unpadded, K = 40
  check_indirect_weight_grad<float>(conv(5, 8, 8, 8, 16, 3, 3, 2, 1), rng, 1e-4);    // stride 2
  check_indirect_weight_grad<float>(conv(2, 32, 6, 6, 64, 3, 3, 1, 2, 8, 2), rng, 1e-4);  // groups, dilation 2
  check_indirect_weight_grad<float>(conv(1, 2, 3, 3, 200, 3, 3, 1, 1), rng, 1e-4);   // D = 18: one tap block
}

TEST_CASE(TL_TEST_ISA " conv2d picks the indirect weight gradient only where it measured faster") {
  using tl::kernels::conv2d_indirect_weight_grad_preferred;
  CHECK(conv2d_indirect_weight_grad_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)));
  CHECK(conv2d_indirect_weight_grad_preferred(conv(32, 64, 8, 8, 64, 3, 3, 1, 1)));
  CHECK(conv2d_indirect_weight_grad_preferred(conv(8, 256, 14, 14, 256, 3, 3, 1, 1)));
  CHECK(conv2d_indirect_weight_grad_preferred(conv(8, 64, 56, 56, 128, 3, 3, 2, 1)));     // 28x28 out
  CHECK(conv2d_indirect_weight_grad_preferred(conv(8, 512, 7, 7, 2048, 1, 1, 1, 0)));
  CHECK_FALSE(conv2d_indirect_weight_grad_preferred(conv(8, 2048, 7, 7, 512, 1, 1, 1, 0)));
  CHECK_FALSE(conv2d_indirect_weight_grad_preferred(conv(32, 256, 2, 2, 256, 3, 3, 1, 1)));  // 128 positions
  CHECK_FALSE(conv2d_indirect_weight_grad_preferred(conv(32, 64, 32, 32, 64, 3, 3, 1, 1)));
  CHECK_FALSE(conv2d_indirect_weight_grad_preferred(conv(8, 3, 224, 224, 64, 7, 7, 2, 3)));
}

TEST_CASE(TL_TEST_ISA " conv2d picks the implicit weight gradient only where it measured faster") {
  using tl::kernels::conv2d_implicit_weight_grad_preferred;
  CHECK(conv2d_implicit_weight_grad_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 1), 32));
  CHECK(conv2d_implicit_weight_grad_preferred(conv(8, 256, 14, 14, 256, 3, 3, 1, 1), 32));
  CHECK(conv2d_implicit_weight_grad_preferred(conv(8, 256, 56, 56, 64, 1, 1, 1, 0), 32));
  CHECK_FALSE(conv2d_implicit_weight_grad_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1), 32));
  CHECK_FALSE(conv2d_implicit_weight_grad_preferred(conv(8, 64, 56, 56, 256, 1, 1, 1, 0), 32));
  CHECK_FALSE(conv2d_implicit_weight_grad_preferred(conv(8, 1024, 14, 14, 256, 1, 1, 1, 0), 32));
  // strided: only with 64 outputs or fewer and 2048 positions or more
  CHECK(conv2d_implicit_weight_grad_preferred(conv(8, 3, 224, 224, 64, 7, 7, 2, 3), 32));
  CHECK(conv2d_implicit_weight_grad_preferred(conv(8, 64, 56, 56, 64, 3, 3, 2, 1), 32));
  CHECK_FALSE(conv2d_implicit_weight_grad_preferred(conv(8, 64, 56, 56, 128, 3, 3, 2, 1), 32));
  CHECK_FALSE(conv2d_implicit_weight_grad_preferred(conv(8, 64, 28, 28, 64, 3, 3, 2, 1), 32));
  CHECK_FALSE(conv2d_implicit_weight_grad_preferred(conv(8, 64, 56, 56, 64, 1, 1, 2, 0), 32));
}

namespace {
template <class T>
void check_dot_weight_grad(const Conv2dParams& p, std::mt19937& rng, double tol) {
  check_weight_grad_kernel<T>(p, rng, tol, tl::kernels::conv2d_backward_weight_dot<T>, "dot-product weight gradient");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d dot-product weight gradient matches the reference") {
  std::mt19937 rng(61);
  on_random_geometries(rng, [&](const Conv2dParams& p, auto type, double tol) {
    check_dot_weight_grad<decltype(type)>(p, rng, tol);
  });
  // Tiles of taps and outputs with and without remainders, positions not a multiple of the
  // vector, several chunks per image, images read in place, groups, strides, dilation.
  check_dot_weight_grad<float>(conv(4, 16, 32, 32, 16, 3, 3, 1, 1), rng, 1e-4);      // D = 144, K = 16: whole tiles
  check_dot_weight_grad<float>(conv(3, 7, 13, 11, 11, 3, 3, 1, 1), rng, 1e-4);       // D = 63, K = 11, L = 141
  check_dot_weight_grad<float>(conv(2, 6, 60, 70, 5, 3, 3, 1, 1), rng, 1e-4);        // chunks of each image
  check_dot_weight_grad<float>(conv(3, 16, 30, 30, 8, 1, 1, 1, 0), rng, 1e-4);       // 1x1 read in place
  check_dot_weight_grad<float>(conv(2, 5, 17, 19, 6, 3, 3, 1, 0), rng, 1e-4);        // 3x3 read in place, L = 253
  check_dot_weight_grad<float>(conv(2, 128, 12, 12, 128, 3, 3, 1, 1, 32), rng, 1e-4);  // ResNeXt groups of 4
  check_dot_weight_grad<float>(conv(4, 8, 33, 33, 16, 3, 3, 2, 1), rng, 1e-4);       // stride 2
  check_dot_weight_grad<float>(conv(2, 3, 40, 38, 16, 7, 7, 2, 3), rng, 1e-4);       // a stem
  check_dot_weight_grad<float>(conv(2, 8, 12, 12, 8, 3, 3, 1, 2, 1, 2), rng, 1e-4);  // dilation 2
  check_dot_weight_grad<float>(conv(8, 1, 28, 28, 8, 5, 5, 1, 2), rng, 1e-4);        // LeNet-like, D = 25
  // Output rows of whole vectors (16 or 32 positions), walked row by row: padded, in place,
  // several row chunks per image, groups, double.
  check_dot_weight_grad<float>(conv(3, 7, 16, 16, 11, 3, 3, 1, 1), rng, 1e-4);       // Q = 16
  check_dot_weight_grad<float>(conv(2, 5, 34, 18, 6, 3, 3, 1, 0), rng, 1e-4);        // Q = 16 in place, P = 32
  check_dot_weight_grad<float>(conv(1, 64, 200, 32, 8, 3, 3, 1, 1), rng, 1e-4);      // Q = 32, 4 row chunks
  check_dot_weight_grad<float>(conv(2, 32, 20, 32, 16, 3, 3, 1, 1, 4), rng, 1e-4);   // Q = 32, groups
  check_dot_weight_grad<double>(conv(2, 6, 32, 32, 5, 3, 3, 1, 1), rng, 1e-12);
  check_dot_weight_grad<double>(conv(2, 16, 12, 12, 16, 3, 3, 1, 1), rng, 1e-12);
  check_dot_weight_grad<double>(conv(2, 6, 60, 70, 5, 3, 3, 1, 1), rng, 1e-12);
}

TEST_CASE(TL_TEST_ISA " conv2d picks the dot-product weight gradient only where it measured faster") {
  using tl::kernels::conv2d_dot_weight_grad_preferred;
  if (!tl::kernels::DotMicroKernel<float>::tuned) {  // measured with the AVX-512 micro-kernel only
    CHECK_FALSE(conv2d_dot_weight_grad_preferred(conv(32, 16, 32, 32, 16, 3, 3, 1, 1)));
    return;
  }
  CHECK(conv2d_dot_weight_grad_preferred(conv(32, 16, 32, 32, 16, 3, 3, 1, 1)));   // 1.15-1.20x
  CHECK(conv2d_dot_weight_grad_preferred(conv(8, 16, 56, 56, 16, 3, 3, 1, 1)));    // 1.21x
  CHECK(conv2d_dot_weight_grad_preferred(conv(32, 16, 32, 32, 16, 1, 1, 1, 0)));   // 2.35x
  CHECK(conv2d_dot_weight_grad_preferred(conv(32, 8, 32, 32, 32, 1, 1, 1, 0)));    // 2.63x
  CHECK(conv2d_dot_weight_grad_preferred(conv(128, 8, 14, 14, 16, 5, 5, 1, 2)));   // 2.13x
  CHECK(conv2d_dot_weight_grad_preferred(conv(32, 32, 32, 32, 4, 3, 3, 1, 1)));    // 3.55x
  CHECK(conv2d_dot_weight_grad_preferred(conv(32, 16, 8, 8, 8, 3, 3, 1, 1)));      // 1.02x
  CHECK(conv2d_dot_weight_grad_preferred(conv(8, 128, 56, 56, 128, 3, 3, 1, 1, 32)));  // 3.44x
  CHECK_FALSE(conv2d_dot_weight_grad_preferred(conv(32, 16, 16, 16, 16, 3, 3, 1, 1)));  // 0.94x
  CHECK_FALSE(conv2d_dot_weight_grad_preferred(conv(32, 16, 8, 8, 16, 3, 3, 1, 1)));    // 0.83x
  CHECK_FALSE(conv2d_dot_weight_grad_preferred(conv(32, 16, 32, 32, 16, 3, 3, 2, 1)));  // 0.96x
  CHECK_FALSE(conv2d_dot_weight_grad_preferred(conv(32, 64, 32, 32, 16, 1, 1, 1, 0)));  // 0.76x
  CHECK_FALSE(conv2d_dot_weight_grad_preferred(conv(32, 64, 32, 32, 64, 3, 3, 1, 1)));  // 0.85x
  CHECK_FALSE(conv2d_dot_weight_grad_preferred(conv(8, 3, 224, 224, 64, 7, 7, 2, 3)));  // 0.93x
}

namespace {
/// conv2d_forward_winograd called directly (whatever the dispatcher would pick); `variant` as in
/// check_epilogue_forward.
template <class T>
void check_winograd(const Conv2dParams& p, std::mt19937& rng, double tol, int variant = 2) {
  auto winograd = [](const Conv2dParams& q, const T* x, const T* w, T* y, const tl::kernels::Epilogue<T>& ep) {
    tl::kernels::conv2d_forward_winograd(q, x, w, y, ep);
  };
  check_epilogue_forward<T>(p, rng, tol, variant, winograd, "conv2d_forward_winograd");
}

/// A random 3x3 stride-1 geometry Winograd computes: maps of 1 to max_side pixels a side, padding
/// 0 to max_pad (F(4x4, 3x3) takes 2, F(2x2, 3x3) 1).
Conv2dParams random_winograd_conv(std::mt19937& rng, int max_side = 30, int max_pad = 2) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (;;) {
    Conv2dParams p = conv(pick(1, 3), pick(1, 40), pick(1, max_side), pick(1, max_side), pick(1, 40), 3, 3, 1, 0);
    p.pad_h = pick(0, max_pad);
    p.pad_w = pick(0, max_pad);
    if (p.P() > 0 && p.Q() > 0) return p;
  }
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d Winograd F(4x4, 3x3) matches the reference") {
  std::mt19937 rng(53);
  for (int i = 0; i < 120; ++i) {
    const Conv2dParams p = random_winograd_conv(rng);
    REQUIRE(tl::kernels::conv2d_winograd_geometry(p));
    check_winograd<float>(p, rng, 2e-5, i % 16);
    if (i % 4 == 0) check_winograd<double>(p, rng, 1e-11, i % 16);
  }
  // 192 tiles: six blocks of the micro-kernel's columns, tile rows split between blocks.
  check_winograd<float>(conv(3, 5, 30, 29, 7, 3, 3, 1, 1), rng, 2e-5, 15);
  check_winograd<float>(conv(1, 3, 9, 150, 4, 3, 3, 1, 1), rng, 2e-5, 7);   // 38 tiles in a row: split runs
  check_winograd<float>(conv(2, 6, 13, 13, 70, 3, 3, 1, 1), rng, 2e-5, 7);  // K = 70: a short last block
  check_winograd<float>(conv(1, 9, 11, 10, 37, 3, 3, 1, 1), rng, 2e-5, 5);  // K not a multiple of MR
  check_winograd<float>(conv(1, 8, 8, 8, 200, 3, 3, 1, 1), rng, 2e-5, 15);  // 4 tiles: channels split over tasks
  check_winograd<float>(conv(1, 300, 6, 6, 9, 3, 3, 1, 1), rng, 5e-5, 3);   // depth 300
  check_winograd<float>(conv(2, 4, 3, 5, 6, 3, 3, 1, 0), rng, 2e-5, 15);    // a 1x3 output: one partial tile
  check_winograd<float>(conv(2, 4, 7, 7, 5, 3, 3, 1, 2), rng, 2e-5, 15);    // padding 2: 9x9 outputs
  check_winograd<float>(conv(2, 64, 28, 28, 64, 3, 3, 1, 1), rng, 2e-5, 15);  // a ResNet layer's depth
  Conv2dParams asym = conv(2, 5, 12, 17, 7, 3, 3, 1, 0);
  asym.pad_h = 0;
  asym.pad_w = 2;
  check_winograd<float>(asym, rng, 2e-5, 13);
  check_winograd<double>(asym, rng, 1e-11, 13);
  check_winograd<double>(conv(1, 300, 6, 6, 9, 3, 3, 1, 1), rng, 1e-11, 15);
  check_winograd<double>(conv(3, 5, 30, 29, 7, 3, 3, 1, 1), rng, 1e-11, 15);
}

TEST_CASE(TL_TEST_ISA " conv2d Winograd gives the same result when called again, and after other shapes") {
  // The per-thread buffers (transformed tiles, phases of the rows) are reused between calls.
  std::mt19937 rng(54);
  const Conv2dParams big = conv(2, 9, 21, 30, 11, 3, 3, 1, 1), small = conv(1, 3, 5, 6, 4, 3, 3, 1, 2);
  auto x = random_vector<float>(rng, big.N * big.C * big.H * big.W), w = random_vector<float>(rng, big.K * big.C * 9);
  std::vector<float> y1(big.N * big.K * big.P() * big.Q()), y2(y1.size()), ys(64 * 64);
  tl::kernels::conv2d_forward_winograd(big, x.data(), w.data(), y1.data(), tl::kernels::Epilogue<float>{});
  tl::kernels::conv2d_forward_winograd(small, x.data(), w.data(), ys.data(), tl::kernels::Epilogue<float>{});
  tl::kernels::conv2d_forward_winograd(big, x.data(), w.data(), y2.data(), tl::kernels::Epilogue<float>{});
  CHECK(y1 == y2);
}

TEST_CASE(TL_TEST_ISA " conv2d picks Winograd only where it measured faster") {
  using tl::kernels::conv2d_winograd_preferred;
  const bool simd = simd_isa();  // AVX-512 or AVX2; the generic build keeps the direct kernels
  CHECK(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_preferred(conv(8, 128, 28, 28, 128, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_preferred(conv(8, 256, 14, 14, 256, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_preferred(conv(32, 64, 32, 32, 64, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_preferred(conv(32, 128, 16, 16, 128, 3, 3, 1, 1)) == simd);
  CHECK_FALSE(conv2d_winograd_preferred(conv(32, 256, 8, 8, 256, 3, 3, 1, 1)));   // 8x8 maps
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)));    // 32 tiles
  CHECK_FALSE(conv2d_winograd_preferred(conv(32, 16, 32, 32, 16, 3, 3, 1, 1)));   // 16 channels
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 3, 3, 2, 1)));    // stride 2
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 2, 1, 2)));  // dilation 2
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 1, 32)));    // groups
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 1, 1, 1, 0)));    // 1x1
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 5, 5, 1, 2)));    // 5x5
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 3)));    // padding 3
  tl::kernels::set_winograd_enabled(false);
  CHECK_FALSE(conv2d_winograd_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 1)));
  tl::kernels::set_winograd_enabled(true);
  CHECK(tl::kernels::winograd_enabled());
}

TEST_CASE(TL_TEST_ISA " conv2d forward and backward data through the dispatcher on a layer Winograd computes") {
  // 147 tiles: the forward, and the backward data (a forward convolution of dY), pick Winograd with
  // AVX-512 and AVX2.
  std::mt19937 rng(55);
  const Conv2dParams p = conv(3, 32, 28, 28, 40, 3, 3, 1, 1);
  Conv2dParams t;
  REQUIRE(tl::kernels::backward_data_as_forward(p, t));
  CHECK(tl::kernels::conv2d_winograd_preferred(p) == simd_isa());
  CHECK(tl::kernels::conv2d_winograd_preferred(t) == simd_isa());
  check_conv<float>(p, rng, 1e-4);
  for (int v : {7, 15}) check_conv_epilogue<float>(p, rng, 1e-4, v);
}

namespace {
/// conv2d_forward_winograd_small called directly (whatever the dispatcher would pick); `variant` as
/// in check_epilogue_forward.
template <class T>
void check_winograd_small(const Conv2dParams& p, std::mt19937& rng, double tol, int variant = 2) {
  auto kernel = [](const Conv2dParams& q, const T* x, const T* w, T* y, const tl::kernels::Epilogue<T>& ep) {
    tl::kernels::conv2d_forward_winograd_small(q, x, w, y, ep);
  };
  check_epilogue_forward<T>(p, rng, tol, variant, kernel, "conv2d_forward_winograd_small");
}

/// p's backward data as conv2d_forward_winograd_small of dY, reading W as the flipped W~ in place.
template <class T>
void check_winograd_small_backward_data(const Conv2dParams& p, std::mt19937& rng, double tol) {
  Conv2dParams t;
  REQUIRE(tl::kernels::backward_data_as_forward(p, t));
  auto w = random_vector<T>(rng, p.K * p.C * 9), dy = random_vector<T>(rng, p.N * p.K * p.P() * p.Q());
  std::vector<T> dx(p.N * p.C * p.H * p.W, T(7)), dx_ref(dx.size());
  tl::kernels::conv2d_forward_winograd_small(t, dy.data(), w.data(), dx.data(), tl::kernels::Epilogue<T>{},
                                             tl::kernels::WinogradWeights::Flipped);
  tl::kernels::conv2d_backward_data_ref(p, dy.data(), w.data(), dx_ref.data());
  INFO("conv2d_forward_winograd_small, flipped W: ", describe(p));
  CHECK_MESSAGE(max_rel_error(dx, dx_ref) <= tol, "backward data");
}

}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d Winograd F(2x2, 3x3) forward and backward data match the reference") {
  std::mt19937 rng(60);
  for (int i = 0; i < 100; ++i) {
    const Conv2dParams p = random_winograd_conv(rng, 20, 1);
    REQUIRE(tl::kernels::conv2d_winograd_geometry(p));
    check_winograd_small<float>(p, rng, 2e-5, i % 16);
    check_winograd_small_backward_data<float>(p, rng, 2e-5);
    if (i % 4 == 0) {
      check_winograd_small<double>(p, rng, 1e-11, i % 16);
      check_winograd_small_backward_data<double>(p, rng, 1e-11);
    }
  }
  const std::vector<Conv2dParams> named = {
      conv(8, 40, 7, 7, 48, 3, 3, 1, 1),   // 128 tiles in four blocks
      conv(3, 20, 9, 9, 16, 3, 3, 1, 1),   // 25 tiles a plane: a tile row split by a block
      conv(5, 12, 6, 6, 20, 3, 3, 1, 1),   // 9 tiles a plane: planes split between blocks
      conv(2, 9, 14, 14, 37, 3, 3, 1, 1),  // 7 tiles a row, the widest in one vector; K not a multiple of 8
      conv(2, 6, 15, 13, 11, 3, 3, 1, 1),  // 8 tiles a row: the generic plane transform
      conv(1, 300, 5, 5, 9, 3, 3, 1, 1),   // depth 300
      conv(2, 4, 3, 5, 6, 3, 3, 1, 0),     // a 1x3 output: one partial tile
      conv(2, 96, 7, 7, 80, 3, 3, 1, 1)};  // K = 80: tasks of 32, 32 and 16 output channels
  for (const Conv2dParams& p : named) {
    check_winograd_small<float>(p, rng, 5e-5, 15);
    check_winograd_small_backward_data<float>(p, rng, 5e-5);
    check_winograd_small<double>(p, rng, 1e-11, 13);
    check_winograd_small_backward_data<double>(p, rng, 1e-11);
  }
  Conv2dParams asym = conv(2, 5, 8, 11, 7, 3, 3, 1, 0);
  asym.pad_w = 1;
  check_winograd_small<float>(asym, rng, 2e-5, 15);
  check_winograd_small_backward_data<float>(asym, rng, 2e-5);
}

TEST_CASE(TL_TEST_ISA " conv2d Winograd F(2x2, 3x3) gives the same result when called again, and after other shapes") {
  std::mt19937 rng(61);
  const Conv2dParams big = conv(4, 24, 7, 7, 40, 3, 3, 1, 1), small = conv(1, 5, 4, 6, 3, 3, 3, 1, 0);
  auto x = random_vector<float>(rng, big.N * big.C * big.H * big.W), w = random_vector<float>(rng, big.K * big.C * 9);
  std::vector<float> y1(big.N * big.K * big.P() * big.Q()), y2(y1.size()), ys(64);
  tl::kernels::conv2d_forward_winograd_small(big, x.data(), w.data(), y1.data());
  tl::kernels::conv2d_forward_winograd_small(small, x.data(), w.data(), ys.data());
  tl::kernels::conv2d_forward_winograd_small(big, x.data(), w.data(), y2.data());
  CHECK(y1 == y2);
}

TEST_CASE(TL_TEST_ISA " conv2d picks Winograd F(2x2, 3x3) only where it measured faster") {
  using tl::kernels::conv2d_winograd_small_preferred;
  const bool avx2 = isa_is("avx2"), simd = simd_isa();
  auto backward = [](const Conv2dParams& p) {  // the rule on p's backward data, a forward of dY
    Conv2dParams t;
    REQUIRE(tl::kernels::backward_data_as_forward(p, t));
    return conv2d_winograd_small_preferred(t, true);
  };
  for (const Conv2dParams& p : {conv(8, 512, 7, 7, 512, 3, 3, 1, 1), conv(32, 256, 8, 8, 256, 3, 3, 1, 1),
                                conv(32, 512, 4, 4, 512, 3, 3, 1, 1), conv(8, 256, 7, 7, 256, 3, 3, 1, 1)}) {
    CHECK(conv2d_winograd_small_preferred(p) == simd);
    CHECK(backward(p) == simd);
  }
  // 128 channels: AVX-512 forward 0.9x, AVX2 0.99-1.2x; backward data 1.15x and 1.16-1.36x
  CHECK(conv2d_winograd_small_preferred(conv(8, 128, 7, 7, 128, 3, 3, 1, 1)) == avx2);
  CHECK(backward(conv(8, 128, 7, 7, 128, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_small_preferred(conv(32, 128, 8, 8, 128, 3, 3, 1, 1)) == avx2);
  // 16 tiles: AVX-512 forward 0.8x, AVX2 1.3x; backward data 1.45x and 1.9x
  CHECK(conv2d_winograd_small_preferred(conv(1, 512, 7, 7, 512, 3, 3, 1, 1)) == avx2);
  CHECK(backward(conv(1, 512, 7, 7, 512, 3, 3, 1, 1)) == simd);
  CHECK_FALSE(conv2d_winograd_small_preferred(conv(32, 64, 8, 8, 64, 3, 3, 1, 1)));   // 64 channels
  CHECK_FALSE(backward(conv(32, 64, 8, 8, 64, 3, 3, 1, 1)));
  CHECK_FALSE(conv2d_winograd_small_preferred(conv(32, 512, 2, 2, 512, 3, 3, 1, 1)));  // 2x2 maps
  CHECK_FALSE(conv2d_winograd_small_preferred(conv(8, 256, 14, 14, 256, 3, 3, 1, 1)));  // F(4x4, 3x3)'s
  CHECK_FALSE(conv2d_winograd_small_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 2)));    // padding 2
  CHECK_FALSE(conv2d_winograd_small_preferred(conv(8, 512, 7, 7, 512, 3, 3, 2, 1)));    // stride 2
  tl::kernels::set_winograd_enabled(false);
  CHECK_FALSE(conv2d_winograd_small_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)));
  CHECK_FALSE(backward(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)));
  tl::kernels::set_winograd_enabled(true);
}

TEST_CASE(TL_TEST_ISA " conv2d through the dispatcher on a layer Winograd F(2x2, 3x3) computes") {
  std::mt19937 rng(62);
  const Conv2dParams p = conv(2, 256, 7, 7, 256, 3, 3, 1, 1);  // 32 tiles
  Conv2dParams t;
  REQUIRE(tl::kernels::backward_data_as_forward(p, t));
  CHECK(tl::kernels::conv2d_winograd_small_preferred(p) == simd_isa());
  CHECK(tl::kernels::conv2d_winograd_small_preferred(t, true) == simd_isa());
  check_conv<float>(p, rng, 1e-4);
  for (int v : {7, 15}) check_conv_epilogue<float>(p, rng, 1e-4, v);
}

namespace {
/// conv2d_backward_weight_winograd_small called directly (with the bias gradient).
template <class T>
void check_winograd_small_weight_grad(const Conv2dParams& p, std::mt19937& rng, double tol) {
  auto kernel = [](const Conv2dParams& q, const T* x, const T* dy, T* dw, T* db) {
    tl::kernels::conv2d_backward_weight_winograd_small(q, x, dy, dw, db);
  };
  check_weight_grad_kernel<T>(p, rng, tol, kernel, "conv2d_backward_weight_winograd_small");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d Winograd F(2x2, 3x3) weight gradient matches the reference") {
  std::mt19937 rng(63);
  for (int i = 0; i < 80; ++i) {
    const Conv2dParams p = random_winograd_conv(rng, 20, 1);
    check_winograd_small_weight_grad<float>(p, rng, 2e-5);
    if (i % 4 == 0) check_winograd_small_weight_grad<double>(p, rng, 1e-11);
  }
  const std::vector<Conv2dParams> named = {
      conv(8, 40, 7, 7, 48, 3, 3, 1, 1),   // panels of 32 and 16 output channels
      conv(3, 20, 9, 9, 70, 3, 3, 1, 1),   // 75 tiles in three blocks, a tile row split by one
      conv(2, 70, 6, 6, 9, 3, 3, 1, 1),    // C not a multiple of 8: the last rows' pointers clamped
      conv(30, 3, 10, 10, 5, 3, 3, 1, 1),  // 750 tiles: three depth blocks
      conv(2, 6, 15, 13, 11, 3, 3, 1, 1),  // 8 tiles a row: the generic plane transform
      conv(2, 4, 3, 5, 6, 3, 3, 1, 0)};    // a 1x3 output: one partial tile
  for (const Conv2dParams& p : named) {
    check_winograd_small_weight_grad<float>(p, rng, 5e-5);
    check_winograd_small_weight_grad<double>(p, rng, 1e-11);
  }
  Conv2dParams asym = conv(2, 5, 8, 11, 7, 3, 3, 1, 0);
  asym.pad_h = 1;
  check_winograd_small_weight_grad<float>(asym, rng, 2e-5);
  check_winograd_small_weight_grad<double>(asym, rng, 1e-11);
}

TEST_CASE(TL_TEST_ISA " conv2d picks the Winograd F(2x2, 3x3) weight gradient only where it measured faster") {
  using tl::kernels::conv2d_winograd_small_weight_grad_preferred;
  const bool avx2 = isa_is("avx2"), simd = simd_isa();
  CHECK(conv2d_winograd_small_weight_grad_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_small_weight_grad_preferred(conv(32, 512, 4, 4, 512, 3, 3, 1, 1)) == simd);
  // 256 and 128 channels: AVX-512 1.00-1.06x and 0.81x; AVX2 0.99-1.18x and 1.07-1.24x
  CHECK(conv2d_winograd_small_weight_grad_preferred(conv(32, 256, 8, 8, 256, 3, 3, 1, 1)) == avx2);
  CHECK(conv2d_winograd_small_weight_grad_preferred(conv(8, 256, 7, 7, 256, 3, 3, 1, 1)) == avx2);
  CHECK(conv2d_winograd_small_weight_grad_preferred(conv(8, 128, 7, 7, 128, 3, 3, 1, 1)) == avx2);
  CHECK_FALSE(conv2d_winograd_small_weight_grad_preferred(conv(8, 64, 7, 7, 64, 3, 3, 1, 1)));     // 64 channels
  CHECK_FALSE(conv2d_winograd_small_weight_grad_preferred(conv(2, 512, 7, 7, 512, 3, 3, 1, 1)));   // 32 tiles
  CHECK_FALSE(conv2d_winograd_small_weight_grad_preferred(conv(8, 512, 14, 14, 512, 3, 3, 1, 1)));  // 14x14
  tl::kernels::set_winograd_enabled(false);
  CHECK_FALSE(conv2d_winograd_small_weight_grad_preferred(conv(8, 512, 7, 7, 512, 3, 3, 1, 1)));
  tl::kernels::set_winograd_enabled(true);
}

TEST_CASE(TL_TEST_ISA " conv2d weight gradient through the dispatcher on a layer Winograd F(2x2, 3x3) computes") {
  std::mt19937 rng(64);
  const Conv2dParams p = conv(16, 512, 4, 4, 512, 3, 3, 1, 1);  // 64 tiles
  CHECK(tl::kernels::conv2d_winograd_small_weight_grad_preferred(p) == simd_isa());
  auto dispatched = [](const Conv2dParams& q, const float* x, const float* dy, float* dw, float* db) {
    tl::kernels::conv2d_backward_weight(q, x, dy, dw, db);
  };
  check_weight_grad_kernel<float>(p, rng, 1e-4, dispatched, "conv2d_backward_weight");
}

namespace {
/// conv2d_backward_weight_winograd called directly (with the bias gradient).
template <class T>
void check_winograd_weight_grad(const Conv2dParams& p, std::mt19937& rng, double tol) {
  auto kernel = [](const Conv2dParams& q, const T* x, const T* dy, T* dw, T* db) {
    tl::kernels::conv2d_backward_weight_winograd(q, x, dy, dw, db);
  };
  check_weight_grad_kernel<T>(p, rng, tol, kernel, "conv2d_backward_weight_winograd");
}
}  // namespace

TEST_CASE(TL_TEST_ISA " conv2d Winograd weight gradient matches the reference") {
  std::mt19937 rng(57);
  for (int i = 0; i < 80; ++i) {
    const Conv2dParams p = random_winograd_conv(rng);
    check_winograd_weight_grad<float>(p, rng, 2e-5);
    if (i % 4 == 0) check_winograd_weight_grad<double>(p, rng, 1e-11);
  }
  check_winograd_weight_grad<float>(conv(3, 9, 40, 37, 40, 3, 3, 1, 1), rng, 2e-5);   // 300 tiles: chunks of blocks
  check_winograd_weight_grad<float>(conv(9, 5, 30, 29, 7, 3, 3, 1, 1), rng, 2e-5);    // 576 tiles: 8 blocks a chunk
  check_winograd_weight_grad<float>(conv(1, 10, 9, 150, 33, 3, 3, 1, 1), rng, 2e-5);  // split runs, K past a panel
  check_winograd_weight_grad<float>(conv(1, 70, 8, 8, 9, 3, 3, 1, 0), rng, 2e-5);     // C not a multiple of MR
  check_winograd_weight_grad<float>(conv(2, 4, 7, 7, 5, 3, 3, 1, 2), rng, 2e-5);      // padding 2
  check_winograd_weight_grad<double>(conv(3, 9, 40, 37, 40, 3, 3, 1, 1), rng, 1e-11);
}

TEST_CASE(TL_TEST_ISA " conv2d picks the Winograd weight gradient only where it measured faster") {
  using tl::kernels::conv2d_winograd_weight_grad_preferred;
  const bool simd = simd_isa();
  CHECK(conv2d_winograd_weight_grad_preferred(conv(8, 64, 56, 56, 64, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_weight_grad_preferred(conv(8, 128, 28, 28, 128, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_weight_grad_preferred(conv(32, 64, 32, 32, 64, 3, 3, 1, 1)) == simd);
  CHECK(conv2d_winograd_weight_grad_preferred(conv(32, 128, 16, 16, 128, 3, 3, 1, 1)) == simd);
  // 128 tiles: AVX-512 0.7x, AVX2 1.24x
  CHECK(conv2d_winograd_weight_grad_preferred(conv(8, 256, 14, 14, 256, 3, 3, 1, 1)) == isa_is("avx2"));
  CHECK_FALSE(conv2d_winograd_weight_grad_preferred(conv(4, 256, 14, 14, 256, 3, 3, 1, 1)));  // 64 tiles
  CHECK_FALSE(conv2d_winograd_weight_grad_preferred(conv(32, 16, 32, 32, 16, 3, 3, 1, 1)));   // 16 channels
  CHECK_FALSE(conv2d_winograd_weight_grad_preferred(conv(8, 64, 56, 56, 64, 3, 3, 2, 1)));    // stride 2
}

TEST_CASE(TL_TEST_ISA " conv2d weight gradient through the dispatcher on a layer Winograd computes") {
  std::mt19937 rng(58);
  const Conv2dParams p = conv(6, 32, 28, 28, 36, 3, 3, 1, 1);  // 294 tiles
  CHECK(tl::kernels::conv2d_winograd_weight_grad_preferred(p) == simd_isa());
  check_conv<float>(p, rng, 1e-4);
}

TEST_CASE(TL_TEST_ISA " conv2d Winograd weight gradient is the same on every call (threads sum fixed chunks)") {
  // Each thread sums its chunks into a private dU; a dynamic schedule made the sum's order, and so
  // the rounding, change from call to call (the demo's repeated run caught it).
  std::mt19937 rng(59);
  const Conv2dParams p = conv(9, 5, 30, 29, 7, 3, 3, 1, 1);  // 576 tiles: several chunks per thread
  auto x = random_vector<float>(rng, p.N * p.C * p.H * p.W), dy = random_vector<float>(rng, p.N * p.K * p.P() * p.Q());
  std::vector<float> first(p.K * p.C * 9), again(first.size());
  tl::kernels::conv2d_backward_weight_winograd(p, x.data(), dy.data(), first.data(), static_cast<float*>(nullptr));
  int same = 0;
  for (int i = 0; i < 20; ++i) {
    tl::kernels::conv2d_backward_weight_winograd(p, x.data(), dy.data(), again.data(), static_cast<float*>(nullptr));
    same += again == first;
  }
  CHECK(same == 20);
}
