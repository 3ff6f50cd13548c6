#pragma once
// Scalars and short vectors of doubles stored in a StateDict<T> (optimizer options, scheduler
// counters), so optimizer/scheduler state is saved by the same file writer as weights.
//
// Each value is a tensor (0-d for a scalar). Because a float tensor would round a double option
// (lr = 0.1), the exact decimal text is also kept in sd.metadata under the same key; on load it is
// used when it agrees with the tensor (so edited tensors still win), which makes resuming exact.
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "tl/core/state_dict.hpp"

namespace tl::optim::detail {

/// Writes v under key: a 0-d tensor when scalar, else 1-d; integer marks counts (int64 in files).
template <class T>
void put_values(StateDict<T>& sd, const std::string& key, const std::vector<double>& v, bool scalar,
                bool integer = false) {
  Shape shape = scalar ? Shape{} : Shape{static_cast<int64_t>(v.size())};
  auto t = Tensor<T>::uninitialized(shape);
  std::string text;
  for (size_t i = 0; i < v.size(); ++i) {
    t.data()[i] = static_cast<T>(v[i]);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v[i]);
    if (i) text += ',';
    text += buf;
  }
  sd.insert(key, t, integer);
  if (!integer) sd.metadata[key] = text;
}
template <class T>
void put_scalar(StateDict<T>& sd, const std::string& key, double v, bool integer = false) {
  put_values(sd, key, {v}, true, integer);
}

/// Reads n values from key (who names the caller in errors); checks presence and size.
template <class T>
std::vector<double> get_values(const StateDict<T>& sd, const std::string& key, size_t n, const std::string& who) {
  TL_CHECK(sd.contains(key), who, ": load_state_dict: missing key '", key, "'");
  const auto& t = sd.at(key);
  TL_CHECK(t.defined() && static_cast<size_t>(t.numel()) == n, who, ": load_state_dict: key '", key, "' has ",
           t.defined() ? t.numel() : 0, " values, expected ", n);
  auto tv = t.to_vector();
  std::vector<double> out(tv.begin(), tv.end());
  auto it = sd.metadata.find(key);
  if (it != sd.metadata.end()) {
    std::vector<double> exact;
    std::stringstream ss(it->second);
    std::string item;
    while (std::getline(ss, item, ',')) exact.push_back(std::strtod(item.c_str(), nullptr));
    bool agree = exact.size() == n;
    for (size_t i = 0; agree && i < n; ++i) agree = static_cast<T>(exact[i]) == tv[i];
    if (agree) out = exact;
  }
  return out;
}
template <class T>
double get_scalar(const StateDict<T>& sd, const std::string& key, const std::string& who) {
  return get_values(sd, key, 1, who)[0];
}
/// An integer count (e.g. a step): must be a whole number.
template <class T>
int64_t get_count(const StateDict<T>& sd, const std::string& key, const std::string& who) {
  double v = get_scalar(sd, key, who);
  TL_CHECK(std::isfinite(v) && v == std::floor(v), who, ": load_state_dict: key '", key,
           "' must hold a whole number, got ", v);
  return static_cast<int64_t>(v);
}

}  // namespace tl::optim::detail
