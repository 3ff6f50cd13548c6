#include <doctest/doctest.h>

#include <stb_image_write.h>

#include <tl/ops/view.hpp>
#include <tl/data/data.hpp>

#include "data_pipeline/temp_dir.hpp"

using tl_test::TempDir;
using tl_test::write_bytes;
using tl_test::write_gz;
namespace td = tl::data;

namespace {

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}

// IDX images [n, h, w] with pixel (i, y, x) = (7 * i + 3 * y + x) % 256, labels (i * 3) % 10.
std::vector<uint8_t> idx_images(uint32_t n, uint32_t h, uint32_t w) {
  std::vector<uint8_t> v;
  put_be32(v, 0x803);
  put_be32(v, n);
  put_be32(v, h);
  put_be32(v, w);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t y = 0; y < h; ++y)
      for (uint32_t x = 0; x < w; ++x) v.push_back(static_cast<uint8_t>((7 * i + 3 * y + x) % 256));
  return v;
}
std::vector<uint8_t> idx_labels(uint32_t n) {
  std::vector<uint8_t> v;
  put_be32(v, 0x801);
  put_be32(v, n);
  for (uint32_t i = 0; i < n; ++i) v.push_back(static_cast<uint8_t>((i * 3) % 10));
  return v;
}

void check_idx_contents(const td::IdxDataset& ds) {
  REQUIRE(ds.size() == 5);
  CHECK(ds.height() == 3);
  CHECK(ds.width() == 4);
  for (int64_t i = 0; i < 5; ++i) {
    CHECK(ds.label(i) == (i * 3) % 10);
    auto raw = ds.get_uint8(i);
    REQUIRE(raw.shape() == tl::Shape{1, 3, 4});
    auto ex = ds.get(i);
    REQUIRE(ex.image.shape() == tl::Shape{1, 3, 4});
    CHECK(ex.label == (i * 3) % 10);
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t x = 0; x < 4; ++x) {
        auto want = static_cast<uint8_t>((7 * i + 3 * y + x) % 256);
        CHECK(raw.at({0, y, x}) == want);
        CHECK(ex.image.at({0, y, x}) == static_cast<float>(want) / 255.0f);
      }
  }
}

// Runs f, expects a tl::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("expected tl::Error");
  } catch (const tl::Error& e) {
    std::string m = e.what();
    for (const auto& p : parts) CHECK_MESSAGE(m.find(p) != std::string::npos, "message '", m, "' lacks '", p, "'");
  }
}

}  // namespace

TEST_CASE("IDX files read back exactly, plain and gzipped") {
  TempDir dir;
  write_bytes(dir.file("img"), idx_images(5, 3, 4));
  write_bytes(dir.file("lab"), idx_labels(5));
  check_idx_contents(td::IdxDataset(dir.file("img"), dir.file("lab")));
  write_gz(dir.file("img.gz"), idx_images(5, 3, 4));
  write_gz(dir.file("lab.gz"), idx_labels(5));
  check_idx_contents(td::IdxDataset(dir.file("img.gz"), dir.file("lab.gz")));

  auto arr = td::read_idx(dir.file("img.gz"), 3);
  CHECK(arr.dims == std::vector<int64_t>{5, 3, 4});
  CHECK(arr.values.size() == 60u);

  // MNIST's file names, found with or without .gz
  write_gz(dir.file("mnist/train-images-idx3-ubyte.gz"), idx_images(5, 3, 4));
  write_bytes(dir.file("mnist/train-labels-idx1-ubyte"), idx_labels(5));
  auto m = td::MNIST(dir.file("mnist"), true);
  check_idx_contents(*m);
  CHECK(m->num_classes() == 10);
  expect_error([&] { td::MNIST(dir.file("mnist"), false); }, {"MNIST", "t10k-images-idx3-ubyte"});
}

TEST_CASE("malformed IDX files are rejected with the file's name") {
  TempDir dir;
  write_bytes(dir.file("lab"), idx_labels(5));
  write_bytes(dir.file("img"), idx_images(5, 3, 4));
  // labels given as images: wrong magic
  expect_error([&] { td::IdxDataset(dir.file("lab"), dir.file("lab")); }, {dir.file("lab"), "magic number 0x00000801",
                                                                          "expected 0x00000803"});
  // truncated data
  auto img = idx_images(5, 3, 4);
  img.pop_back();
  write_bytes(dir.file("short"), img);
  expect_error([&] { td::IdxDataset(dir.file("short"), dir.file("lab")); }, {dir.file("short"), "truncated"});
  // trailing bytes
  img = idx_images(5, 3, 4);
  img.push_back(1);
  write_bytes(dir.file("long"), img);
  expect_error([&] { td::IdxDataset(dir.file("long"), dir.file("lab")); }, {dir.file("long"), "trailing"});
  // header cut off
  auto full = idx_images(5, 3, 4);
  write_bytes(dir.file("hdr"), std::vector<uint8_t>(full.begin(), full.begin() + 10));
  expect_error([&] { td::IdxDataset(dir.file("hdr"), dir.file("lab")); }, {dir.file("hdr"), "header"});
  write_bytes(dir.file("tiny"), {0, 0});
  expect_error([&] { td::IdxDataset(dir.file("tiny"), dir.file("lab")); }, {dir.file("tiny"), "too short"});
  // counts disagree
  write_bytes(dir.file("lab4"), idx_labels(4));
  expect_error([&] { td::IdxDataset(dir.file("img"), dir.file("lab4")); }, {dir.file("img"), dir.file("lab4"), "5 images", "4 labels"});
  // a gzip stream cut in half
  write_gz(dir.file("full.gz"), idx_images(50, 28, 28));
  auto gz = td::detail::read_file_bytes(dir.file("full.gz"));
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("cut.gz"), gz);
  expect_error([&] { td::read_idx(dir.file("cut.gz"), 3); }, {dir.file("cut.gz")});
  // missing file
  expect_error([&] { td::read_idx(dir.file("nope"), 3); }, {"cannot open", dir.file("nope")});
  // labels beyond the class list
  expect_error([&] { td::IdxDataset(dir.file("img"), dir.file("lab"), {"a", "b"}); }, {dir.file("lab"), "label 3"});
}

namespace {
// A CIFAR record: label byte(s) then 3072 pixels, pixel k of record r = (r * 11 + k) % 256.
void cifar_record(std::vector<uint8_t>& v, std::vector<uint8_t> labels, int r) {
  v.insert(v.end(), labels.begin(), labels.end());
  for (int k = 0; k < 3072; ++k) v.push_back(static_cast<uint8_t>((r * 11 + k) % 256));
}
}  // namespace

TEST_CASE("CIFAR-10 and CIFAR-100 binary files read back exactly") {
  TempDir dir;
  int r = 0;
  for (int b = 1; b <= 5; ++b) {
    std::vector<uint8_t> v;
    for (int k = 0; k < 2; ++k, ++r) cifar_record(v, {static_cast<uint8_t>(r % 10)}, r);
    write_bytes(dir.file("c10/data_batch_" + std::to_string(b) + ".bin"), v);
  }
  std::vector<uint8_t> test;
  cifar_record(test, {7}, 100);
  write_bytes(dir.file("c10/test_batch.bin"), test);

  auto train = td::CIFAR10(dir.file("c10"), true);
  REQUIRE(train->size() == 10);
  CHECK(train->classes().size() == 10u);
  CHECK(train->classes()[0] == "airplane");
  for (int64_t i = 0; i < 10; ++i) {
    CHECK(train->label(i) == i % 10);
    auto raw = train->get_uint8(i);
    REQUIRE(raw.shape() == tl::Shape{3, 32, 32});
    // channel-planar: pixel (c, y, x) is byte c * 1024 + y * 32 + x of the record
    for (int64_t c : {0, 2})
      for (int64_t y : {0, 5, 31})
        for (int64_t x : {0, 17, 31})
          CHECK(raw.at({c, y, x}) == static_cast<uint8_t>((i * 11 + c * 1024 + y * 32 + x) % 256));
  }
  CHECK(train->get(3).image.at({1, 2, 3}) == static_cast<float>((3 * 11 + 1024 + 64 + 3) % 256) / 255.0f);
  auto t = td::CIFAR10(dir.file("c10"), false);
  REQUIRE(t->size() == 1);
  CHECK(t->label(0) == 7);
  CHECK(t->get_uint8(0).at({0, 0, 0}) == static_cast<uint8_t>(1100 % 256));

  std::vector<uint8_t> c100;
  cifar_record(c100, {3, 42}, 0);
  cifar_record(c100, {19, 99}, 1);
  write_bytes(dir.file("c100/train.bin"), c100);
  auto fine = td::CIFAR100(dir.file("c100"), true);
  auto coarse = td::CIFAR100(dir.file("c100"), true, /*coarse=*/true);
  REQUIRE(fine->size() == 2);
  CHECK(fine->label(0) == 42);
  CHECK(fine->label(1) == 99);
  CHECK(coarse->label(0) == 3);
  CHECK(coarse->label(1) == 19);
  CHECK(fine->get_uint8(1).at({0, 0, 1}) == 12);
}

TEST_CASE("malformed CIFAR files are rejected with the file's name") {
  TempDir dir;
  std::vector<uint8_t> v;
  cifar_record(v, {1}, 0);
  cifar_record(v, {2}, 1);
  v.pop_back();
  write_bytes(dir.file("trunc.bin"), v);
  expect_error([&] { td::CifarDataset({dir.file("trunc.bin")}, 1, 0, 10, {}, "CIFAR10"); },
               {"CIFAR10", dir.file("trunc.bin"), "3073-byte record"});
  std::vector<uint8_t> bad;
  cifar_record(bad, {10}, 0);
  write_bytes(dir.file("label.bin"), bad);
  expect_error([&] { td::CifarDataset({dir.file("label.bin")}, 1, 0, 10, {}, "CIFAR10"); },
               {dir.file("label.bin"), "label 10"});
  write_bytes(dir.file("empty.bin"), {});
  expect_error([&] { td::CifarDataset({dir.file("empty.bin")}, 1, 0, 10, {}, "CIFAR10"); }, {dir.file("empty.bin")});
  // a CIFAR-10 file read as CIFAR-100 (3073 is not a multiple of 3074)
  std::vector<uint8_t> one;
  cifar_record(one, {1}, 0);
  write_bytes(dir.file("c100/train.bin"), one);
  expect_error([&] { td::CIFAR100(dir.file("c100")); }, {"CIFAR100", dir.file("c100/train.bin"), "3074"});
  // missing batch files
  expect_error([&] { td::CIFAR10(dir.file("nowhere")); }, {"cannot open", "data_batch_1.bin"});
}

namespace {
// Writes a w x h RGB PNG with pixel (y, x) = (base + x, base + 10 * y, base + x + y).
void write_png(const std::string& path, int w, int h, int base) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<uint8_t> px;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      px.push_back(static_cast<uint8_t>(base + x));
      px.push_back(static_cast<uint8_t>(base + 10 * y));
      px.push_back(static_cast<uint8_t>(base + x + y));
    }
  REQUIRE(stbi_write_png(path.c_str(), w, h, 3, px.data(), w * 3) != 0);
}
}  // namespace

TEST_CASE("ImageFolder orders classes and files like torchvision and decodes PNGs exactly") {
  TempDir dir;
  const std::string root = dir.file("root");
  write_png(root + "/dog/b.png", 4, 3, 50);
  write_png(root + "/cat/z.PNG", 4, 3, 10);
  write_png(root + "/cat/sub/a.png", 4, 3, 20);
  write_png(root + "/cat/m.png", 5, 2, 30);
  write_bytes(root + "/cat/notes.txt", {1, 2, 3});
  td::ImageFolder ds(root);
  CHECK(ds.classes() == std::vector<std::string>{"cat", "dog"});
  REQUIRE(ds.size() == 4);
  // torchvision: sorted(os.walk(...)) -> folder "cat" before "cat/sub"; names sorted within
  std::vector<std::string> want = {root + "/cat/m.png", root + "/cat/z.PNG", root + "/cat/sub/a.png", root + "/dog/b.png"};
  for (int64_t i = 0; i < 4; ++i) CHECK(ds.samples()[static_cast<size_t>(i)].first == want[static_cast<size_t>(i)]);
  CHECK(ds.label(0) == 0);
  CHECK(ds.label(2) == 0);
  CHECK(ds.label(3) == 1);
  auto img = ds.get_uint8(1);  // z.PNG, base 10, 4 x 3
  REQUIRE(img.shape() == tl::Shape{3, 3, 4});
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 4; ++x) {
      CHECK(img.at({0, y, x}) == 10 + x);
      CHECK(img.at({1, y, x}) == 10 + 10 * y);
      CHECK(img.at({2, y, x}) == 10 + x + y);
    }
  auto ex = ds.get(0);
  REQUIRE(ex.image.shape() == tl::Shape{3, 2, 5});
  CHECK(ex.image.at({2, 1, 4}) == static_cast<float>(30 + 5) / 255.0f);

  // a corrupt image fails when loaded, naming the file
  write_bytes(root + "/dog/c.png", {0x89, 'P', 'N', 'G', 1, 2, 3});
  td::ImageFolder ds2(root);
  REQUIRE(ds2.size() == 5);
  expect_error([&] { ds2.get(4); }, {root + "/dog/c.png", "cannot decode"});
  // a class folder without images
  std::filesystem::create_directories(root + "/empty");
  expect_error([&] { td::ImageFolder bad(root); }, {"no valid file", "empty"});
  expect_error([&] { td::ImageFolder bad(dir.file("missing")); }, {dir.file("missing"), "not a directory"});
}

TEST_CASE("Fashion-MNIST from /usr/share/datasets when installed") {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root + "/t10k-images-idx3-ubyte.gz")) {
    MESSAGE("Fashion-MNIST not installed; skipped");
    return;
  }
  auto test = td::FashionMNIST(root, false);
  REQUIRE(test->size() == 10000);
  CHECK(test->get(0).image.shape() == tl::Shape{1, 28, 28});
  CHECK(test->label(0) == 9);  // the first test image is an ankle boot
  CHECK(test->classes()[9] == "Ankle boot");
  std::vector<int64_t> counts(10, 0);
  for (int64_t i = 0; i < test->size(); ++i) ++counts[static_cast<size_t>(test->label(i))];
  CHECK(counts == std::vector<int64_t>(10, 1000));
}
