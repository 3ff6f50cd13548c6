#pragma once
// Command-line handling shared by the transfer examples (finetune_resnet, adapter_resnet, multitask,
// distill): typed option values with range checks, and a main() wrapper that turns every error
// into one line on stderr and an exit code (2: bad usage, 1: failure while running).
//
//   int main(int argc, char** argv) {
//     return ex::run_main("my_example", [&] {
//       ex::ArgReader r(argc, argv);
//       while (r.next()) {
//         if (r.is("--help")) { usage(); return 0; }
//         else if (r.is("--epochs")) epochs = r.integer(1);
//         else r.unknown();
//       }
//       ...
//       return 0;
//     });
//   }
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <tl/core/error.hpp>

namespace ex {

/// A mistake in the command line (exit code 2), as opposed to a failure while running (exit code 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... A>
[[noreturn]] void usage_error(const A&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  throw UsageError(s.str());
}

/// Walks argv option by option; the value readers consume the next argument.
inline std::string join(const std::vector<std::string>& items) {
  std::string all;
  for (const auto& c : items) all += (all.empty() ? "" : ",") + c;
  return all;
}

class ArgReader {
 public:
  ArgReader(int argc, char** argv) : argc_(argc), argv_(argv) {}

  /// Moves to the next option; false at the end.
  bool next() {
    if (++i_ >= argc_) return false;
    key_ = argv_[i_];
    return true;
  }
  const std::string& key() const { return key_; }
  bool is(const char* name) const { return key_ == name; }

  std::string str() {
    if (i_ + 1 >= argc_) usage_error("missing value after ", key_, " (see --help)");
    return argv_[++i_];
  }
  int64_t integer(int64_t lo = std::numeric_limits<int64_t>::min(), int64_t hi = std::numeric_limits<int64_t>::max()) {
    const std::string v = str();
    size_t used = 0;
    int64_t x = 0;
    try {
      x = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size()) usage_error(key_, " expects an integer, got '", v, "'");
    if (x < lo || x > hi) range_error(v, lo, hi);
    return x;
  }
  double real(double lo = -std::numeric_limits<double>::infinity(), double hi = std::numeric_limits<double>::infinity()) {
    const std::string v = str();
    size_t used = 0;
    double x = 0;
    try {
      x = std::stod(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size() || x != x) usage_error(key_, " expects a number, got '", v, "'");
    if (x < lo || x > hi) range_error(v, lo, hi);
    return x;
  }
  /// One of `choices`.
  std::string choice(const std::vector<std::string>& choices) {
    const std::string v = str();
    std::string all;
    for (const auto& c : choices) {
      if (c == v) return v;
      all += (all.empty() ? "" : ", ") + c;
    }
    usage_error(key_, " must be one of ", all, "; got '", v, "'");
  }
  /// A comma-separated list (empty items dropped).
  std::vector<std::string> list() {
    const std::string v = str();
    std::vector<std::string> out;
    std::stringstream s(v);
    std::string item;
    while (std::getline(s, item, ','))
      if (!item.empty()) out.push_back(item);
    if (out.empty()) usage_error(key_, " expects a comma-separated list, got '", v, "'");
    return out;
  }
  /// A comma-separated list of numbers in [lo, hi].
  std::vector<double> reals(double lo, double hi) {
    const std::string opt = key_;
    std::vector<double> out;
    for (const auto& item : list()) {
      size_t used = 0;
      double x = 0;
      try {
        x = std::stod(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size() || !(x >= lo && x <= hi))
        usage_error(opt, " expects numbers in [", lo, ", ", hi, "], got '", item, "'");
      out.push_back(x);
    }
    return out;
  }
  /// A comma-separated list of integers >= lo.
  std::vector<int64_t> integers(int64_t lo) {
    const std::string opt = key_;
    std::vector<int64_t> out;
    for (const auto& item : list()) {
      size_t used = 0;
      int64_t x = 0;
      try {
        x = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size()) usage_error(opt, " expects integers, got '", item, "'");
      if (x < lo) usage_error(opt, " must be >= ", lo, ", got ", item);
      out.push_back(x);
    }
    return out;
  }
  /// A comma-separated subset of `known`.
  std::vector<std::string> subset(const std::vector<std::string>& known) {
    const std::string opt = key_;
    auto out = list();
    for (const auto& item : out) {
      bool ok = false;
      for (const auto& k : known) ok = ok || k == item;
      if (!ok) usage_error(opt, ": unknown item '", item, "' (expected some of ", join(known), ")");
    }
    return out;
  }
  [[noreturn]] void unknown() const { usage_error("unknown option '", key_, "' (see --help)"); }

 private:
  template <class N>
  [[noreturn]] void range_error(const std::string& v, N lo, N hi) const {
    if (hi == std::numeric_limits<N>::max() || hi == std::numeric_limits<N>::infinity())
      usage_error(key_, " must be >= ", lo, ", got ", v);
    usage_error(key_, " must be in [", lo, ", ", hi, "], got ", v);
  }
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string key_;
};

/// A usage error unless `path` is an existing regular file.
inline void require_file(const char* option, const std::string& path, const char* what) {
  namespace fs = std::filesystem;
  if (path.empty()) usage_error(option, " is required (", what, "; see --help)");
  if (!fs::is_regular_file(path)) usage_error(option, " '", path, "' is not a file (", what, ")");
}

/// A usage error unless `path` is an existing directory.
inline void require_dir(const char* option, const std::string& path, const char* what) {
  namespace fs = std::filesystem;
  if (path.empty()) usage_error(option, " is required (", what, "; see --help)");
  if (!fs::is_directory(path)) usage_error(option, " '", path, "' is not a directory (", what, ")");
}

/// A usage error unless the directory `path` would be written in exists (checked before a long run).
inline void require_output(const char* option, const std::string& path) {
  namespace fs = std::filesystem;
  const auto dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::is_directory(dir))
    usage_error(option, " '", path, "': the directory '", dir.string(), "' does not exist");
}

/// require_output, and the name must end in .safetensors (the format tl writes).
inline void require_safetensors_output(const char* option, const std::string& path) {
  if (!path.ends_with(".safetensors")) usage_error(option, " '", path, "' must end in .safetensors");
  require_output(option, path);
}

/// A message on one line: tl's multi-line reports (e.g. load_backbone's lists) joined with "; ".
inline std::string one_line(std::string s) {
  for (size_t p; (p = s.find("\n  ")) != std::string::npos;) s.replace(p, 3, "; ");
  for (auto& c : s)
    if (c == '\n') c = ' ';
  return s;
}

/// Runs `body` and maps errors to exit codes: UsageError -> 2, tl::Error and other exceptions -> 1,
/// each printed as "<prog>: error: <message>" on one line.
template <class F>
int run_main(const char* prog, F&& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, one_line(e.what()).c_str());
    return 2;
  } catch (const tl::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, one_line(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, one_line(e.what()).c_str());
    return 1;
  }
}

}  // namespace ex
