// Vectorised batch norm, ReLU, the fused BN+ReLU kernels and BN folding, against the reference
// kernels (and compositions of them) on random shapes.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "kernel_check.hpp"
#include "tl/kernels/batch_norm.hpp"
#include "tl/kernels/batch_norm_fast.hpp"
#include "tl/kernels/batch_norm_ref.hpp"
#include "tl/kernels/conv2d.hpp"

namespace {

struct BnShape {
  int64_t N, C, HW;
};

const BnShape kBnShapes[] = {{1, 1, 1}, {2, 3, 1}, {5, 7, 1}, {3, 4, 17}, {2, 16, 33}, {4, 5, 64}, {1, 3, 1000},
                             {8, 2, 49}, {2, 64, 196}};

/// |got - want| relative to the scale of the terms of dx, max |gamma * invstd * dy| (dx itself can be
/// ~0, e.g. with one value per channel, where a relative check would compare rounding noise).
template <class T>
double dx_error(const std::vector<T>& got, const std::vector<T>& want, const std::vector<T>& dy, const T* gamma,
                const std::vector<T>& invstd, const BnShape& s) {
  double err = 0, scale = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(dy.size()); ++i) {
    const int64_t c = (i / s.HW) % s.C;
    scale = std::max(scale, std::abs(static_cast<double>(dy[i]) * (gamma ? gamma[c] : T(1)) * invstd[c]));
    err = std::max(err, std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
  }
  return err / scale;
}

template <class T>
void check_bn(const BnShape& s, std::mt19937& rng, bool affine, double tol) {
  const int64_t n = s.N * s.C * s.HW;
  INFO("N=" << s.N << " C=" << s.C << " HW=" << s.HW << " affine=" << affine);
  auto x = random_vector<T>(rng, n), dy = random_vector<T>(rng, n);
  for (auto& v : x) v = v * T(3) + T(0.5);  // a mean away from 0, as after a conv
  auto gamma = random_vector<T>(rng, s.C), beta = random_vector<T>(rng, s.C);
  auto rmean = random_vector<T>(rng, s.C), rvar = random_vector<T>(rng, s.C);
  for (auto& v : rvar) v = v * v + T(0.1);
  const T* g = affine ? gamma.data() : nullptr;
  const T* b = affine ? beta.data() : nullptr;

  std::vector<T> y(n), y_ref(n), mean(s.C), mean_ref(s.C), is(s.C), is_ref(s.C);
  tl::kernels::batch_norm_forward_train(s.N, s.C, s.HW, x.data(), g, b, 1e-5, y.data(), mean.data(), is.data());
  tl::kernels::batch_norm_forward_train_ref(s.N, s.C, s.HW, x.data(), g, b, 1e-5, y_ref.data(), mean_ref.data(),
                                            is_ref.data());
  CHECK(max_rel_error(y, y_ref) <= tol);
  CHECK(max_rel_error(mean, mean_ref) <= tol);
  CHECK(max_rel_error(is, is_ref) <= tol);

  tl::kernels::batch_norm_forward_eval(s.N, s.C, s.HW, x.data(), g, b, rmean.data(), rvar.data(), 1e-5, y.data());
  tl::kernels::batch_norm_forward_eval_ref(s.N, s.C, s.HW, x.data(), g, b, rmean.data(), rvar.data(), 1e-5,
                                           y_ref.data());
  CHECK(max_rel_error(y, y_ref) <= tol);

  for (bool training : {true, false}) {
    INFO("training=" << training);
    std::vector<T> dx(n), dx_ref(n), dg(s.C), dg_ref(s.C), db(s.C), db_ref(s.C);
    tl::kernels::batch_norm_backward(s.N, s.C, s.HW, dy.data(), x.data(), g, mean_ref.data(), is_ref.data(), training,
                                     dx.data(), dg.data(), db.data());
    tl::kernels::batch_norm_backward_ref(s.N, s.C, s.HW, dy.data(), x.data(), g, mean_ref.data(), is_ref.data(),
                                         training, dx_ref.data(), dg_ref.data(), db_ref.data());
    CHECK(dx_error(dx, dx_ref, dy, g, is_ref, s) <= tol);
    CHECK(max_rel_error(dg, dg_ref) <= tol);
    CHECK(max_rel_error(db, db_ref) <= tol);
    // Null outputs are skipped, the others still written.
    std::vector<T> dx2(n);
    tl::kernels::batch_norm_backward(s.N, s.C, s.HW, dy.data(), x.data(), g, mean_ref.data(), is_ref.data(), training,
                                     dx2.data(), static_cast<T*>(nullptr), static_cast<T*>(nullptr));
    CHECK(dx_error(dx2, dx_ref, dy, g, is_ref, s) <= tol);
  }
}

/// The fused BN+ReLU kernels equal BN followed by ReLU (forward) and ReLU-backward then BN-backward.
template <class T>
void check_bn_relu(const BnShape& s, std::mt19937& rng, double tol) {
  const int64_t n = s.N * s.C * s.HW;
  INFO("N=" << s.N << " C=" << s.C << " HW=" << s.HW);
  auto x = random_vector<T>(rng, n), dy = random_vector<T>(rng, n);
  auto gamma = random_vector<T>(rng, s.C), beta = random_vector<T>(rng, s.C);
  auto rmean = random_vector<T>(rng, s.C), rvar = random_vector<T>(rng, s.C);
  for (auto& v : rvar) v = v * v + T(0.1);
  std::vector<T> y(n), y_ref(n), mean(s.C), is(s.C), mean_ref(s.C), is_ref(s.C);

  tl::kernels::batch_norm_forward_train_fast<true>(s.N, s.C, s.HW, x.data(), gamma.data(), beta.data(), 1e-5,
                                                   y.data(), mean.data(), is.data());
  tl::kernels::batch_norm_forward_train_ref(s.N, s.C, s.HW, x.data(), gamma.data(), beta.data(), 1e-5, y_ref.data(),
                                            mean_ref.data(), is_ref.data());
  tl::kernels::relu_forward_fast(n, y_ref.data(), y_ref.data());
  CHECK(max_rel_error(y, y_ref) <= tol);
  int64_t zeros = 0;
  for (T v : y) zeros += v == T(0);
  CHECK(zeros > 0);  // the ReLU did something

  std::vector<T> g(n), dx(n), dx_ref(n), dg(s.C), dg_ref(s.C), db(s.C), db_ref(s.C);
  tl::kernels::relu_backward_fast(n, dy.data(), y_ref.data(), g.data());
  tl::kernels::batch_norm_backward_ref(s.N, s.C, s.HW, g.data(), x.data(), gamma.data(), mean_ref.data(),
                                       is_ref.data(), true, dx_ref.data(), dg_ref.data(), db_ref.data());
  tl::kernels::batch_norm_backward_fast<true>(s.N, s.C, s.HW, dy.data(), x.data(), gamma.data(), mean_ref.data(),
                                              is_ref.data(), true, dx.data(), dg.data(), db.data(), y_ref.data());
  CHECK(dx_error(dx, dx_ref, dy, gamma.data(), is_ref, s) <= tol);
  CHECK(max_rel_error(dg, dg_ref) <= tol);
  CHECK(max_rel_error(db, db_ref) <= tol);

  tl::kernels::batch_norm_forward_eval_fast<true>(s.N, s.C, s.HW, x.data(), gamma.data(), beta.data(), rmean.data(),
                                                  rvar.data(), 1e-5, y.data());
  tl::kernels::batch_norm_forward_eval_ref(s.N, s.C, s.HW, x.data(), gamma.data(), beta.data(), rmean.data(),
                                           rvar.data(), 1e-5, y_ref.data());
  for (auto& v : y_ref) v = v > T(0) ? v : T(0);
  CHECK(max_rel_error(y, y_ref) <= tol);
}

}  // namespace

TEST_CASE("batch norm fast kernels match the reference (float)") {
  std::mt19937 rng(3);
  for (const auto& s : kBnShapes)
    for (bool affine : {true, false}) check_bn<float>(s, rng, affine, 2e-5);
}

TEST_CASE("batch norm fast kernels match the reference (double)") {
  std::mt19937 rng(4);
  for (const auto& s : kBnShapes) check_bn<double>(s, rng, true, 1e-12);
}

TEST_CASE("batch norm on a large channel keeps float precision (double accumulation across rows)") {
  std::mt19937 rng(8);
  check_bn<float>(BnShape{16, 2, 12544}, rng, true, 2e-5);
}

TEST_CASE("fused BN+ReLU kernels equal BN then ReLU") {
  std::mt19937 rng(6);
  for (const auto& s : kBnShapes)
    if (s.N * s.HW > 1) check_bn_relu<float>(s, rng, 2e-5);
  check_bn_relu<double>(BnShape{3, 4, 17}, rng, 1e-12);
}

TEST_CASE("relu kernels") {
  const std::vector<float> x{-2.f, -0.f, 0.f, 1e-30f, 3.f}, dy{1, 2, 3, 4, 5};
  std::vector<float> y(5), dx(5);
  tl::kernels::relu_forward_fast<float>(5, x.data(), y.data());
  CHECK(y == std::vector<float>{0, 0, 0, 1e-30f, 3});
  tl::kernels::relu_backward_fast<float>(5, dy.data(), y.data(), dx.data());
  CHECK(dx == std::vector<float>{0, 0, 0, 4, 5});  // PyTorch: gradient 0 at exactly 0
}

TEST_CASE("batch norm folded into a convolution equals conv then eval BN") {
  std::mt19937 rng(9);
  tl::kernels::Conv2dParams p;
  p.N = 2, p.C = 5, p.H = 7, p.W = 6, p.K = 9, p.R = p.S = 3, p.pad_h = p.pad_w = 1;
  const int64_t per_k = p.C * p.R * p.S, ys = p.N * p.K * p.P() * p.Q();
  auto x = random_vector<float>(rng, p.N * p.C * p.H * p.W), w = random_vector<float>(rng, p.K * per_k);
  auto b = random_vector<float>(rng, p.K), gamma = random_vector<float>(rng, p.K), beta = random_vector<float>(rng, p.K);
  auto mean = random_vector<float>(rng, p.K), var = random_vector<float>(rng, p.K);
  for (auto& v : var) v = v * v + 0.1f;
  for (bool with_bias : {true, false}) {
    const float* bp = with_bias ? b.data() : nullptr;
    std::vector<float> y(ys), y_ref(ys), wf(w.size()), bf(p.K);
    tl::kernels::conv2d_forward_ref(p, x.data(), w.data(), bp, y_ref.data());
    tl::kernels::batch_norm_forward_eval_ref(p.N, p.K, p.P() * p.Q(), y_ref.data(), gamma.data(), beta.data(),
                                             mean.data(), var.data(), 1e-5, y_ref.data());
    tl::kernels::fold_batch_norm_into_conv(p.K, per_k, w.data(), bp, gamma.data(), beta.data(), mean.data(),
                                           var.data(), 1e-5, wf.data(), bf.data());
    tl::kernels::conv2d_forward(p, x.data(), wf.data(), bf.data(), y.data());
    CHECK(max_rel_error(y, y_ref) <= 1e-5);
  }
}
