// libFuzzer harness for the safetensors reader and its JSON parser (see fuzz_pth.cpp).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <tl/io/io.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::make_shared<tl::io::Bytes>(data, data + size);
  try {
    auto sd = tl::io::to_state_dict<double>(tl::io::parse_safetensors(bytes, "fuzz.safetensors"));
    for (const auto& e : sd) (void)e.tensor.to_vector();
  } catch (const tl::Error&) {
  }
  try {  // the JSON parser on its own
    std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)tl::io::JsonParser(text, "fuzz.json").parse();
  } catch (const tl::Error&) {
  }
  return 0;
}
