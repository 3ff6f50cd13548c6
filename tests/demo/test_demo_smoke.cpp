// Smoke test of examples/transfer_demo: a --quick run writes the CSV/JSON/SVG and a table of the
// five methods with accuracies in [0, 100]; bad arguments fail with a message. Skipped (with a
// note) when Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const char* kData = "/usr/share/datasets/fashion-mnist";

bool have_fashion_mnist() { return fs::exists(fs::path(kData) / "train-images-idx3-ubyte.gz"); }

/// Runs the demo with `args`, output to `log`; returns the exit status.
int run_demo(const std::string& args, const fs::path& log) {
  std::string cmd = std::string("\"") + TL_TRANSFER_DEMO_EXE + "\" " + args + " > \"" + log.string() + "\" 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("transfer_demo --help and bad arguments") {
  auto dir = fresh_dir("tl_demo_args");
  CHECK(run_demo("--help", dir / "help.txt") == 0);
  CHECK(slurp(dir / "help.txt").find("--scenario lowres|split") != std::string::npos);
  CHECK(run_demo("--scenario nope", dir / "bad.txt") != 0);
  CHECK(slurp(dir / "bad.txt").find("--scenario must be lowres or split") != std::string::npos);
  CHECK(run_demo("--steps 0", dir / "bad2.txt") != 0);
  CHECK(slurp(dir / "bad2.txt").find("--steps must be >= 1") != std::string::npos);
  CHECK(run_demo("--data " + (dir / "missing").string(), dir / "bad3.txt") != 0);
  CHECK(slurp(dir / "bad3.txt").find("apt-get install dataset-fashion-mnist") != std::string::npos);
  CHECK(run_demo("--frobnicate", dir / "bad4.txt") != 0);
  CHECK(slurp(dir / "bad4.txt").find("unknown option '--frobnicate'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("transfer_demo --quick writes the table, CSV, JSON and SVG") {
  if (!have_fashion_mnist()) {
    MESSAGE("skipped: Fashion-MNIST not found in ", kData, " (apt-get install dataset-fashion-mnist)");
    return;
  }
  auto dir = fresh_dir("tl_demo_quick");
  const int rc = run_demo("--quick --steps 5 --plain --out " + dir.string(), dir / "log.txt");
  const std::string log = slurp(dir / "log.txt");
  REQUIRE_MESSAGE(rc == 0, log);
  for (const char* ext : {".csv", ".json", ".svg"}) CHECK(fs::exists(dir / (std::string("results_lowres") + ext)));
  CHECK(fs::exists(dir / "source_lowres_1ep_seed1000_quick.safetensors"));

  // CSV: scenario,k,method,seed,accuracy,trainable,seconds; one "mean" row per method.
  std::ifstream csv(dir / "results_lowres.csv");
  std::string line;
  std::getline(csv, line);
  CHECK(line == "scenario,k,method,seed,accuracy,trainable,seconds");
  std::map<std::string, std::pair<double, long long>> mean;
  while (std::getline(csv, line)) {
    std::vector<std::string> f;
    std::stringstream s(line);
    std::string cell;
    while (std::getline(s, cell, ',')) f.push_back(cell);
    REQUIRE(f.size() == 7);
    if (f[3] == "mean") mean[f[2]] = {std::stod(f[4]), std::stoll(f[5])};
  }
  REQUIRE(mean.size() == 5);
  for (const char* m : {"scratch", "linear_probe", "finetune", "adapters", "multitask"}) {
    REQUIRE(mean.count(m) == 1);
    CHECK(mean[m].first >= 0.0);
    CHECK(mean[m].first <= 100.0);
    CHECK(log.find(m) != std::string::npos);  // the printed table
  }
  // Trainable parameters: the ResNet-8 with a 10-class head has 77,754; the probe trains 64*10+10.
  CHECK(mean["scratch"].second == 77754);
  CHECK(mean["finetune"].second == 77754);
  CHECK(mean["linear_probe"].second == 650);
  CHECK(mean["adapters"].second < 77754 * 15 / 100);
  CHECK(mean["multitask"].second == 77754 + 650);
  CHECK(slurp(dir / "results_lowres.json").find("\"linear_probe\"") != std::string::npos);
  CHECK(slurp(dir / "results_lowres.svg").rfind("<svg", 0) == 0);

  // A second run reuses the saved source model and, with the same seed, repeats the figures.
  const auto first_csv = slurp(dir / "results_lowres.csv");
  REQUIRE(run_demo("--quick --steps 5 --plain --out " + dir.string(), dir / "log2.txt") == 0);
  CHECK(slurp(dir / "log2.txt").find("source: loaded") != std::string::npos);
  auto accuracies = [](const std::string& csv_text) {  // all but the seconds column
    std::string out, l;
    std::stringstream s(csv_text);
    while (std::getline(s, l)) out += l.substr(0, l.rfind(',')) + "\n";
    return out;
  };
  CHECK(accuracies(slurp(dir / "results_lowres.csv")) == accuracies(first_csv));
  fs::remove_all(dir);
}
