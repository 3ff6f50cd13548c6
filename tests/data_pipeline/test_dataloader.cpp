#include <doctest/doctest.h>

#include <set>

#include <tl/ops/view.hpp>
#include <tl/data/data.hpp>

namespace td = tl::data;

namespace {
// n images [1, 4, 4] whose pixels all equal the index, label = index % classes.
std::shared_ptr<td::TensorDataset> indexed(int64_t n, int64_t classes = 3) {
  auto img = tl::Tensor<float>::uninitialized({n, 1, 4, 4});
  auto lab = tl::Tensor<int64_t>::uninitialized({n});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < 16; ++k) img.data()[i * 16 + k] = static_cast<float>(i) + 0.01f * static_cast<float>(k);
    lab.data()[i] = i % classes;
  }
  return std::make_shared<td::TensorDataset>(img, lab);
}

std::vector<std::vector<float>> run_epoch(td::DataLoader& dl, int64_t epoch) {
  std::vector<std::vector<float>> out;
  dl.set_epoch(epoch);
  for (const auto& b : dl) {
    auto v = b.images.to_vector();
    for (auto l : b.labels.to_vector()) v.push_back(static_cast<float>(l));
    out.push_back(v);
  }
  return out;
}
}  // namespace

TEST_CASE("DataLoader batches in order, with and without drop_last") {
  auto ds = indexed(10);
  td::DataLoader dl(ds, {.batch_size = 4});
  CHECK(dl.size() == 3);
  std::vector<int64_t> sizes, labels;
  for (const auto& b : dl) {
    sizes.push_back(b.size());
    CHECK(b.images.shape() == tl::Shape{b.size(), 1, 4, 4});
    CHECK(b.labels.shape() == tl::Shape{b.size()});
    for (int64_t k = 0; k < b.size(); ++k) {
      CHECK(b.images.at({k, 0, 0, 0}) == static_cast<float>(b.indices[static_cast<size_t>(k)]));
      labels.push_back(b.labels.at({k}));
    }
  }
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(labels == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0});
  td::DataLoader dl2(ds, {.batch_size = 4, .drop_last = true});
  CHECK(dl2.size() == 2);
  int64_t n = 0;
  for (const auto& b : dl2) n += b.size();
  CHECK(n == 8);
}

TEST_CASE("shuffling: a new permutation per epoch, fixed by (seed, epoch)") {
  auto ds = indexed(50);
  td::DataLoader dl(ds, {.batch_size = 7, .shuffle = true, .seed = 5});
  auto o0 = dl.order(0), o1 = dl.order(1);
  CHECK(o0 != o1);
  CHECK(std::set<int64_t>(o0.begin(), o0.end()).size() == 50u);
  td::DataLoader same(ds, {.batch_size = 7, .shuffle = true, .seed = 5});
  CHECK(same.order(1) == o1);
  td::DataLoader other(ds, {.batch_size = 7, .shuffle = true, .seed = 6});
  CHECK(other.order(0) != o0);
  // consecutive iterations advance the epoch
  std::vector<int64_t> first, second;
  for (const auto& b : dl) first.insert(first.end(), b.indices.begin(), b.indices.end());
  for (const auto& b : dl) second.insert(second.end(), b.indices.begin(), b.indices.end());
  CHECK(first == o0);
  CHECK(second == o1);
  CHECK(dl.epoch() == 2);
}

TEST_CASE("DataLoader output is identical with 0, 1 and 2 workers (random transforms included)") {
  auto ds = indexed(37);
  td::Compose aug{td::RandomCrop(4, 1), td::RandomHorizontalFlip()};
  std::vector<std::vector<std::vector<float>>> runs;
  for (int workers : {0, 1, 2}) {
    td::DataLoader dl(ds, {.batch_size = 5, .shuffle = true, .num_workers = workers, .seed = 11}, aug);
    auto e0 = run_epoch(dl, 0), e3 = run_epoch(dl, 3);
    e0.insert(e0.end(), e3.begin(), e3.end());
    runs.push_back(e0);
  }
  REQUIRE(runs[0].size() == 16u);
  CHECK(runs[1] == runs[0]);
  CHECK(runs[2] == runs[0]);
  // and the augmentation did something
  td::DataLoader plain(ds, {.batch_size = 5, .shuffle = true, .seed = 11});
  CHECK(run_epoch(plain, 0) != std::vector<std::vector<float>>(runs[0].begin(), runs[0].begin() + 8));
}

TEST_CASE("DataLoader: early break, restart, errors from workers") {
  auto ds = indexed(40);
  td::DataLoader dl(ds, {.batch_size = 2, .num_workers = 2, .prefetch_factor = 1});
  for (int rep = 0; rep < 3; ++rep) {
    int64_t seen = 0;
    for (const auto& b : dl) {
      (void)b;
      if (++seen == 3) break;  // the workers are stopped by the next begin() or the destructor
    }
    CHECK(seen == 3);
  }
  // a transform that fails on one sample: the error reaches the consumer
  auto bad = [](const tl::Tensor<float>& x, tl::Generator&) -> tl::Tensor<float> {
    TL_CHECK(x.at({0, 0, 0}) != 13.0f, "boom at 13");
    return x;
  };
  for (int workers : {0, 2}) {
    td::DataLoader dl2(ds, {.batch_size = 4, .num_workers = workers}, bad);
    CHECK_THROWS_WITH_AS([&] { for (const auto& b : dl2) (void)b; }(), "boom at 13", tl::Error);
  }
  // images of different sizes in one batch
  auto resize_odd = [](const tl::Tensor<float>& x, tl::Generator&) {
    return x.at({0, 0, 0}) == 1.0f ? td::resize(x, 3, 3) : x;
  };
  td::DataLoader dl3(ds, {.batch_size = 4}, resize_odd);
  CHECK_THROWS_AS([&] { for (const auto& b : dl3) (void)b; }(), tl::Error);
  CHECK_THROWS_AS(td::DataLoader(ds, {.batch_size = 0}), tl::Error);
}

TEST_CASE("subsets: first N per class, class filter with relabel, random split") {
  auto ds = indexed(20, 4);  // labels 0 1 2 3 0 1 2 3 ...
  auto few = td::first_n_per_class(ds, 2);
  REQUIRE(few->size() == 8);
  CHECK(few->indices() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  auto few1 = td::first_n_per_class(ds, 1);
  CHECK(few1->indices() == std::vector<int64_t>{0, 1, 2, 3});

  auto target = td::filter_classes(ds, {3, 1});
  REQUIRE(target->size() == 10);
  CHECK(target->indices()[0] == 1);
  CHECK(target->label(0) == 1);  // class 1 is the second kept -> label 1
  CHECK(target->label(1) == 0);  // class 3 -> label 0
  CHECK(target->get(1).image.at({0, 0, 0}) == 3.0f);
  CHECK(target->num_classes() == 2);
  auto kept = td::filter_classes(ds, {3, 1}, /*relabel=*/false);
  CHECK(kept->label(1) == 3);
  CHECK_THROWS_AS(td::filter_classes(ds, {1, 1}), tl::Error);

  auto parts = td::random_split(ds, {15, 5}, 7);
  REQUIRE(parts.size() == 2u);
  CHECK(parts[0]->size() == 15);
  CHECK(parts[1]->size() == 5);
  std::set<int64_t> all(parts[0]->indices().begin(), parts[0]->indices().end());
  all.insert(parts[1]->indices().begin(), parts[1]->indices().end());
  CHECK(all.size() == 20u);
  CHECK(td::random_split(ds, {15, 5}, 7)[1]->indices() == parts[1]->indices());
  CHECK_THROWS_AS(td::random_split(ds, {15, 4}), tl::Error);
  // subsets compose with the loader
  td::DataLoader dl(target, {.batch_size = 3});
  int64_t n = 0;
  for (const auto& b : dl) n += b.size();
  CHECK(n == 10);
}
