#pragma once
// The demo's results: the printed table, CSV, JSON and an SVG chart of accuracy against labels
// per class (grouped bars: one group per K, one bar per method, the mean over seeds).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <tl/tl.hpp>

namespace demo {

struct Result {
  std::string method;
  int64_t k, seed;
  double accuracy;  // percent
  int64_t trainable;
  double seconds;
};

inline std::string join(const std::vector<int64_t>& v, const char* sep = ",") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s.append(sep);
    s.append(std::to_string(v[i]));
  }
  return s;
}

inline std::string fixed(double v, int digits = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

struct Report {
  std::string scenario;
  std::vector<int64_t> ks, seeds;
  int64_t steps, source_epochs, threads;
  double source_head_accuracy;  // < 0 when the source head does not fit the target
  std::vector<Result> results;
  double total_seconds;

  std::vector<std::string> methods() const {
    std::vector<std::string> m;
    for (auto& r : results)
      if (std::find(m.begin(), m.end(), r.method) == m.end()) m.push_back(r.method);
    return m;
  }
  std::vector<const Result*> runs(const std::string& method, int64_t k) const {
    std::vector<const Result*> out;
    for (auto& r : results)
      if (r.method == method && r.k == k) out.push_back(&r);
    return out;
  }
  double mean(const std::string& method, int64_t k, double Result::*field) const {
    auto rs = runs(method, k);
    double s = 0;
    for (auto* r : rs) s += r->*field;
    return rs.empty() ? NAN : s / double(rs.size());
  }

  std::string table() const {
    std::ostringstream o;
    o << "scenario " << scenario << ", " << steps << " steps per method, mean over seeds " << join(seeds) << "\n";
    char line[256];
    std::snprintf(line, sizeof line, "%4s  %-12s %9s  %-24s %10s %9s\n", "K", "method", "accuracy", "per seed",
                  "trainable", "time/run");
    o << line;
    for (auto k : ks)
      for (auto& m : methods()) {
        std::string per;
        for (auto* r : runs(m, k)) {
          if (!per.empty()) per.push_back(' ');
          per.append(fixed(r->accuracy));
        }
        std::snprintf(line, sizeof line, "%4lld  %-12s %8.2f%%  %-24s %10lld %8.1fs\n", (long long)k, m.c_str(),
                      mean(m, k, &Result::accuracy), per.c_str(), (long long)runs(m, k).front()->trainable,
                      mean(m, k, &Result::seconds));
        o << line;
      }
    return o.str();
  }

  void write(const std::string& base) const {
    {
      std::ofstream f(base + ".csv");
      f << "scenario,k,method,seed,accuracy,trainable,seconds\n";
      for (auto& r : results)
        f << scenario << ',' << r.k << ',' << r.method << ',' << r.seed << ',' << fixed(r.accuracy, 4) << ','
          << r.trainable << ',' << fixed(r.seconds, 3) << '\n';
      for (auto k : ks)
        for (auto& m : methods())
          f << scenario << ',' << k << ',' << m << ",mean," << fixed(mean(m, k, &Result::accuracy), 4) << ','
            << runs(m, k).front()->trainable << ',' << fixed(mean(m, k, &Result::seconds), 3) << '\n';
      TL_CHECK(f.good(), "transfer_demo: cannot write '", base, ".csv'");
    }
    {
      std::ofstream f(base + ".json");
      f << "{\n \"scenario\": \"" << scenario << "\",\n \"k\": [" << join(ks, ", ") << "],\n \"seeds\": ["
        << join(seeds, ", ") << "],\n \"steps\": " << steps << ",\n \"source_epochs\": " << source_epochs
        << ",\n \"threads\": " << threads << ",\n \"source_head_accuracy\": "
        << (source_head_accuracy >= 0 ? fixed(source_head_accuracy, 4) : "null") << ",\n \"total_seconds\": "
        << fixed(total_seconds, 1) << ",\n \"mean\": {";
      bool first = true;
      for (auto k : ks)
        for (auto& m : methods()) {
          f << (first ? "\n" : ",\n") << "  \"" << m << (ks.size() > 1 ? "@k" + std::to_string(k) : std::string())
            << "\": {\"k\": " << k << ", \"accuracy\": " << fixed(mean(m, k, &Result::accuracy), 4)
            << ", \"trainable\": " << runs(m, k).front()->trainable
            << ", \"seconds\": " << fixed(mean(m, k, &Result::seconds), 3) << "}";
          first = false;
        }
      f << "\n },\n \"runs\": [";
      for (size_t i = 0; i < results.size(); ++i) {
        auto& r = results[i];
        f << (i ? ",\n" : "\n") << "  {\"method\": \"" << r.method << "\", \"k\": " << r.k << ", \"seed\": " << r.seed
          << ", \"accuracy\": " << fixed(r.accuracy, 4) << ", \"trainable\": " << r.trainable
          << ", \"seconds\": " << fixed(r.seconds, 3) << "}";
      }
      f << "\n ]\n}\n";
      TL_CHECK(f.good(), "transfer_demo: cannot write '", base, ".json'");
    }
    std::ofstream f(base + ".svg");
    f << svg();
    TL_CHECK(f.good(), "transfer_demo: cannot write '", base, ".svg'");
  }

  std::string svg() const {
    const auto ms = methods();
    const char* colors[] = {"#888888", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
    const double W = 720, H = 420, L = 60, R = 150, T = 50, B = 50, pw = W - L - R, ph = H - T - B;
    double lo = 100, hi = 0;
    for (auto& r : results) lo = std::min(lo, r.accuracy), hi = std::max(hi, r.accuracy);
    lo = std::max(0.0, std::floor((lo - 5) / 10) * 10);
    hi = std::min(100.0, std::ceil((hi + 2) / 10) * 10);
    if (hi <= lo) hi = lo + 10;
    auto y = [&](double v) { return T + ph * (1 - (v - lo) / (hi - lo)); };
    std::ostringstream o;
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << L << "\" y=\"22\" font-size=\"15\">Transfer demo (" << scenario
      << "): target test accuracy vs labels per class</text>\n<text x=\"" << L << "\" y=\"38\" fill=\"#555\">mean over seeds "
      << join(seeds) << ", " << steps << " steps per method; dots: single seeds</text>\n";
    for (double t = lo; t <= hi + 1e-9; t += 10)
      o << "<line x1=\"" << L << "\" x2=\"" << L + pw << "\" y1=\"" << y(t) << "\" y2=\"" << y(t)
        << "\" stroke=\"#ddd\"/><text x=\"" << L - 6 << "\" y=\"" << y(t) + 4 << "\" text-anchor=\"end\">" << t
        << "%</text>\n";
    const double gw = pw / double(ks.size()), bw = gw * 0.8 / double(ms.size());
    for (size_t g = 0; g < ks.size(); ++g) {
      const double gx = L + gw * double(g) + gw * 0.1;
      o << "<text x=\"" << gx + gw * 0.4 << "\" y=\"" << T + ph + 18 << "\" text-anchor=\"middle\">K = " << ks[g]
        << "</text>\n";
      for (size_t i = 0; i < ms.size(); ++i) {
        const double v = mean(ms[i], ks[g], &Result::accuracy), x = gx + bw * double(i);
        o << "<rect x=\"" << x << "\" y=\"" << y(v) << "\" width=\"" << bw * 0.9 << "\" height=\"" << T + ph - y(v)
          << "\" fill=\"" << colors[i % 7] << "\"><title>" << ms[i] << ": " << fixed(v) << "%</title></rect>\n"
          << "<text x=\"" << x + bw * 0.45 << "\" y=\"" << y(v) - 4 << "\" text-anchor=\"middle\" font-size=\"10\">"
          << fixed(v, 1) << "</text>\n";
        for (auto* r : runs(ms[i], ks[g]))
          o << "<circle cx=\"" << x + bw * 0.45 << "\" cy=\"" << y(r->accuracy) << "\" r=\"2\" fill=\"black\"/>\n";
      }
    }
    o << "<text x=\"" << L + pw / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">labelled target images per class</text>\n";
    for (size_t i = 0; i < ms.size(); ++i)
      o << "<rect x=\"" << L + pw + 15 << "\" y=\"" << T + 20 * double(i) << "\" width=\"12\" height=\"12\" fill=\""
        << colors[i % 7] << "\"/><text x=\"" << L + pw + 32 << "\" y=\"" << T + 20 * double(i) + 10 << "\">" << ms[i]
        << "</text>\n";
    o << "</svg>\n";
    return o.str();
  }
};

}  // namespace demo
