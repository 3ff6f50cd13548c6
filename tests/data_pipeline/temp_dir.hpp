#pragma once
// Test data writers for the dataset tests; TempDir is the shared one in tests/support.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "support/temp_dir.hpp"

namespace tl_test {

using tl::test::TempDir;

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
}

}  // namespace tl_test
