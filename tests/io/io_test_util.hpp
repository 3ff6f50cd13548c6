#pragma once
// Helpers shared by the tl::io tests: temporary files, byte builders, error expectations.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <tl/tl.hpp>

namespace tl::test {

/// A fresh file path in a per-process temporary folder.
inline std::string tmp_path(const std::string& name) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("tl_io_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return (dir / name).string();
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void put_u64(std::vector<uint8_t>& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

/// Runs fn, which must throw tl::Error whose message contains every piece; returns the message.
template <class Fn>
std::string expect_error(Fn&& fn, const std::vector<std::string>& pieces) {
  std::string msg;
  try {
    fn();
  } catch (const tl::Error& e) {
    msg = e.what();
  }
  CHECK_MESSAGE(!msg.empty(), "expected a tl::Error containing '", (pieces.empty() ? "" : pieces[0]), "'");
  for (const auto& p : pieces) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'", p, "' not in: ", msg);
  return msg;
}

/// Bit-exact equality of two tensors' values (and shapes).
template <class T>
bool same_values(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector(), vb = b.to_vector();
  return va.size() == vb.size() && (va.empty() || std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0);
}

}  // namespace tl::test
