#pragma once
// tl::transfer::glob_match: shell-style patterns on dotted names ("layer1.*", "layer?.0.conv?.weight").
// '*' matches any run of characters (dots included, so "layer1.*" covers every name under layer1),
// '?' matches one character; everything else matches itself.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tl::transfer {

inline bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative matcher with one backtrack point: linear in practice, no recursion on long names.
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = n;
    } else if (star != std::string_view::npos) {
      p = star + 1, n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// Whether `name` matches any of `patterns`.
inline bool glob_match_any(const std::vector<std::string>& patterns, std::string_view name) {
  for (const auto& p : patterns)
    if (glob_match(p, name)) return true;
  return false;
}

}  // namespace tl::transfer
