#pragma once
// Helpers for comparing fast kernels with the reference kernels: random data and a tolerance check.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tl/kernels/conv2d_params.hpp"

namespace {

template <class T>
std::vector<T> random_vector(std::mt19937& rng, int64_t n) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<T>(u(rng));
  return v;
}

/// Largest |got - want| relative to max(|want|) (an all-zero reference compares absolutely).
template <class T, class U>
double max_rel_error(const std::vector<T>& got, const std::vector<U>& want) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return err / std::max(scale, 1e-30 + (scale == 0 ? 1.0 : 0.0));
}

inline std::string describe(const tl::kernels::Conv2dParams& p) {
  std::ostringstream s;
  s << "N=" << p.N << " C=" << p.C << " H=" << p.H << " W=" << p.W << " K=" << p.K << " R=" << p.R << " S=" << p.S
    << " stride=" << p.stride_h << "," << p.stride_w << " pad=" << p.pad_h << "," << p.pad_w << " dil=" << p.dil_h
    << "," << p.dil_w << " groups=" << p.groups;
  return s.str();
}

/// A random valid convolution geometry (small, so the reference kernels stay fast).
inline tl::kernels::Conv2dParams random_conv(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  tl::kernels::Conv2dParams p;
  for (;;) {
    p.N = pick(1, 3);
    p.groups = pick(0, 3) == 0 ? pick(2, 3) : 1;
    p.C = p.groups * pick(1, 9);
    p.K = p.groups * pick(1, 17);
    p.H = pick(1, 13);
    p.W = pick(1, 13);
    p.R = pick(1, 5);
    p.S = pick(1, 5);
    p.stride_h = pick(1, 3);
    p.stride_w = pick(0, 2) == 0 ? pick(1, 3) : p.stride_h;
    p.pad_h = pick(0, 2);
    p.pad_w = pick(0, 2);
    p.dil_h = pick(0, 3) == 0 ? 2 : 1;
    p.dil_w = pick(0, 3) == 0 ? 2 : 1;
    if (p.P() > 0 && p.Q() > 0) return p;
  }
}

}  // namespace
