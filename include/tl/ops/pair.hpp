#pragma once
// tl::Pair: a (height, width) argument of the 2-d ops and layers (kernel_size, stride, padding,
// dilation, output_size) that accepts an int or {h, w}, like PyTorch's `int or tuple`.
#include <cstdint>
#include <string>

namespace tl {

struct Pair {
  int64_t h = 0, w = 0;
  constexpr Pair(int64_t v) : h(v), w(v) {}  // NOLINT: implicit on purpose (conv2d(x, w, b, 2))
  constexpr Pair(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  constexpr bool operator==(const Pair&) const = default;
  constexpr bool square() const { return h == w; }
  /// "(3, 3)", as PyTorch prints a tuple.
  std::string str() const {
    std::string s = "(";  // appended piecewise: GCC 12 warns (-Wrestrict) on "(" + std::string
    s += std::to_string(h);
    s += ", ";
    s += std::to_string(w);
    s += ")";
    return s;
  }
  /// "3" when both are equal, else "(3, 5)" (PyTorch prints pooling arguments as they were given).
  std::string short_str() const { return square() ? std::to_string(h) : str(); }
};

}  // namespace tl
