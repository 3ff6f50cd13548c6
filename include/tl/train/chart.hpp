#pragma once
// An SVG chart of a History: loss (train, val) and accuracy (train, val top-1) per epoch, side by
// side, with axes, ticks and a legend. Plain text, opens in any browser.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "tl/train/history.hpp"

namespace tl::train {

namespace detail {

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;  // (epoch, value), finite only
};

/// About `n` round tick values covering [lo, hi].
inline std::vector<double> nice_ticks(double lo, double hi, int n = 5) {
  if (!(hi > lo)) hi = lo + 1;
  double raw = (hi - lo) / n, mag = std::pow(10.0, std::floor(std::log10(raw))), step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (auto k = static_cast<int64_t>(std::ceil(lo / step - 1e-9)); double(k) * step <= hi + step * 1e-9; ++k)
    t.push_back(double(k) * step);  // k * step, not repeated adds: no drift
  return t;
}

inline std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

/// One panel at (x0, y0) of size w x h.
inline void svg_panel(std::ostringstream& o, double x0, double y0, double w, double h, const std::string& title,
                      const std::vector<Series>& series, double x_max, bool percent) {
  const double l = x0 + 55, r = x0 + w - 15, t = y0 + 30, b = y0 + h - 40;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (auto [x, y] : s.points) lo = std::min(lo, y), hi = std::max(hi, y);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (percent) lo = std::min(lo, 1.0), hi = std::max(hi, 0.0);
  double pad = (hi - lo) * 0.05 + (hi == lo ? 0.5 : 0.0);
  lo -= pad, hi += pad;
  if (lo < 0 && (percent || lo > -pad * 2)) lo = std::min(0.0, lo + pad);
  const double x_lo = 1, x_hi = std::max(2.0, x_max);
  auto X = [&](double x) { return l + (x - x_lo) / (x_hi - x_lo) * (r - l); };
  auto Y = [&](double y) { return b - (y - lo) / (hi - lo) * (b - t); };
  o << "<text x='" << (l + r) / 2 << "' y='" << y0 + 18 << "' text-anchor='middle' font-size='15' font-weight='bold'>"
    << title << "</text>\n";
  o << "<rect x='" << l << "' y='" << t << "' width='" << r - l << "' height='" << b - t
    << "' fill='none' stroke='#888'/>\n";
  for (double v : nice_ticks(lo, hi)) {
    if (v < lo || v > hi) continue;
    o << "<line x1='" << l << "' x2='" << r << "' y1='" << Y(v) << "' y2='" << Y(v) << "' stroke='#e4e4e4'/>";
    o << "<text x='" << l - 6 << "' y='" << Y(v) + 4 << "' text-anchor='end' font-size='11'>"
      << (percent ? fmt(std::round(v * 1000) / 10) + "%" : fmt(v)) << "</text>\n";
  }
  const auto x_step = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((x_hi - x_lo) / 8)));
  for (double v = x_lo; v <= x_hi; v += double(x_step)) {  // whole epochs
    o << "<line x1='" << X(v) << "' x2='" << X(v) << "' y1='" << b << "' y2='" << b + 4 << "' stroke='#888'/>";
    o << "<text x='" << X(v) << "' y='" << b + 16 << "' text-anchor='middle' font-size='11'>" << fmt(v) << "</text>\n";
  }
  o << "<text x='" << (l + r) / 2 << "' y='" << b + 32 << "' text-anchor='middle' font-size='12'>epoch</text>\n";
  double ly = t + 8;
  for (const auto& s : series) {
    if (s.points.empty()) continue;
    o << "<polyline fill='none' stroke='" << s.color << "' stroke-width='2' points='";
    for (auto [x, y] : s.points) o << X(x) << "," << Y(y) << " ";
    o << "'/>\n";
    for (auto [x, y] : s.points)
      o << "<circle cx='" << X(x) << "' cy='" << Y(y) << "' r='3' fill='" << s.color << "'><title>" << s.name
        << " epoch " << x << ": " << (percent ? fmt(y * 100) + "%" : fmt(y)) << "</title></circle>";
    o << "\n<line x1='" << r - 110 << "' x2='" << r - 90 << "' y1='" << ly << "' y2='" << ly << "' stroke='" << s.color
      << "' stroke-width='2'/><text x='" << r - 85 << "' y='" << ly + 4 << "' font-size='11'>" << s.name << "</text>\n";
    ly += 16;
  }
}

inline Series series_of(const History& h, const std::string& name, const std::string& color,
                        double EpochRecord::*field) {
  Series s{name, color, {}};
  for (const auto& r : h)
    if (std::isfinite(r.*field)) s.points.emplace_back(double(r.epoch), r.*field);
  return s;
}

}  // namespace detail

/// The chart as SVG text.
inline std::string chart_svg(const History& h, const std::string& title = "training") {
  std::ostringstream o;
  const double w = 460, ht = 320;
  o << "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='" << 2 * w
    << "' height='" << ht + 30 << "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  o << "<text x='" << w << "' y='18' text-anchor='middle' font-size='13' fill='#555'>" << title << "</text>\n";
  double x_max = h.empty() ? 1 : double(h.back().epoch);
  detail::svg_panel(o, 0, 30, w, ht, "loss",
                    {detail::series_of(h, "train", "#1f77b4", &EpochRecord::train_loss),
                     detail::series_of(h, "val", "#ff7f0e", &EpochRecord::val_loss)},
                    x_max, false);
  detail::svg_panel(o, w, 30, w, ht, "accuracy",
                    {detail::series_of(h, "train", "#1f77b4", &EpochRecord::train_acc),
                     detail::series_of(h, "val top-1", "#ff7f0e", &EpochRecord::val_top1),
                     detail::series_of(h, "val top-5", "#2ca02c", &EpochRecord::val_top5)},
                    x_max, true);
  o << "</svg>\n";
  return o.str();
}

}  // namespace tl::train
