#pragma once
// Shapes and strides: plain vectors of int64_t, plus the helpers every op needs.
#include <cstdint>
#include <string>
#include <vector>

#include "tl/core/error.hpp"

namespace tl {

using Shape = std::vector<int64_t>;

/// "[2, 3, 4]"
inline std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

/// Number of elements; throws on negative sizes or overflow.
inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    TL_CHECK(d >= 0, "shape ", shape_str(s), " has a negative size");
    TL_CHECK(d == 0 || n <= INT64_MAX / d, "shape ", shape_str(s), " has too many elements");
    n *= d;
  }
  return n;
}

/// Row-major strides of a contiguous tensor of this shape.
inline Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i] > 0 ? s[i] : 1;
  }
  return st;
}

/// Turns a possibly negative dim into [0, ndim); throws naming the op otherwise.
inline int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim > 0 ? -ndim : -1, hi = ndim > 0 ? ndim - 1 : 0;
  TL_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
           " dims (expected ", lo, " to ", hi, ")");
  return dim < 0 ? dim + (ndim > 0 ? ndim : 1) : dim;
}

/// NumPy/PyTorch broadcasting of two shapes; throws naming the op and both shapes.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TL_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Strides to read a tensor of shape `s` (strides `st`) as if broadcast to `out`:
/// broadcast dims get stride 0.
inline Shape broadcast_strides(const Shape& s, const Shape& st, const Shape& out) {
  Shape r(out.size(), 0);
  size_t off = out.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i) r[off + i] = s[i] == 1 ? 0 : st[i];
  return r;
}

}  // namespace tl
