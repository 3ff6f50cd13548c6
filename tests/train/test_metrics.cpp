#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <tl/tl.hpp>
#include <tl/train/train.hpp>

#include "support/temp_dir.hpp"

namespace tt = tl::train;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("ClassificationMeter: top-1, top-5 and the confusion matrix") {
  // 3 examples, 6 classes
  tl::Tensor<float> logits({9, 1, 0, 0, 0, 0,    // predicts 0; label 0 -> top-1 hit
                            0, 1, 2, 3, 4, 5,    // predicts 5; label 1 is 5th highest -> top-5 hit
                            5, 4, 3, 2, 1, 0},   // predicts 0; label 5 is last -> miss
                           {3, 6});
  tl::Tensor<int64_t> labels({0, 1, 5}, {3});
  tt::ClassificationMeter m;
  m.update(logits, labels, 2.0);
  m.update(logits.slice(0, 0, 1), labels.slice(0, 0, 1), 0.5);  // one more: a hit
  CHECK(m.count() == 4);
  CHECK(m.top1() == doctest::Approx(0.5));
  CHECK(m.top5() == doctest::Approx(0.75));
  CHECK(m.loss() == doctest::Approx((2.0 * 3 + 0.5) / 4));
  auto r = m.result();
  REQUIRE(r.confusion.shape() == tl::Shape{6, 6});
  CHECK(r.confusion.at({0, 0}) == 2);
  CHECK(r.confusion.at({1, 5}) == 1);
  CHECK(r.confusion.at({5, 0}) == 1);
  CHECK(r.confusion.to_vector() == [] {
    std::vector<int64_t> c(36, 0);
    c[0] = 2, c[1 * 6 + 5] = 1, c[5 * 6 + 0] = 1;
    return c;
  }());
  // fewer than 5 classes: top-5 means top-C, always a hit
  tt::ClassificationMeter small;
  small.update(tl::Tensor<float>({1, 0}, {1, 2}), tl::Tensor<int64_t>({1}, {1}));
  CHECK(small.top1() == 0.0);
  CHECK(small.top5() == 1.0);
  CHECK_THROWS_AS(small.update(tl::Tensor<float>({1, 0}, {1, 2}), tl::Tensor<int64_t>({2}, {1})), tl::Error);
}

TEST_CASE("history CSV round trip, metrics JSONL/CSV and the SVG chart") {
  tt::History h;
  for (int e = 1; e <= 3; ++e) {
    tt::EpochRecord r;
    r.epoch = e;
    r.global_step = 10 * e;
    r.train_loss = 1.0 / e;
    r.train_acc = 0.5 + 0.1 * e;
    r.lr = 0.1 / 3;  // needs all 17 digits
    if (e > 1) r.val_top1 = 0.4 + 0.1 * e;
    h.push_back(r);
  }
  auto back = tt::history_from_csv(tt::history_to_csv(h));
  REQUIRE(back.size() == 3u);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(back[i].epoch == h[i].epoch);
    CHECK(back[i].train_loss == h[i].train_loss);  // exact
    CHECK(back[i].lr == h[i].lr);
    CHECK(std::isnan(back[i].val_loss));
  }
  CHECK(std::isnan(back[0].val_top1));
  CHECK(back[2].val_top1 == h[2].val_top1);

  const tl::test::TempDir tmp;
  const std::string dir = tmp.str();
  {
    tt::MetricsLogger log(dir + "/run/metrics.jsonl");
    log.log_step(1, 5, 5, 0.7, 0.5, 0.1);
    for (size_t i = 0; i < h.size(); ++i) log.log_epoch(h[i], tt::History(h.begin(), h.begin() + long(i) + 1));
  }
  std::string jsonl = slurp(dir + "/run/metrics.jsonl");
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 4);
  CHECK(jsonl.find("{\"kind\":\"step\",\"epoch\":1,\"step\":5,\"global_step\":5,\"loss\":0.7,\"acc\":0.5,\"lr\":0.1}\n") == 0);
  CHECK(jsonl.find("{\"kind\":\"epoch\",\"epoch\":3,\"global_step\":30,\"train_loss\":0.3333333333333333,") !=
        std::string::npos);
  CHECK(jsonl.find("\"val_loss\":null") != std::string::npos);
  std::string csv = slurp(dir + "/run/metrics.csv");
  CHECK(csv.find("epoch,global_step,train_loss,train_acc,val_loss,val_top1,val_top5,lr,seconds,images_per_sec\n") == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 4);
  std::string svg = slurp(dir + "/run/metrics.svg");
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("polyline") != std::string::npos);
  CHECK(svg.find("val top-1") != std::string::npos);
  for (const char* tick : {">1</text>", ">2</text>", ">3</text>"}) CHECK(svg.find(tick) != std::string::npos);  // epochs
  // appending keeps earlier lines
  {
    tt::MetricsLogger log(dir + "/run/metrics.jsonl", /*append=*/true);
    log.log("resume", {{"epoch", 3}});
  }
  jsonl = slurp(dir + "/run/metrics.jsonl");
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 5);
}

TEST_CASE("Progress: plain lines, quiet, and the bar") {
  auto run = [](tt::ProgressMode mode) {
    std::FILE* f = std::tmpfile();
    {
      tt::Progress p(mode, f);
      p.start_epoch(1, 2, 3);
      for (int s = 1; s <= 3; ++s) p.update(s, 0.5, 0.25, 8 * s);
      p.end_epoch("epoch 1/2 done");
    }
    std::rewind(f);
    std::string out;
    char buf[512];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  };
  CHECK(run(tt::ProgressMode::kPlain) == "epoch 1/2 done\n");
  CHECK(run(tt::ProgressMode::kQuiet).empty());
  auto bar = run(tt::ProgressMode::kBar);
  CHECK(bar.find("epoch 1/2 [########################] 3/3 loss 0.5000 acc 25.00%") != std::string::npos);
  CHECK(bar.find("ETA 0:00") != std::string::npos);
  CHECK(bar.find("\r\033[Kepoch 1/2 done\n") != std::string::npos);
  // a tmpfile is not a terminal: auto means plain
  std::FILE* f = std::tmpfile();
  CHECK(tt::Progress(tt::ProgressMode::kAuto, f).mode() == tt::ProgressMode::kPlain);
  std::fclose(f);
  CHECK(tt::format_duration(3725) == "1:02:05");
  CHECK(tt::format_duration(65) == "1:05");
}
