// libFuzzer harness for the PyTorch readers: the zip container, the legacy format and the
// restricted unpickler. Built by tests/fuzz/run_fuzz.sh with -fsanitize=fuzzer,address,undefined.
// Any input must either load or throw tl::Error: crashes, sanitizer reports, leaks, timeouts and
// allocations beyond libFuzzer's malloc limit are bugs.
#include <cstddef>
#include <cstdint>
#include <memory>

#include <tl/io/io.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::make_shared<tl::io::Bytes>(data, data + size);
  // Whole files (CRC checks off so mutations reach the pickle and the storages).
  try {
    tl::io::LoadOptions opt;
    opt.verify_crc = false;
    auto fmt = tl::io::detect_format(*bytes, "fuzz.pth");
    if (fmt != tl::io::Format::Safetensors) {
      auto raw = tl::io::parse_weights(bytes, "fuzz.pth", opt);
      tl::io::apply_key_options(raw, opt);
      auto sd = tl::io::to_state_dict<float>(raw);
      for (const auto& e : sd) (void)e.tensor.to_vector();  // every view must lie inside its storage
    }
  } catch (const tl::Error&) {
  }
  // The same bytes as a bare pickle (storages get no data: selection must still be safe).
  try {
    tl::io::ByteCursor cur(data, size, "fuzz.pkl");
    tl::io::detail::StorageTable table{"fuzz.pkl", {}};
    tl::io::pickle::Unpickler u(cur, [&](tl::io::pickle::Unpickler& up, tl::io::pickle::Obj* pid) {
      return tl::io::detail::storage_obj(up, table.from_pid(up, pid, 5));
    });
    auto entries = tl::io::detail::select_state_dict(u.load(), "fuzz.pkl", "");
    (void)entries;
  } catch (const tl::Error&) {
  }
  return 0;
}
