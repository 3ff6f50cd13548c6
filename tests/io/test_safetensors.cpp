#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "io/io_test_util.hpp"
#include <tl/io/io.hpp>

using tl::test::expect_error;
using tl::test::tmp_path;

namespace {
template <class T>
tl::StateDict<T> sample_state_dict() {
  tl::StateDict<T> sd;
  tl::Generator g(7);
  auto w = tl::empty<T>({3, 4});
  for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = static_cast<T>(std::sin(1.7 * i + 0.3) / 3.0);
  sd.insert("conv1.weight", w);
  sd.insert("bn1.running_var", tl::Tensor<T>({T(1), T(0.5), std::numeric_limits<T>::denorm_min()}, {3}));
  sd.insert("bn1.num_batches_tracked", tl::scalar_tensor<T>(T(123456)), /*integer=*/true);
  sd.insert("fc.weight_t", w.transpose(0, 1));  // non-contiguous: written as its values
  sd.insert("empty", tl::empty<T>({0, 5}));
  sd.insert("tiny", tl::Tensor<T>({-std::numeric_limits<T>::infinity(), T(-0.0)}, {2}));
  return sd;
}

// A safetensors file from a JSON header and a data buffer.
std::vector<uint8_t> st_bytes(const std::string& header, const std::vector<uint8_t>& data, uint64_t hlen = 0) {
  std::vector<uint8_t> b;
  tl::test::put_u64(b, hlen ? hlen : header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
}  // namespace

TEST_CASE_TEMPLATE("safetensors round trip is bit-exact and keeps order, integer flag and metadata", T, float, double) {
  auto sd = sample_state_dict<T>();
  sd.metadata["format"] = "pt";
  auto path = tmp_path("rt.safetensors");
  tl::io::save_safetensors(path, sd, {{"epoch", "3"}});
  auto back = tl::io::load_safetensors<T>(path);
  CHECK(back.keys() == sd.keys());
  for (const auto& e : sd) {
    CHECK_MESSAGE(tl::test::same_values(e.tensor, back.at(e.name)), e.name);
    CHECK(back.is_integer(e.name) == e.integer);
  }
  CHECK(back.at("fc.weight_t").is_contiguous());
  CHECK(back.metadata.at("format") == "pt");
  CHECK(back.metadata.at("epoch") == "3");
  // The file itself: 8-byte aligned header, F32/F64 and I64 dtypes.
  auto bytes = tl::test::read_file(path);
  uint64_t hlen;
  std::memcpy(&hlen, bytes.data(), 8);
  CHECK(hlen % 8 == 0);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(hlen));
  CHECK(header.find(std::is_same_v<T, float> ? "\"F32\"" : "\"F64\"") != std::string::npos);
  CHECK(header.find("\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]") != std::string::npos);
  // Reading as the other precision converts.
  auto as_double = tl::io::load_safetensors<double>(path);
  CHECK(as_double.at("conv1.weight").at({1, 2}) == static_cast<double>(sd.at("conv1.weight").at({1, 2})));
  CHECK(as_double.at("bn1.num_batches_tracked").item() == 123456.0);
}

TEST_CASE("safetensors writes atomically and overwrites") {
  auto path = tmp_path("overwrite.safetensors");
  tl::test::write_file(path, {1, 2, 3});
  tl::StateDict<float> sd;
  sd.insert("a", tl::ones<float>({2}));
  tl::io::save_safetensors(path, sd);
  CHECK(tl::io::load_safetensors(path).at("a").to_vector() == std::vector<float>{1, 1});
  for (const auto& f : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    CHECK(f.path().string().find(".tmp") == std::string::npos);
  expect_error([&] { tl::io::save_safetensors(tmp_path("no_such_dir/x.safetensors"), sd); },
               {"save_safetensors", "no_such_dir"});
}

TEST_CASE("safetensors reads every dtype it supports") {
  // F16 1.5, -2 ; BF16 3.0 ; I32 -7 ; U8 200 ; BOOL true ; F64 0.1 ; I64 -5
  std::vector<uint8_t> data = {0x00, 0x3e, 0x00, 0xc0,                  // F16 [2]
                               0x40, 0x40,                              // BF16 [1]
                               0xf9, 0xff, 0xff, 0xff,                  // I32 [1]
                               200,  1,                                 // U8 [1], BOOL [1]
                               0x01, 0x00};                             // F16 subnormal 2^-24
  std::string h = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]},)"
                  R"("i":{"dtype":"I32","shape":[1],"data_offsets":[6,10]},)"
                  R"("u":{"dtype":"U8","shape":[1],"data_offsets":[10,11]},)"
                  R"("q":{"dtype":"BOOL","shape":[1],"data_offsets":[11,12]},)"
                  R"("s":{"dtype":"F16","shape":[1,1],"data_offsets":[12,14]},)"
                  R"("__metadata__":{"k":"v \" \u00e9 \ud83d\ude00"}})";
  auto path = tmp_path("dtypes.safetensors");
  tl::test::write_file(path, st_bytes(h, data));
  auto sd = tl::io::load_safetensors<double>(path);
  CHECK(sd.keys() == std::vector<std::string>{"h", "b", "i", "u", "q", "s"});
  CHECK(sd.at("h").to_vector() == std::vector<double>{1.5, -2.0});
  CHECK(sd.at("b").item() == 3.0);
  CHECK(sd.at("b").dim() == 0);
  CHECK(sd.at("i").item() == -7.0);
  CHECK(sd.is_integer("i"));
  CHECK(!sd.is_integer("h"));
  CHECK(sd.at("u").item() == 200.0);
  CHECK(sd.at("q").item() == 1.0);
  CHECK(sd.at("s").item() == std::ldexp(1.0, -24));
  CHECK(sd.metadata.at("k") == "v \" \xc3\xa9 \xf0\x9f\x98\x80");
}

TEST_CASE("malformed safetensors files throw tl::Error naming the file and the problem") {
  std::vector<uint8_t> four(4, 0);
  auto ok_h = std::string(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})");
  struct Case { std::string name; std::vector<uint8_t> bytes; std::string problem; };
  std::vector<Case> cases = {
      {"short", {1, 2, 3}, "too short"},
      {"hlen_big", st_bytes(ok_h, four, 1000), "larger than"},
      {"hlen_2_63", st_bytes(ok_h, four, uint64_t(1) << 63), "100 MB"},
      {"hlen_200mb", st_bytes(ok_h, four, 200'000'000), "100 MB"},
      {"bad_json", st_bytes(R"({"a":{"dtype":"F32",}})", four), "invalid JSON"},
      {"not_object", st_bytes("[1]", four), "expected a JSON object"},
      {"unknown_dtype", st_bytes(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", four), "unknown or unsupported dtype 'F8_E4M3'"},
      {"past_end", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four), "run past the data buffer"},
      {"size_mismatch", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four), "needs 2 x 4 bytes"},
      {"neg_shape", st_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four), "non-negative"},
      {"shape_overflow", st_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", four), "overflows"},
      {"offset_2_63", st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775804,9223372036854775808]}})", four), "int64 range"},
      {"overlap", st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}})", four), "overlaps"},
      {"hole", st_bytes(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}})", four), "hole"},
      {"trailing", st_bytes(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", four), "after the last tensor"},
      {"reversed", st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", four), "reversed"},
      {"dup_key", st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{}})", four), "duplicate key"},
      {"meta_nonstring", st_bytes(R"({"__metadata__":{"x":1}})", {}), "expected a string"},
      {"deep", st_bytes(std::string(200, '[') + std::string(200, ']'), {}), "nesting deeper"},
      {"bad_utf8", st_bytes("{\"\xff\":1}", {}), "UTF-8"},
      {"float_num", st_bytes(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", four), "non-integer"},
      {"missing_field", st_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", four), "\"shape\""},
  };
  for (const auto& c : cases) {
    auto path = tmp_path("bad_" + c.name + ".safetensors");
    tl::test::write_file(path, c.bytes);
    INFO(c.name);
    expect_error([&] { tl::io::load_safetensors(path); }, {path, c.problem});
  }
  // Truncation at every offset of a valid file.
  tl::StateDict<float> sd;
  sd.insert("w", tl::ones<float>({3, 2}));
  sd.insert("n", tl::scalar_tensor<float>(5), true);
  auto full_path = tmp_path("trunc_src.safetensors");
  tl::io::save_safetensors(full_path, sd);
  auto full = tl::test::read_file(full_path);
  auto cut_path = tmp_path("trunc.safetensors");
  for (size_t n = 0; n < full.size(); ++n) {
    tl::test::write_file(cut_path, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    expect_error([&] { tl::io::load_safetensors(cut_path); }, {cut_path});
  }
  expect_error([&] { tl::io::load_safetensors(tmp_path("does_not_exist.safetensors")); }, {"does_not_exist", "cannot open"});
}
