#pragma once
// Reading a whole file into memory, plain or gzip-compressed (through zlib), with errors naming it.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tl/core/error.hpp"

namespace tl::data::detail {

/// The bytes of a file as stored.
inline std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  TL_CHECK(f.good(), "cannot open '", path, "'");
  auto end = f.tellg();
  TL_CHECK(end >= 0, "cannot read '", path, "'");
  std::vector<uint8_t> buf(static_cast<size_t>(end));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  TL_CHECK(f.good() || buf.empty(), "cannot read '", path, "'");
  return buf;
}

/// The decompressed bytes of a .gz file; a file that is not gzip is read as is (zlib's
/// transparent mode). A corrupt or truncated stream throws naming the file.
inline std::vector<uint8_t> read_maybe_gz_bytes(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  TL_CHECK(f != nullptr, "cannot open '", path, "'");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      tl::detail::fail("'", path, "': corrupt gzip data (", msg, ")");
    }
    if (n == 0) break;
    out.insert(out.end(), chunk.data(), chunk.data() + n);
  }
  int err = 0;
  std::string msg = gzerror(f, &err);
  gzclose(f);
  // zlib reports a stream cut short as Z_BUF_ERROR only here, after the last read.
  TL_CHECK(err == Z_OK || err == Z_STREAM_END, "'", path, "': truncated or corrupt gzip data (", msg, ")");
  return out;
}

/// Big-endian 32-bit unsigned at p.
inline uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

/// "0x00000803"
inline std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace tl::data::detail
