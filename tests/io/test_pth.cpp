#include <doctest/doctest.h>

#include <cstdlib>
#include <tuple>

#include "io/io_test_util.hpp"
#include "support/ref_file.hpp"
#include <tl/io/io.hpp>

using tl::test::data_path;
using tl::test::expect_error;
using tl::test::tmp_path;

namespace {
const std::vector<std::string> kKeys = {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                        "bn1.running_var", "bn1.num_batches_tracked", "fc.weight", "shared.a",
                                        "shared.b", "double", "int32", "half", "bf16", "scalar", "empty",
                                        "head.param"};

std::string fixture(const std::string& name) { return data_path("weights/" + name); }

// Every value equal to the PyTorch reference (exact: all fixture values are representable in T).
template <class T>
void check_against_reference(const tl::StateDict<T>& sd, const std::string& file) {
  INFO(file);
  auto ref = tl::test::read_ref(fixture("weights_ref.bin"));
  CHECK(sd.keys() == kKeys);
  for (const auto& [binding_name, r] : ref) {
    const auto& name = binding_name;  // clang 14 cannot capture a structured binding in a lambda
    REQUIRE(sd.contains(name));
    const auto& t = sd.at(name);
    CHECK_MESSAGE(t.shape() == r.shape(), name);
    auto got = t.to_vector();
    auto want = r.to_vector();
    bool exact = got.size() == want.size();
    for (size_t i = 0; exact && i < got.size(); ++i) exact = got[i] == static_cast<T>(want[i]);
    CHECK_MESSAGE(exact, name);
  }
  CHECK(sd.is_integer("bn1.num_batches_tracked"));
  CHECK(sd.is_integer("int32"));
  CHECK(!sd.is_integer("double"));
  CHECK(!sd.is_integer("head.param"));
  CHECK(sd.at("bn1.num_batches_tracked").dim() == 0);
  CHECK(sd.at("scalar").dim() == 0);
  CHECK(sd.at("bn1.num_batches_tracked").item() == T(7));
}

// A zip archive in torch.save's layout from a pickle and storages.
std::string write_pth(const std::string& name, const std::vector<uint8_t>& pkl,
                      const std::vector<std::pair<std::string, std::vector<uint8_t>>>& storages,
                      const std::string& top = "archive") {
  auto path = tmp_path(name);
  tl::io::write_file_atomic(path, "test", [&](std::FILE* f) {
    tl::io::ZipWriter z(f, "test");
    z.add(top + "/data.pkl", pkl.data(), pkl.size());
    for (const auto& [k, v] : storages) z.add(top + "/data/" + k, v.data(), v.size());
    z.finish();
  });
  return path;
}

// Pickle bytes of {name: tensor(storage '0' of `numel` floats, offset, size, stride)}.
std::vector<uint8_t> tensor_pickle(int64_t numel, int64_t offset, const tl::Shape& size, const tl::Shape& stride,
                                   const char* storage_type = "FloatStorage") {
  tl::io::detail::PickleWriter p;
  p.op(0x80);
  p.op(2);
  p.op('}');
  p.str("w");
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.op('(');
  p.op('(');
  p.str("storage");
  p.global("torch", storage_type);
  p.str("0");
  p.str("cpu");
  p.integer(numel);
  p.op('t');
  p.op('Q');
  p.integer(offset);
  p.int_tuple(size);
  p.int_tuple(stride);
  p.op(0x89);
  p.empty_ordered_dict();
  p.op('t');
  p.op('R');
  p.op('s');
  p.op('.');
  return p.out;
}
std::vector<uint8_t> pickle_of(std::initializer_list<int> ops_and_bytes) {
  std::vector<uint8_t> b;
  for (int x : ops_and_bytes) b.push_back(static_cast<uint8_t>(x));
  return b;
}
std::vector<uint8_t> pickle_of(const std::string& s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE_TEMPLATE("every fixture format reads back the PyTorch values exactly", T, float, double) {
  for (const char* f : {"sd_zip.pth", "sd_legacy.pth", "sd.safetensors", "checkpoint.pth", "dataparallel.pth"})
    check_against_reference(tl::io::load_state_dict<T>(fixture(f)), f);
}

TEST_CASE("torch formats keep strides and shared storages, as torch.load does") {
  for (const char* f : {"sd_zip.pth", "sd_legacy.pth"}) {
    INFO(f);
    auto sd = tl::io::load_state_dict(fixture(f));
    CHECK(sd.at("fc.weight").strides() == tl::Shape{1, 5});
    CHECK(!sd.at("fc.weight").is_contiguous());
    CHECK(sd.at("shared.a").storage_offset() == 2);
    CHECK(sd.at("shared.b").storage_offset() == 6);
    CHECK(sd.at("shared.a").impl()->storage == sd.at("shared.b").impl()->storage);
    CHECK(sd.at("shared.a").at({1, 1}) == sd.at("shared.b").at({0}));  // element 6 of the storage, seen twice
  }
  auto st = tl::io::load_state_dict(fixture("sd.safetensors"));
  CHECK(st.at("fc.weight").is_contiguous());
  CHECK(st.metadata.at("source") == "make_weights_fixtures.py");
}

TEST_CASE("format detection is by content, not by file name") {
  auto bytes = tl::test::read_file(fixture("sd.safetensors"));
  auto p = tmp_path("really_safetensors.pth");
  tl::test::write_file(p, bytes);
  CHECK(tl::io::load_state_dict(p).size() == kKeys.size());
  auto raw = tl::io::parse_weights(tl::io::read_file_bytes(fixture("sd_legacy.pth"), "t"), "x");
  CHECK(raw.format == tl::io::Format::TorchLegacy);
  raw = tl::io::parse_weights(tl::io::read_file_bytes(fixture("sd_zip.pth"), "t"), "x");
  CHECK(raw.format == tl::io::Format::TorchZip);
}

TEST_CASE("checkpoints, module. prefixes and LoadOptions") {
  auto dp = tl::io::load_state_dict(fixture("dataparallel.pth"));
  CHECK(dp.keys() == kKeys);
  tl::io::LoadOptions keep_module;
  keep_module.strip_module_prefix = false;
  CHECK(tl::io::load_state_dict(fixture("dataparallel.pth"), keep_module).keys().front() == "module.conv1.weight");

  tl::io::LoadOptions o;
  o.exclude_prefixes = {"bn1.", "shared."};
  o.keep = [](const std::string& k) { return k != "empty"; };
  o.rename = {{"fc.weight", "classifier.weight"}};
  o.replace_prefix = {{"head.", "neck."}};
  auto sd = tl::io::load_state_dict(fixture("checkpoint.pth"), o);
  CHECK(sd.keys() == std::vector<std::string>{"conv1.weight", "classifier.weight", "double", "int32", "half", "bf16",
                                              "scalar", "neck.param"});
  tl::io::LoadOptions strip;
  strip.strip_prefix = "bn1.";
  CHECK(tl::io::load_state_dict(fixture("sd_zip.pth"), strip).contains("running_var"));

  tl::io::LoadOptions explicit_key;
  explicit_key.checkpoint_key = "model_state_dict";
  CHECK(tl::io::load_state_dict(fixture("checkpoint.pth"), explicit_key).size() == kKeys.size());
  explicit_key.checkpoint_key = "optimizer";
  expect_error([&] { tl::io::load_state_dict(fixture("checkpoint.pth"), explicit_key); },
               {"checkpoint.pth", "entry 'state' is a dict, not a tensor"});
  explicit_key.checkpoint_key = "nope";
  expect_error([&] { tl::io::load_state_dict(fixture("checkpoint.pth"), explicit_key); }, {"no key 'nope'"});
}

TEST_CASE_TEMPLATE("save_pth -> load_state_dict round trip is bit-exact", T, float, double) {
  auto sd = tl::io::load_state_dict<T>(fixture("sd_zip.pth"));
  sd.erase("empty");
  sd.insert("empty", tl::empty<T>({0, 3}));
  sd.insert("big_count", tl::scalar_tensor<T>(T(1) * 5000000000.0), true);  // needs a LONG1 in the pickle
  sd.insert("neg_count", tl::Tensor<T>({T(-70000), T(3)}, {2}), true);
  auto path = tmp_path("roundtrip.pth");
  tl::io::save_pth(path, sd);
  auto back = tl::io::load_state_dict<T>(path);
  CHECK(back.keys() == sd.keys());
  for (const auto& e : sd) {
    CHECK_MESSAGE(tl::test::same_values(e.tensor, back.at(e.name)), e.name);
    CHECK(back.is_integer(e.name) == e.integer);
    CHECK(back.at(e.name).is_contiguous());
  }
  // Data entries are 64-byte aligned, as torch.save writes them.
  auto bytes = tl::test::read_file(path);
  tl::io::ZipReader zip(bytes.data(), bytes.size(), "t");
  for (const auto& e : zip.entries()) CHECK_MESSAGE(e.offset % 64 == 0, e.name);
  CHECK(zip.find("archive/version") != nullptr);
}

TEST_CASE("save_pth files load in PyTorch with weights_only=True (when /usr/bin/python3 has torch)") {
  tl::StateDict<float> sd;
  sd.insert("w", tl::Tensor<float>({0.1f, -2.5f, 3e-38f, 1e30f, 7.f, 8.f}, {2, 3}));
  sd.insert("s", tl::scalar_tensor<float>(0.75f));
  sd.insert("n", tl::scalar_tensor<float>(12345.f), true);
  auto path = tmp_path("for_torch.pth");
  auto out = tmp_path("for_torch.txt");
  tl::io::save_pth(path, sd);
  std::string cmd = "/usr/bin/python3 -c \"import torch,sys; sd=torch.load(sys.argv[1], weights_only=True); "
                    "print(list(sd.keys()), sd['w'].dtype, tuple(sd['w'].shape), sd['w'].flatten().tolist(), "
                    "sd['s'].item(), sd['n'].dtype, sd['n'].item())\" " + path + " > " + out + " 2>&1";
  int rc = std::system(cmd.c_str());
  auto txt = tl::test::read_file(out);
  std::string s(txt.begin(), txt.end());
  if (rc != 0 && (s.find("No module named") != std::string::npos || s.find("not found") != std::string::npos ||
                  s.find("No such file") != std::string::npos)) {
    MESSAGE("skipped: /usr/bin/python3 with torch is not available: ", s);
    return;
  }
  REQUIRE_MESSAGE(rc == 0, s);
  CHECK_MESSAGE(s.find("['w', 's', 'n'] torch.float32 (2, 3) [0.10000000149011612, -2.5, 3.000000085396614e-38, "
                       "1.0000000150474662e+30, 7.0, 8.0] 0.75 torch.int64 12345") != std::string::npos, s);
}

TEST_CASE("hostile and malformed .pth files throw tl::Error naming the file and the problem") {
  expect_error([&] { tl::io::load_state_dict(fixture("malicious_os_system.pth")); },
               {"malicious_os_system.pth", "global 'os.system' is not allowed"});
  expect_error([&] { tl::io::load_state_dict(fixture("malicious_legacy.pth")); },
               {"malicious_legacy.pth", "global 'os.system' is not allowed"});
  expect_error([&] { tl::io::load_state_dict(fixture("torchscript.pt")); }, {"torchscript.pt", "TorchScript archive"});

  std::vector<uint8_t> f16(16, 0);
  struct Case { std::string name; std::vector<uint8_t> pkl; std::vector<uint8_t> storage; std::string problem; };
  std::vector<Case> cases = {
      {"ok_control", tensor_pickle(4, 0, {2, 2}, {2, 1}), f16, ""},
      {"storage_short", tensor_pickle(4, 0, {5}, {1}), f16, "needs 4+1 elements, storage has 4"},
      {"offset_past", tensor_pickle(4, 3, {2}, {1}), f16, "storage has 4"},
      {"neg_size", tensor_pickle(4, 0, {-1}, {1}), f16, "negative size"},
      {"neg_stride", tensor_pickle(4, 0, {2}, {-1}), f16, "negative stride"},
      {"neg_offset", tensor_pickle(4, -1, {1}, {1}), f16, "negative storage offset"},
      {"size_overflow", tensor_pickle(4, 0, {INT64_MAX, 4}, {1, 1}), f16, "overflows int64"},
      {"stride_overflow", tensor_pickle(4, 0, {3}, {INT64_MAX / 2 + 1}), f16, "overflows int64"},
      {"rank_mismatch", tensor_pickle(4, 0, {2, 2}, {1}), f16, "different lengths"},
      {"entry_size", tensor_pickle(5, 0, {2}, {1}), f16, "needs 20 bytes but its entry has 16"},
      {"numel_overflow", tensor_pickle(INT64_MAX / 2, 0, {2}, {1}), f16, "size overflows"},
      {"bad_storage_type", tensor_pickle(4, 0, {2}, {1}, "ComplexFloatStorage"), f16, "global 'torch.ComplexFloatStorage'"},
      {"unknown_opcode", pickle_of({0x80, 2, 0xff}), {}, "unsupported pickle opcode 0xff at offset 2"},
      {"eval", pickle_of("\x80\x02\x8c\x08\x62uiltins\x8c\x04\x65val\x93."), {}, "global 'builtins.eval'"},
      {"memo_missing", pickle_of({0x80, 2, 'h', 9, '.'}), {}, "memo index 9 was never stored"},
      {"underflow", pickle_of({0x80, 2, 's', '.'}), {}, "on an empty stack"},
      {"no_stop", pickle_of({0x80, 2, '}'}), {}, "truncated"},
      {"long_len", pickle_of({0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f}), {}, "truncated"},
      {"two_left", pickle_of({0x80, 2, 'N', 'N', '.'}), {}, "STOP at offset 4 with 2 objects"},
      {"not_dict", pickle_of({0x80, 2, ']', '.'}), {}, "holds a list"},
      {"not_tensor", pickle_of({0x80, 2, '}', 'K', 1, 'K', 2, 's', '.'}), {}, "state dict key of type int"},
      {"list_key", pickle_of({0x80, 2, '}', ']', 'K', 2, 's', '.'}), {}, "unhashable dict key of type list"},
      {"call_int", pickle_of({0x80, 2, 'K', 1, ')', 'R', '.'}), {}, "calling a int"},
      {"build_list", pickle_of({0x80, 2, ']', '}', 'b', '.'}), {}, "BUILD on a list"},
      {"bad_pid", pickle_of({0x80, 2, 'K', 1, 'Q', '.'}), {}, "malformed persistent id"},
      {"module_pid", pickle_of("\x80\x02\x8c\x06module\x85Q."), {}, "unsupported persistent id 'module'"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto path = write_pth("case_" + c.name + ".pth", c.pkl, {{"0", c.storage}});
    if (c.problem.empty()) {
      CHECK(tl::io::load_state_dict(path).at("w").shape() == tl::Shape{2, 2});
      continue;
    }
    expect_error([&] { tl::io::load_state_dict(path); }, {path, c.problem});
  }
  // A missing storage entry and a file without data.pkl.
  expect_error([&] { tl::io::load_state_dict(write_pth("no_storage.pth", tensor_pickle(4, 0, {2}, {1}), {})); },
               {"no_storage.pth", "storage '0' has no entry 'archive/data/0'"});
  auto no_pkl = tmp_path("no_pkl.pth");
  tl::io::write_file_atomic(no_pkl, "t", [](std::FILE* f) {
    tl::io::ZipWriter z(f, "t");
    z.add("archive/version", reinterpret_cast<const uint8_t*>("3\n"), 2);
    z.finish();
  });
  expect_error([&] { tl::io::load_state_dict(no_pkl); }, {"no_pkl.pth", "no 'archive/data.pkl'"});
  // Hostile structure: a million nested lists and a huge DUP/APPENDS amplification finish quickly.
  std::vector<uint8_t> deep = {0x80, 2};
  for (int i = 0; i < 1000000; ++i) deep.push_back(']');
  for (int i = 0; i < 999999; ++i) deep.push_back('a');
  deep.push_back('.');
  expect_error([&] { tl::io::load_state_dict(write_pth("deep.pth", deep, {})); }, {"deep.pth", "holds a list"});
  std::vector<uint8_t> amp = {0x80, 2, ']', '('};
  for (int i = 0; i < 200000; ++i) amp.push_back('2');
  for (int i = 0; i < 200000; ++i) { amp.push_back('t'); amp.push_back('('); amp.push_back('2'); }
  amp.push_back('.');
  expect_error([&] { tl::io::load_state_dict(write_pth("amp.pth", amp, {})); }, {"amp.pth"});
  // Bad file content that is no weight file at all.
  auto junk = tmp_path("junk.bin");
  tl::test::write_file(junk, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  expect_error([&] { tl::io::load_state_dict(junk); }, {"junk.bin", "not a recognised weight file"});
  tl::test::write_file(junk, {});
  expect_error([&] { tl::io::load_state_dict(junk); }, {"junk.bin", "empty"});
}

TEST_CASE("truncated and corrupted torch files always throw tl::Error (never crash)") {
  for (const char* name : {"sd_zip.pth", "sd_legacy.pth", "checkpoint.pth"}) {
    auto full = tl::test::read_file(fixture(name));
    for (size_t n = 0; n < full.size(); n += (n < 64 || n + 128 > full.size() ? 1 : 3)) {
      auto cut = std::make_shared<tl::io::Bytes>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      INFO(name, " cut at ", n);
      expect_error([&] { tl::io::parse_weights(cut, name); }, {name});
    }
  }
  // Single-byte corruption anywhere: either a clean load or a tl::Error, never anything else.
  auto full = tl::test::read_file(fixture("sd_zip.pth"));
  auto path = tmp_path("flip.pth");
  int errors = 0, loads = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    auto b = std::make_shared<tl::io::Bytes>(full);
    (*b)[i] ^= 0x5a;
    try {
      tl::io::to_state_dict<float>(tl::io::parse_weights(b, "flip.pth"));
      ++loads;
    } catch (const tl::Error& e) {
      ++errors;
      CHECK(std::string(e.what()).find("flip.pth") != std::string::npos);
    }
  }
  CHECK(errors > loads);  // CRC-32 and structure checks catch most flips
  // Central directory corruption: signature, entry count, offsets, sizes.
  tl::io::ZipReader zr(full.data(), full.size(), "t");
  // torch writes zip64 end records: the central directory's place and size are read from there.
  size_t eocd = full.size() - 22;
  REQUIRE(tl::io::read_le<uint32_t>(full.data() + eocd) == 0x06054b50);
  REQUIRE(tl::io::read_le<uint32_t>(full.data() + eocd - 20) == 0x07064b50);
  size_t z64 = static_cast<size_t>(tl::io::read_le<uint64_t>(full.data() + eocd - 12));
  size_t cd_off = static_cast<size_t>(tl::io::read_le<uint64_t>(full.data() + z64 + 48));
  auto corrupt = [&](size_t at, std::vector<uint8_t> v, const std::string& problem) {
    auto b = full;
    std::copy(v.begin(), v.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
    tl::test::write_file(path, b);
    INFO(problem);
    expect_error([&] { tl::io::load_state_dict(path); }, {path, problem});
  };
  corrupt(cd_off, {0, 0, 0, 0}, "bad central directory entry signature");
  corrupt(z64 + 48, {0xff, 0xff, 0xff, 0x7f}, "lies outside the file");
  corrupt(z64 + 40, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "lies outside the file");
  corrupt(z64 + 32, {0xff, 0x7f}, "claims 32767 entries");
  corrupt(eocd - 12, {0xff, 0xff, 0xff, 0x7f}, "zip64 end record offset");
  corrupt(z64, {0, 0, 0, 0}, "zip64 end record has a bad signature");
  corrupt(eocd, {0, 0, 0, 0}, "no zip end-of-central-directory record");
  corrupt(cd_off + 24, {0xff, 0xff, 0, 0}, "compressed size");  // usize of the first entry
  corrupt(cd_off + 20, {0xff, 0xff, 0, 0}, "compressed size");  // then csize and usize both huge:
  auto b = full;
  for (size_t k : {20u, 24u}) { b[cd_off + k] = 0xff; b[cd_off + k + 1] = 0xff; b[cd_off + k + 2] = 0x0f; }
  tl::test::write_file(path, b);
  expect_error([&] { tl::io::load_state_dict(path); }, {path, "runs past the start of the central directory"});
  corrupt(cd_off + 42, {0xff, 0xff, 0xff, 0x00}, "local header offset");
  // The second entry pointing at the first one's bytes (same data named twice) is refused.
  size_t second = cd_off + 46 + tl::io::read_le<uint16_t>(full.data() + cd_off + 28) +
                  tl::io::read_le<uint16_t>(full.data() + cd_off + 30) + tl::io::read_le<uint16_t>(full.data() + cd_off + 32);
  REQUIRE(tl::io::read_le<uint32_t>(full.data() + second) == 0x02014b50);
  corrupt(second + 42, {0, 0, 0, 0}, "overlap");
  corrupt(cd_off + 10, {8, 0}, "is compressed (method 8)");
}

namespace {
// A legacy torch.save file by hand: tensors {name: (view_key or "", offset, size)} over one float
// storage "b" of `numel` elements holding 0, 1, 2, ...; `count` is the element count written.
std::shared_ptr<tl::io::Bytes> legacy_file(const std::vector<std::tuple<std::string, std::string, int64_t, int64_t>>& ts,
                                           int64_t numel, int64_t count, const std::string& listed_key = "b") {
  tl::io::detail::PickleWriter p;
  auto end = [&] { p.op('.'); };
  p.out.assign(tl::io::kLegacyPthPrefix, tl::io::kLegacyPthPrefix + sizeof(tl::io::kLegacyPthPrefix));
  end();
  p.op(0x80); p.op(2); p.integer(1001); end();
  p.op(0x80); p.op(2); p.op('}'); p.str("little_endian"); p.op(0x88); p.op('s'); end();
  p.op(0x80); p.op(2); p.op('}'); p.op('(');
  for (const auto& [name, view, off, size] : ts) {
    p.str(name);
    p.global("torch._utils", "_rebuild_tensor");
    p.op('(');
    p.op('(');
    p.str("storage"); p.global("torch", "FloatStorage"); p.str("b"); p.str("cpu"); p.integer(numel);
    if (view.empty()) p.op('N');
    else { p.op('('); p.str(view); p.integer(off); p.integer(size); p.op('t'); }
    p.op('t');
    p.op('Q');
    p.integer(0);
    p.int_tuple({size});
    p.int_tuple({1});
    p.op('t');
    p.op('R');
  }
  p.op('u'); end();
  p.op(0x80); p.op(2); p.op('('); p.str(listed_key); p.op('l'); end();
  auto out = std::make_shared<tl::io::Bytes>(p.out);
  for (int k = 0; k < 8; ++k) out->push_back(static_cast<uint8_t>(count >> (8 * k)));
  for (int64_t i = 0; i < numel; ++i) {
    float v = static_cast<float>(i);
    const auto* b = reinterpret_cast<const uint8_t*>(&v);
    out->insert(out->end(), b, b + 4);
  }
  return out;
}
}  // namespace

TEST_CASE("legacy files: storage views of old torch versions, count and key checks") {
  auto f = legacy_file({{"whole", "", 0, 6}, {"v", "view1", 2, 3}, {"v_again", "view1", 2, 3}}, 6, 6);
  auto sd = tl::io::to_state_dict<float>(tl::io::parse_weights(f, "legacy.pth"));
  CHECK(sd.keys() == std::vector<std::string>{"whole", "v", "v_again"});
  CHECK(sd.at("whole").to_vector() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(sd.at("v").to_vector() == std::vector<float>{2, 3, 4});
  CHECK(sd.at("v").impl()->storage == sd.at("whole").impl()->storage);  // views convert with their base
  CHECK(sd.at("v").storage_offset() == 2);
  expect_error([&] { tl::io::parse_weights(legacy_file({{"w", "", 0, 6}}, 6, 5), "legacy.pth"); },
               {"legacy.pth", "storage 'b' has 5 elements in the file, 6 in its persistent id"});
  expect_error([&] { tl::io::parse_weights(legacy_file({{"w", "", 0, 6}}, 6, 6, "zz"), "legacy.pth"); },
               {"legacy.pth", "storage key 'zz' is not used by the pickle"});
  expect_error([&] { tl::io::parse_weights(legacy_file({{"v", "view1", 4, 3}}, 6, 6), "legacy.pth"); },
               {"legacy.pth", "storage view [4, +3) is outside storage 'b'"});
  expect_error([&] { tl::io::parse_weights(legacy_file({{"v", "b", 0, 3}}, 6, 6), "legacy.pth"); },
               {"legacy.pth", "declared twice differently"});
  auto cut = legacy_file({{"w", "", 0, 6}}, 6, 6);
  cut->resize(cut->size() - 1);
  expect_error([&] { tl::io::parse_weights(cut, "legacy.pth"); }, {"legacy.pth", "truncated: storage data"});
}
