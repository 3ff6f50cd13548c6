#pragma once
// A fresh, empty directory under the system's temp directory, named after the test and the process.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace tl::test {

inline std::string fresh_temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace tl::test
