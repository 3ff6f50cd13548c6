#pragma once
// tl::train::EpochRecord / History: what fit() measured per epoch, with a text form (CSV) that
// checkpoints carry so a resumed run keeps its whole curve.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "tl/core/error.hpp"

namespace tl::train {

struct EpochRecord {
  int64_t epoch = 0;        // 1-based: epochs completed
  int64_t global_step = 0;  // optimizer steps so far
  double train_loss = NAN, train_acc = NAN;
  double val_loss = NAN, val_top1 = NAN, val_top5 = NAN;  // NaN without a validation loader
  double lr = NAN;                                         // of group 0, at the end of the epoch
  double seconds = NAN, images_per_sec = NAN;
};

using History = std::vector<EpochRecord>;

namespace detail {
/// Field names in CSV/JSON order, and accessors.
inline const std::vector<std::string>& record_fields() {
  static const std::vector<std::string> f = {"epoch",    "global_step", "train_loss", "train_acc", "val_loss",
                                             "val_top1", "val_top5",    "lr",         "seconds",   "images_per_sec"};
  return f;
}
inline std::vector<double> record_values(const EpochRecord& r) {
  return {double(r.epoch), double(r.global_step), r.train_loss, r.train_acc, r.val_loss, r.val_top1, r.val_top5,
          r.lr,            r.seconds,             r.images_per_sec};
}
inline EpochRecord record_from_values(const std::vector<double>& v) {
  TL_CHECK(v.size() == 10, "History: expected 10 values per epoch, got ", v.size());
  EpochRecord r;
  r.epoch = static_cast<int64_t>(v[0]);
  r.global_step = static_cast<int64_t>(v[1]);
  r.train_loss = v[2], r.train_acc = v[3], r.val_loss = v[4], r.val_top1 = v[5], r.val_top5 = v[6];
  r.lr = v[7], r.seconds = v[8], r.images_per_sec = v[9];
  return r;
}
/// Shortest text that reads back to the same double ("nan" for NaN).
inline std::string num(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[40];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}
}  // namespace detail

/// The history as CSV: a header line, then one line per epoch.
inline std::string history_to_csv(const History& h) {
  std::string s;
  const auto& f = detail::record_fields();
  for (size_t i = 0; i < f.size(); ++i) {
    if (i) s += ",";
    s += f[i];
  }
  s += "\n";
  for (const auto& r : h) {
    auto v = detail::record_values(r);
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += ",";
      s += detail::num(v[i]);
    }
    s += "\n";
  }
  return s;
}

/// Parses history_to_csv's output.
inline History history_from_csv(const std::string& csv) {
  History h;
  std::istringstream in(csv);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (header) {
      header = false;
      continue;
    }
    std::vector<double> v;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) v.push_back(std::strtod(cell.c_str(), nullptr));
    h.push_back(detail::record_from_values(v));
  }
  return h;
}

}  // namespace tl::train
