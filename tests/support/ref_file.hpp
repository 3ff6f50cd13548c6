#pragma once
// Reads the reference files that tests/data/*.py write with PyTorch (tests/data/tlref.py).
// Format "TLREF1\n", then records: u32 name length, name, u32 ndim, i64 dims[ndim], f64 values.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <tl/tl.hpp>

namespace tl::test {

inline std::map<std::string, Tensor<double>> read_ref(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  TL_CHECK(f.good(), "read_ref: cannot open ", path, " (remake it with the script in tests/data)");
  char magic[7];
  f.read(magic, 7);
  TL_CHECK(f.good() && std::memcmp(magic, "TLREF1\n", 7) == 0, "read_ref: ", path, " is not a TLREF1 file");
  std::map<std::string, Tensor<double>> out;
  while (true) {
    uint32_t len;
    if (!f.read(reinterpret_cast<char*>(&len), 4)) break;
    std::string name(len, '\0');
    f.read(name.data(), len);
    uint32_t nd;
    f.read(reinterpret_cast<char*>(&nd), 4);
    Shape shape(nd);
    if (nd) f.read(reinterpret_cast<char*>(shape.data()), 8 * nd);
    auto t = Tensor<double>::uninitialized(shape);
    f.read(reinterpret_cast<char*>(t.data()), 8 * t.numel());
    TL_CHECK(f.good(), "read_ref: ", path, " is truncated in '", name, "'");
    out.emplace(name, t);
  }
  return out;
}

inline std::string data_path(const std::string& name) { return std::string(TL_TEST_DATA_DIR) + "/" + name; }

/// max |a - b| over all elements (shapes must match).
template <class T, class U>
double max_abs_diff(const Tensor<T>& a, const Tensor<U>& b) {
  TL_CHECK(a.shape() == b.shape(), "max_abs_diff: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  auto va = a.to_vector();
  auto vb = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(double(va[i]) - double(vb[i])));
  return m;
}

}  // namespace tl::test
