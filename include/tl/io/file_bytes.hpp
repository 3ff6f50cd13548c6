#pragma once
// Whole-file reading, bounds-checked little-endian reads, CRC-32 and atomic file writes.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "tl/core/error.hpp"

namespace tl::io {

using Bytes = std::vector<uint8_t>;

/// Reads a whole file; throws tl::Error naming the file if it cannot be read.
inline std::shared_ptr<const Bytes> read_file_bytes(const std::string& path, const char* op) {
  std::error_code ec;
  TL_CHECK(std::filesystem::is_regular_file(path, ec), op, ": cannot open '", path, "': not a regular file");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  TL_CHECK(f.good(), op, ": cannot open '", path, "'");
  auto size = static_cast<std::streamoff>(f.tellg());
  TL_CHECK(size >= 0, op, ": cannot determine the size of '", path, "'");
  auto data = std::make_shared<Bytes>(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0) f.read(reinterpret_cast<char*>(data->data()), size);
  TL_CHECK(f.good(), op, ": error reading '", path, "'");
  return data;
}

/// Little-endian unsigned integer of N bytes at p (no alignment needed).
template <class U>
U read_le(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  return v;
}

/// A bounds-checked cursor over a byte range; `what` names the file/part in errors.
class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, size_t size, std::string what) : d_(data), n_(size), what_(std::move(what)) {}
  size_t pos() const { return pos_; }
  size_t size() const { return n_; }
  size_t remaining() const { return n_ - pos_; }
  bool at_end() const { return pos_ == n_; }
  const uint8_t* here() const { return d_ + pos_; }
  const std::string& what() const { return what_; }
  void need(size_t k, const char* item) const {
    TL_CHECK(k <= remaining(), what_, ": truncated: ", item, " needs ", k, " bytes at offset ", pos_, ", only ",
             remaining(), " left");
  }
  const uint8_t* take(size_t k, const char* item) {
    need(k, item);
    const uint8_t* p = d_ + pos_;
    pos_ += k;
    return p;
  }
  uint8_t u8(const char* item) { return *take(1, item); }
  template <class U>
  U le(const char* item) { return read_le<U>(take(sizeof(U), item)); }
  void seek(size_t p) {
    TL_CHECK(p <= n_, what_, ": offset ", p, " is past the end (", n_, " bytes)");
    pos_ = p;
  }

 private:
  const uint8_t* d_;
  size_t n_, pos_ = 0;
  std::string what_;
};

/// Standard CRC-32 (zip, zlib), table driven.
inline uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}
inline uint32_t crc32(const uint8_t* p, size_t n) { return crc32_update(0, p, n); }

/// Writes a file atomically: `write(FILE*)` fills a temporary file next to `path`, which is flushed,
/// synced and renamed over `path`, so readers never see a half-written checkpoint.
template <class Fn>
void write_file_atomic(const std::string& path, const char* op, Fn&& write) {
  std::random_device rd;
  std::string tmp = path + ".tmp" + std::to_string(rd() % 1000000);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  TL_CHECK(f != nullptr, op, ": cannot create '", tmp, "' (to write '", path, "')");
  bool ok = false;
  try {
    write(f);
    ok = std::fflush(f) == 0 && !std::ferror(f);
#if defined(__unix__) || defined(__APPLE__)
    ok = ok && ::fsync(fileno(f)) == 0;
#endif
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    tl::detail::fail(op, ": error writing '", path, "' (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    tl::detail::fail(op, ": cannot rename '", tmp, "' to '", path, "': ", ec.message());
  }
}

/// fwrite that throws on failure.
inline void write_bytes(std::FILE* f, const void* p, size_t n, const char* op) {
  if (n) TL_CHECK(std::fwrite(p, 1, n, f) == n, op, ": write failed");
}

}  // namespace tl::io
