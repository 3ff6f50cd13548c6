// ResNet weights through tl::io: tl -> safetensors / .pth -> tl is bit-exact; the files PyTorch
// writes (torch.save zip, legacy, safetensors) load into tl's models with the exact values; the
// files tl writes load in PyTorch (when torch is present).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "models/resnet_support.hpp"

using tl::models::ResNetOptions;

namespace {

/// Same keys, order, shapes, integer flags and bits.
template <class T>
void check_identical(const tl::StateDict<T>& a, const tl::StateDict<T>& b, const std::string& what) {
  REQUIRE_MESSAGE(a.keys() == b.keys(), what, ": keys or their order differ");
  int bad = 0;
  for (const auto& e : a) {
    const auto& t = b.at(e.name);
    auto va = e.tensor.to_vector(), vb = t.to_vector();
    const bool same = e.tensor.shape() == t.shape() && e.integer == b.is_integer(e.name) && va.size() == vb.size() &&
                      std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0;
    if (!same && ++bad <= 3) FAIL_CHECK(what, ": entry ", e.name, " differs");
  }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, " entries differ");
}

std::string tmp_path(const std::string& name) {
  auto dir = std::filesystem::path(TL_MODELS_REF_DIR) / "tmp";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE("ResNet-18 state_dict: tl -> safetensors -> tl and tl -> .pth -> tl are bit-exact") {
  ResNetOptions small;
  small.small_input = true;
  auto model = tl::models::resnet18(10, small);
  tl::test::fill_hash(*model);
  {
    auto x = tl::randn<float>({2, 3, 16, 16});
    tl::NoGradGuard no_grad;
    model->forward(x);  // a train-mode step: running stats and num_batches_tracked move
  }
  const auto sd = model->state_dict();
  REQUIRE(sd.at("bn1.num_batches_tracked").item() == 4.0f);

  const auto st = tmp_path("roundtrip.safetensors"), pth = tmp_path("roundtrip.pth");
  tl::io::save_safetensors(st, sd, {{"arch", "resnet18"}});
  tl::io::save_pth(pth, sd);
  auto from_st = tl::io::load_state_dict(st);
  auto from_pth = tl::io::load_state_dict(pth);
  check_identical(sd, from_st, "safetensors");
  check_identical(sd, from_pth, ".pth");
  CHECK(from_st.metadata.at("arch") == "resnet18");

  // Into a fresh model (strict), which then computes bit-identical outputs.
  auto again = tl::models::resnet18(10, small);
  again->load_state_dict(from_st);
  check_identical(sd, again->state_dict(), "reloaded model");
  model->eval();
  again->eval();
  tl::NoGradGuard no_grad;
  auto x = tl::test::hash_input<float>({2, 3, 16, 16});
  CHECK(tl::test::max_abs_diff(model->forward(x), again->forward(x)) == 0.0);

  // The same file into the wrong architecture: every problem listed.
  auto r34 = tl::models::resnet34(10, small);
  try {
    r34->load_state_dict(from_st);
    FAIL("expected tl::Error");
  } catch (const tl::Error& e) {
    const std::string m = e.what();
    CHECK(m.find("missing keys: layer1.2.conv1.weight") != std::string::npos);
  }
  // And loading a backbone without its head (new task, other class count).
  tl::io::LoadOptions no_head;
  no_head.exclude_prefixes = {"fc."};
  auto backbone = tl::io::load_state_dict(st, no_head);
  auto r = tl::models::resnet18(3, small)->load_state_dict(backbone, /*strict=*/false);
  CHECK(r.missing_keys == std::vector<std::string>{"fc.weight", "fc.bias"});
  CHECK(r.unexpected_keys.empty());

  // tl's files load in PyTorch, strictly, into torchvision's resnet18 (small stem aside: conv1 is
  // then 3x3, so check a standard one).
  if (!tl::test::torch_reference_dir().empty()) {
    auto std18 = tl::models::resnet18(10);
    tl::test::fill_hash(*std18);
    tl::io::save_safetensors(st, std18->state_dict());
    tl::io::save_pth(pth, std18->state_dict());
    const std::string cmd = "/usr/bin/python3 '" + tl::test::data_path("make_resnet_reference.py") +
                            "' verify resnet18 '" + pth + "' '" + st + "'";
    CHECK_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
  }
}

TEST_CASE("PyTorch-written .pth (zip), legacy .pth and .safetensors load with the exact values") {
  const auto& dir = tl::test::torch_reference_dir();
  if (dir.empty()) return;
  for (const char* name : {"resnet18", "resnet50", "resnext50_32x4d"}) {
    CAPTURE(name);
    auto model = tl::models::resnet_by_name(name);
    const auto ref = tl::test::read_ref(dir + "/" + name + "_ref.tlref");
    const auto want = tl::test::ref_state_dict<float>(ref, model->state_dict().keys());
    for (const char* suffix : {".pth", "_legacy.pth", ".safetensors"}) {
      CAPTURE(suffix);
      auto sd = tl::io::load_state_dict(dir + "/" + name + suffix);
      model->load_state_dict(sd);  // strict
      check_identical(want, model->state_dict(), std::string(name) + suffix);
    }
  }
}
