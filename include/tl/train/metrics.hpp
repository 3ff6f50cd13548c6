#pragma once
// tl::train::MetricsLogger: one JSON object per line (per epoch, optionally per N steps) appended
// to a .jsonl file, plus a CSV of the epochs and an SVG chart, both rewritten after every epoch.
//
//   {"kind":"epoch","epoch":3,"global_step":1407,"train_loss":0.31,...,"lr":0.05,"seconds":12.1,...}
//   {"kind":"step","epoch":3,"step":100,"global_step":1038,"loss":0.29,"acc":0.89,"lr":0.05}
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tl/io/file_bytes.hpp"
#include "tl/train/chart.hpp"
#include "tl/train/history.hpp"

namespace tl::train {

class MetricsLogger {
 public:
  MetricsLogger() = default;
  /// `jsonl_path` ("run/metrics.jsonl"): the CSV and SVG go next to it ("run/metrics.csv",
  /// "run/metrics.svg"). With append (a resumed run) the JSONL keeps its lines.
  explicit MetricsLogger(const std::string& jsonl_path, bool append = false) { open(jsonl_path, append); }
  ~MetricsLogger() { close(); }
  MetricsLogger(const MetricsLogger&) = delete;
  MetricsLogger& operator=(const MetricsLogger&) = delete;

  void open(const std::string& jsonl_path, bool append = false) {
    close();
    namespace fs = std::filesystem;
    fs::path p(jsonl_path);
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    jsonl_ = jsonl_path;
    csv_ = fs::path(p).replace_extension(".csv").string();
    svg_ = fs::path(p).replace_extension(".svg").string();
    f_ = std::fopen(jsonl_path.c_str(), append ? "a" : "w");
    TL_CHECK(f_ != nullptr, "MetricsLogger: cannot open '", jsonl_path, "' for writing");
  }
  bool is_open() const { return f_ != nullptr; }
  void close() {
    if (f_) std::fclose(f_);
    f_ = nullptr;
  }
  const std::string& jsonl_path() const { return jsonl_; }
  const std::string& csv_path() const { return csv_; }
  const std::string& svg_path() const { return svg_; }

  /// Any record: {"kind": kind, name: value, ...} (NaN and infinities become null).
  void log(const std::string& kind, const std::vector<std::pair<std::string, double>>& fields) {
    if (!f_) return;
    std::string s = "{\"kind\":\"" + kind + "\"";
    for (const auto& [k, v] : fields) s += ",\"" + k + "\":" + (std::isfinite(v) ? detail::num(v) : std::string("null"));
    s += "}\n";
    std::fputs(s.c_str(), f_);
    std::fflush(f_);  // a crash loses at most the line being written
  }

  void log_step(int64_t epoch, int64_t step, int64_t global_step, double loss, double acc, double lr) {
    log("step", {{"epoch", double(epoch)}, {"step", double(step)}, {"global_step", double(global_step)},
                 {"loss", loss}, {"acc", acc}, {"lr", lr}});
  }

  /// Appends the epoch's line and rewrites the CSV and the chart from the whole history.
  void log_epoch(const EpochRecord& r, const History& all) {
    if (!f_) return;
    std::vector<std::pair<std::string, double>> fields;
    auto v = detail::record_values(r);
    for (size_t i = 0; i < v.size(); ++i) fields.emplace_back(detail::record_fields()[i], v[i]);
    log("epoch", fields);
    write_text(csv_, history_to_csv(all));
    write_text(svg_, chart_svg(all, std::filesystem::path(jsonl_).stem().string()));
  }

 private:
  static void write_text(const std::string& path, const std::string& text) {
    io::write_file_atomic(path, "MetricsLogger", [&](std::FILE* f) {
      TL_CHECK(std::fwrite(text.data(), 1, text.size(), f) == text.size(), "MetricsLogger: error writing '", path, "'");
    });
  }
  std::FILE* f_ = nullptr;
  std::string jsonl_, csv_, svg_;
};

}  // namespace tl::train
