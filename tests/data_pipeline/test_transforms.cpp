#include <doctest/doctest.h>

#include <set>

#include <tl/ops/view.hpp>
#include <tl/data/data.hpp>

namespace td = tl::data;

namespace {
tl::Tensor<float> image(const std::vector<float>& v, int64_t c, int64_t h, int64_t w) { return tl::Tensor<float>(v, {c, h, w}); }
tl::Tensor<float> ramp(int64_t c, int64_t h, int64_t w) {
  return tl::arange<float>(0.0f, static_cast<float>(c * h * w)).reshape({c, h, w});
}
void check_close(const tl::Tensor<float>& t, const std::vector<float>& want, float tol = 1e-5f) {
  auto v = t.to_vector();
  REQUIRE(v.size() == want.size());
  for (size_t i = 0; i < v.size(); ++i) CHECK_MESSAGE(std::abs(v[i] - want[i]) <= tol * std::max(1.0f, std::abs(want[i])), "at ", i, ": ", v[i], " vs ", want[i]);
}
}  // namespace

TEST_CASE("resize: bilinear, align_corners=false, against hand-computed values") {
  // 2x2 -> 4x4: source x = (o + 0.5) / 2 - 0.5 clamped at 0 -> weights 0, .25, .75, 1 (edge)
  auto up = td::resize(image({0, 4, 8, 12}, 1, 2, 2), 4, 4);
  check_close(up, {0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12});
  // 1x4 -> 1x2: source x = 0.5 and 2.5: means of neighbours
  check_close(td::resize(image({1, 3, 10, 20}, 1, 1, 4), 1, 2), {2, 15});
  // same size: a copy
  auto x = ramp(2, 3, 3);
  check_close(td::resize(x, 3, 3), x.to_vector());
}

TEST_CASE("resize matches torch.nn.functional.interpolate (bilinear, align_corners=False)") {
  // x = arange(35).reshape(1, 1, 5, 7) ** 2 / 7, from /usr/bin/python3 with torch 1.13
  std::vector<float> v;
  for (int i = 0; i < 35; ++i) v.push_back(static_cast<float>(i * i) / 7.0f);
  auto x = image(v, 1, 5, 7);
  check_close(td::resize(x, 3, 4), {2.636904716491699f, 4.410714149475098f, 7.077381134033203f, 10.636903762817383f,
                                    29.553569793701172f, 37.16071319580078f, 45.660709381103516f, 55.05356979370117f,
                                    98.4702377319336f, 111.91070556640625f, 126.24404907226562f, 141.47023010253906f});
  auto up = td::resize(x, 8, 11);
  REQUIRE(up.shape() == tl::Shape{1, 8, 11});
  CHECK(up.at({0, 0, 1}) == doctest::Approx(0.06493506580591202).epsilon(1e-6));
  CHECK(up.at({0, 1, 0}) == doctest::Approx(3.0625).epsilon(1e-6));
  CHECK(up.at({0, 3, 5}) == doctest::Approx(32.84821319580078).epsilon(1e-6));
  CHECK(up.at({0, 6, 9}) == doctest::Approx(134.50242614746094).epsilon(1e-6));
  CHECK(up.at({0, 7, 10}) == doctest::Approx(165.14285278320312).epsilon(1e-6));
}

TEST_CASE("Resize(int) matches the smaller edge, Resize(h, w) is exact") {
  CHECK(td::Resize(2)(ramp(1, 4, 8)).shape() == tl::Shape{1, 2, 4});
  CHECK(td::Resize(3)(ramp(3, 10, 5)).shape() == tl::Shape{3, 6, 3});  // int(3 * 10 / 5)
  CHECK(td::Resize(4)(ramp(1, 7, 9)).shape() == tl::Shape{1, 4, 5});   // int(4 * 9 / 7) = 5
  CHECK(td::Resize(5, 6)(ramp(1, 7, 9)).shape() == tl::Shape{1, 5, 6});
  CHECK_THROWS_AS(td::Resize(0), tl::Error);
  CHECK_THROWS_AS(td::Resize(3)(tl::zeros<float>({4, 4})), tl::Error);
}

TEST_CASE("center_crop rounds half to even like torchvision and zero-pads small images") {
  auto x = ramp(1, 5, 5);
  check_close(td::CenterCrop(3)(x), {6, 7, 8, 11, 12, 13, 16, 17, 18});
  // H = 4, h = 1: top = round(1.5) = 2; H = 6, h = 1: top = round(2.5) = 2
  CHECK(td::center_crop(ramp(1, 4, 1), 1, 1).item() == 2);
  CHECK(td::center_crop(ramp(1, 6, 1), 1, 1).item() == 2);
  // larger than the image: zeros around
  check_close(td::center_crop(image({1, 2, 3, 4}, 1, 2, 2), 4, 4), {0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0});
}

TEST_CASE("pad modes") {
  auto x = image({1, 2, 3}, 1, 1, 3);
  check_close(td::pad(x, 2, 0, 1, 0, 9.0f), {9, 9, 1, 2, 3, 9});
  check_close(td::pad(x, 2, 0, 1, 0, 0, td::PaddingMode::kEdge), {1, 1, 1, 2, 3, 3});
  check_close(td::pad(x, 2, 0, 1, 0, 0, td::PaddingMode::kReflect), {3, 2, 1, 2, 3, 2});
  check_close(td::pad(x, 2, 0, 1, 0, 0, td::PaddingMode::kSymmetric), {2, 1, 1, 2, 3, 3});
  check_close(td::pad(x, 0, 1, 0, 1, 5.0f), {5, 5, 5, 1, 2, 3, 5, 5, 5});
  CHECK_THROWS_AS(td::pad(x, 3, 0, 0, 0, 0, td::PaddingMode::kReflect), tl::Error);
}

TEST_CASE("RandomCrop with padding draws its offsets from the generator") {
  auto x = ramp(2, 3, 3);
  td::RandomCrop rc(3, 1);
  std::set<std::vector<float>> seen;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    tl::Generator g(seed), ref(seed);
    auto out = rc(x, g);
    REQUIRE(out.shape() == tl::Shape{2, 3, 3});
    int64_t top = ref.randint(3), left = ref.randint(3);
    auto want = td::crop(td::pad(x, 1, 1, 1, 1), top, left, 3, 3);
    CHECK(out.to_vector() == want.to_vector());
    seen.insert(out.to_vector());
    tl::Generator again(seed);
    CHECK(rc(x, again).to_vector() == out.to_vector());  // reproducible
  }
  CHECK(seen.size() == 9u);  // every one of the 3 x 3 offsets occurs
  // hand check of one offset: top 0, left 0 of the zero-padded image
  check_close(td::crop(td::pad(image({1, 2, 3, 4}, 1, 2, 2), 1, 1, 1, 1), 0, 0, 2, 2), {0, 0, 0, 1});
  tl::Generator g(1);
  CHECK_THROWS_AS(td::RandomCrop(5)(x, g), tl::Error);
  CHECK(td::RandomCrop(5, 0, /*pad_if_needed=*/true)(x, g).shape() == tl::Shape{2, 5, 5});
}

TEST_CASE("RandomResizedCrop: box within the image, output size, torchvision's fallback") {
  td::RandomResizedCrop rrc(4);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    tl::Generator g(seed);
    auto b = rrc.params(20, 30, g);
    CHECK(b.h > 0);
    CHECK(b.w > 0);
    CHECK(b.top >= 0);
    CHECK(b.left >= 0);
    CHECK(b.top + b.h <= 20);
    CHECK(b.left + b.w <= 30);
    double area = double(b.h) * double(b.w) / 600.0, ratio = double(b.w) / double(b.h);
    CHECK(area >= 0.05);
    CHECK(ratio >= 0.6);
    CHECK(ratio <= 1.6);
  }
  tl::Generator g(3);
  CHECK(rrc(ramp(3, 20, 30), g).shape() == tl::Shape{3, 4, 4});
  // impossible constraints: after 10 tries, a central crop at the closest ratio
  td::RandomResizedCrop fb(2, {1.0, 1.0}, {2.0, 2.0});
  auto b = fb.params(4, 4, g);
  CHECK(b.top == 1);
  CHECK(b.left == 0);
  CHECK(b.h == 2);
  CHECK(b.w == 4);
  // and its output is that crop resized: rows 1-2 of a 4x4 ramp, 2x4 -> 2x2 averages pairs
  check_close(fb(ramp(1, 4, 4), g), {4.5f, 6.5f, 8.5f, 10.5f});
}

TEST_CASE("flip, normalize, to_tensor, Compose") {
  auto x = image({1, 2, 3, 4, 5, 6}, 1, 2, 3);
  check_close(td::hflip(x), {3, 2, 1, 6, 5, 4});
  tl::Generator g(0);
  check_close(td::RandomHorizontalFlip(1.0)(x, g), {3, 2, 1, 6, 5, 4});
  check_close(td::RandomHorizontalFlip(0.0)(x, g), {1, 2, 3, 4, 5, 6});
  int flips = 0;
  for (int i = 0; i < 1000; ++i) flips += td::RandomHorizontalFlip()(x, g).at({0, 0, 0}) == 3.0f;
  CHECK(flips > 430);
  CHECK(flips < 570);

  auto two = image({1, 3, 0, 1}, 2, 1, 2);
  check_close(td::Normalize({1.0f, 0.5f}, {2.0f, 0.25f})(two), {0, 1, -2, 2});
  auto gray = tl::full<float>({3, 1, 1}, 0.5f);
  check_close(td::Normalize::imagenet()(gray),
              {(0.5f - 0.485f) / 0.229f, (0.5f - 0.456f) / 0.224f, (0.5f - 0.406f) / 0.225f});
  CHECK(td::kImageNetMean[1] == 0.456f);
  CHECK(td::kImageNetStd[2] == 0.225f);
  CHECK_THROWS_AS(td::Normalize({0.0f}, {0.0f})(tl::zeros<float>({1, 2, 2})), tl::Error);
  CHECK_THROWS_AS(td::Normalize({0.0f, 0.0f}, {1.0f, 1.0f})(x), tl::Error);

  // to_tensor: HWC uint8 -> CHW float / 255
  tl::Tensor<uint8_t> hwc(std::vector<uint8_t>{0, 255, 51, 102, 204, 153}, {1, 2, 3});
  check_close(td::ToTensor{}(hwc), {0.0f, 0.4f, 1.0f, 0.8f, 0.2f, 0.6f});

  td::Compose pipeline{td::Resize(4, 4), td::CenterCrop(2), td::RandomHorizontalFlip(1.0),
                       td::Normalize({0.0f}, {0.5f})};
  CHECK(pipeline.size() == 4u);
  // 2x2 -> 4x4 (values above), centre 2x2 = {3, 5, 7, 9}, flipped {5, 3, 9, 7}, doubled
  check_close(pipeline(image({0, 4, 8, 12}, 1, 2, 2), g), {10, 6, 18, 14});
}
