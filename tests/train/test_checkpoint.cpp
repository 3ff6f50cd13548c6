#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "train/tiny.hpp"
#include <tl/train/train.hpp>

#include "support/temp_dir.hpp"

namespace tt = tl::train;
namespace fs = std::filesystem;

namespace {
std::vector<uint8_t> bytes_of(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
// A checkpoint whose every weight equals `v`, epoch v, big enough that writing takes a while.
tt::Checkpoint<float> filled(float v, int64_t n) {
  tt::Checkpoint<float> ck;
  ck.model.insert("w", tl::full<float>({n}, v));
  ck.model.insert("count", tl::scalar_tensor<float>(v), true);
  ck.optimizer.insert("state.0.momentum_buffer", tl::full<float>({n}, -v));
  ck.epoch = static_cast<int64_t>(v);
  ck.rng_state = tl::Generator(static_cast<uint64_t>(v)).state();
  return ck;
}
bool consistent(const tt::Checkpoint<float>& ck, int64_t n) {
  float v = static_cast<float>(ck.epoch);
  auto w = ck.model.at("w").to_vector();
  auto m = ck.optimizer.at("state.0.momentum_buffer").to_vector();
  return static_cast<int64_t>(w.size()) == n && std::all_of(w.begin(), w.end(), [&](float x) { return x == v; }) &&
         std::all_of(m.begin(), m.end(), [&](float x) { return x == -v; }) &&
         ck.rng_state == tl::Generator(static_cast<uint64_t>(v)).state();
}
}  // namespace

TEST_CASE("checkpoint round trip: model, optimizer, scheduler, RNG, epoch, history, extra") {
  const tl::test::TempDir tmp;
  const std::string dir = tmp.str();
  tl::manual_seed(3);
  auto model = std::make_shared<tl_test::Tiny>(16, 3);
  tl::optim::SGD<float> opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  tl::optim::StepLR sched(opt, 2, 0.5);
  // one step so the optimizer has momentum buffers and the scheduler moved
  auto x = tl::rand<float>({4, 1, 4, 4});
  tl::Tensor<int64_t> y({0, 1, 2, 0}, {4});
  tl::nn::functional::cross_entropy(model->forward(x), y).backward();
  opt.step();
  sched.step();
  sched.step();

  tl::Generator g(42);
  g.normal();  // leaves a cached spare: the state must carry it
  tt::History hist(2);
  hist[0].epoch = 1, hist[0].train_loss = 0.25;
  hist[1].epoch = 2, hist[1].train_loss = 1.0 / 3;
  const std::string path = dir + "/ck.safetensors";
  tt::write_checkpoint(path, *model, opt, &sched, g, 2, 17, hist);

  auto ck = tt::load_checkpoint<float>(path);
  CHECK(ck.epoch == 2);
  CHECK(ck.global_step == 17);
  CHECK(ck.rng_state == g.state());
  REQUIRE(ck.history.size() == 2u);
  CHECK(ck.history[1].train_loss == 1.0 / 3);
  CHECK(ck.model.keys() == model->state_dict().keys());
  for (const auto& e : model->state_dict()) CHECK(ck.model.at(e.name).to_vector() == e.tensor.to_vector());
  auto osd = opt.state_dict();
  CHECK(ck.optimizer.keys() == osd.keys());
  for (const auto& e : osd) CHECK(ck.optimizer.at(e.name).to_vector() == e.tensor.to_vector());
  CHECK(ck.optimizer.metadata == osd.metadata);
  auto ssd = sched.state_dict<double>();
  auto sorted = [](std::vector<std::string> k) {
    std::sort(k.begin(), k.end());
    return k;
  };
  CHECK(sorted(ck.scheduler.keys()) == sorted(ssd.keys()));
  for (const auto& e : ssd) {
    CHECK(ck.scheduler.at(e.name).to_vector() == e.tensor.to_vector());
    CHECK(ck.scheduler.is_integer(e.name) == e.integer);
  }

  // restore into fresh objects: same values, and the generator continues identically
  auto model2 = std::make_shared<tl_test::Tiny>(16, 3);
  tl::optim::SGD<float> opt2(model2->parameters(), {.lr = 0.3});
  tl::optim::StepLR sched2(opt2, 2, 0.5);
  tl::Generator g2(0);
  tt::restore_checkpoint(path, *model2, opt2, &sched2, &g2);
  CHECK(model2->fc->weight.to_vector() == model->fc->weight.to_vector());
  CHECK(opt2.lr(0) == opt.lr(0));
  CHECK(sched2.last_epoch() == sched.last_epoch());
  CHECK(g2.normal() == g.normal());
  CHECK(g2.next_u64() == g.next_u64());

  // not a checkpoint
  tl::StateDict<float> plain;
  plain.insert("w", tl::zeros<float>({2}));
  tl::io::save_safetensors(dir + "/plain.safetensors", plain);
  CHECK_THROWS_WITH_AS(tt::load_checkpoint<float>(dir + "/plain.safetensors"),
                       doctest::Contains("not a tl checkpoint"), tl::Error);
  CHECK_THROWS_AS(tt::load_checkpoint<float>(dir + "/missing.safetensors"), tl::Error);
}

TEST_CASE("an interrupted checkpoint write leaves the previous checkpoint intact") {
  const tl::test::TempDir tmp;
  const std::string dir = tmp.str();
  const std::string path = dir + "/checkpoint.safetensors";
  const int64_t n = 1 << 16;
  tt::save_checkpoint(path, filled(1, n));
  const auto before = bytes_of(path);

  // 1. a writer that fails midway (half the bytes written, then an exception)
  CHECK_THROWS_AS(tl::io::write_file_atomic(path, "test", [&](std::FILE* f) {
                    std::fwrite(before.data(), 1, before.size() / 2, f);
                    throw tl::Error("simulated crash mid-write");
                  }),
                  tl::Error);
  CHECK(bytes_of(path) == before);
  CHECK(consistent(tt::load_checkpoint<float>(path), n));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  CHECK(files == 1u);  // no temporary file left behind

  // 2. a child process killed (SIGKILL) while it rewrites the checkpoint again and again: the file
  //    is always a complete checkpoint, old or new, never a mix.
  const int64_t big = 1 << 20;  // 8 MB per checkpoint: the kill lands mid-write
  tt::save_checkpoint(path, filled(1, big));
  int kills_mid_write = 0;
  int rounds = 0;
  for (int round = 0; round < 6 || (kills_mid_write == 0 && round < 24); ++round, ++rounds) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the child: rewrite the checkpoint forever, reporting each completed save
      ::close(fds[0]);
      for (int v = 2;; ++v) {
        tt::save_checkpoint(path, filled(static_cast<float>(v), big));
        char c = 1;
        if (::write(fds[1], &c, 1) != 1) ::_exit(1);
      }
    }
    ::close(fds[1]);
    const int completed = round % 3 + 1;  // wait for this many new checkpoints, then kill during the next
    for (int k = 0; k < completed; ++k) {
      char c;
      REQUIRE(::read(fds[0], &c, 1) == 1);
    }
    ::usleep(static_cast<useconds_t>(1000 + 19000 * (round % 6)));  // a save (write + fsync) takes > 0.1 s here
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fds[0]);
    CHECK(WIFSIGNALED(status));
    auto ck = tt::load_checkpoint<float>(path);
    CHECK(consistent(ck, big));
    CHECK(ck.epoch >= completed + 1);  // the completed saves are there
    std::vector<fs::path> temps;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().string() != path) temps.push_back(e.path());  // a temporary file: killed while writing
    kills_mid_write += !temps.empty();
    for (const auto& t : temps) fs::remove(t);
    tt::save_checkpoint(path, filled(1, big));  // the next round starts from version 1 again
  }
  MESSAGE(kills_mid_write, " of ", rounds, " kills interrupted a write");
  CHECK(kills_mid_write >= 1);  // and some kills landed mid-write (writing + fsync is most of a child's time)
}
