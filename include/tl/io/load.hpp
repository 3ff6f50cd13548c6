#pragma once
// load_state_dict(path): reads any supported weight file, recognised by its content (not its name),
// and applies the key mapping of LoadOptions.
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tl/core/state_dict.hpp"
#include "tl/io/file_bytes.hpp"
#include "tl/io/pth.hpp"
#include "tl/io/raw_weights.hpp"
#include "tl/io/safetensors.hpp"

namespace tl::io {

/// How keys of a loaded file are selected and renamed. Steps, in this order:
///  1. checkpoint_key picks a nested state dict (default: auto, see load_state_dict);
///  2. a leading "module." (DataParallel) is removed when strip_module_prefix;
///  3. strip_prefix is removed from keys starting with it;
///  4. replace_prefix: the first matching (from, to) pair rewrites a key's prefix;
///  5. rename: exact key renames;
///  6. exclude_prefixes and keep() drop keys (tested on the final name).
struct LoadOptions {
  std::string checkpoint_key;
  bool strip_module_prefix = true;
  std::string strip_prefix;
  std::vector<std::pair<std::string, std::string>> replace_prefix;
  std::map<std::string, std::string> rename;
  std::vector<std::string> exclude_prefixes;      // e.g. {"fc."} to drop a classifier head
  std::function<bool(const std::string&)> keep;  // keep a key only if this returns true (when set)
  bool verify_crc = true;                          // zip CRC-32 checks (off only for fuzzing)
};

/// Recognises a weight file by its first bytes; throws naming the file if it is none of them.
inline Format detect_format(const Bytes& b, const std::string& path) {
  const uint8_t* d = b.data();
  size_t n = b.size();
  if (n >= 4 && d[0] == 'P' && d[1] == 'K' && ((d[2] == 3 && d[3] == 4) || (d[2] == 5 && d[3] == 6)))
    return Format::TorchZip;
  if (n >= sizeof(kLegacyPthPrefix) && std::memcmp(d, kLegacyPthPrefix, sizeof(kLegacyPthPrefix)) == 0)
    return Format::TorchLegacy;
  if (looks_like_safetensors(d, n)) return Format::Safetensors;
  if (n >= 8) {
    uint64_t h = read_le<uint64_t>(d);
    TL_CHECK(!(n > 8 && d[8] == '{'), "load_state_dict: '", path, "': safetensors header length ", h,
             " does not fit in the file (", n, " bytes) (truncated file?)");
  }
  TL_CHECK(!(n >= 2 && d[0] == 0x80), "load_state_dict: '", path,
           "': a bare pickle, not a torch.save file (tl reads torch.save zip and legacy files and safetensors)");
  TL_CHECK(n > 0, "load_state_dict: '", path, "': the file is empty");
  tl::detail::fail("load_state_dict: '", path,
                   "': not a recognised weight file (expected a PyTorch .pth/.pt zip, a legacy .pth, or safetensors)");
}

/// Parses in-memory file bytes without converting values (used by load_state_dict and inspectors).
inline RawWeights parse_weights(std::shared_ptr<const Bytes> file, const std::string& path, const LoadOptions& opt = {}) {
  switch (detect_format(*file, path)) {
    case Format::TorchZip: return parse_torch_zip(file, path, opt.checkpoint_key, opt.verify_crc);
    case Format::TorchLegacy: return parse_torch_legacy(file, path, opt.checkpoint_key);
    default: return parse_safetensors(file, path);
  }
}

/// Applies the key mapping of LoadOptions (steps 2-6) in place.
inline void apply_key_options(RawWeights& raw, const LoadOptions& opt) {
  auto starts = [](const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; };
  std::vector<RawEntry> kept;
  for (auto& e : raw.entries) {
    std::string k = e.name;
    if (opt.strip_module_prefix && starts(k, "module.")) k = k.substr(7);
    if (!opt.strip_prefix.empty() && starts(k, opt.strip_prefix)) k = k.substr(opt.strip_prefix.size());
    for (const auto& [from, to] : opt.replace_prefix)
      if (starts(k, from)) {
        k = to + k.substr(from.size());
        break;
      }
    if (auto it = opt.rename.find(k); it != opt.rename.end()) k = it->second;
    bool drop = false;
    for (const auto& p : opt.exclude_prefixes) drop = drop || starts(k, p);
    if (drop || (opt.keep && !opt.keep(k))) continue;
    e.name = std::move(k);
    kept.push_back(std::move(e));
  }
  raw.entries = std::move(kept);
}

/// Loads a state dict from a PyTorch zip (.pth/.pt/.bin of torch.save >= 1.6), a legacy torch.save
/// file, or safetensors, recognised by content. A checkpoint dict is accepted when it holds the
/// state dict under "state_dict", "model_state_dict" or "model" (other entries are ignored).
/// Values convert to T; integer element types mark the entry integer. Shared storages stay
/// shared and strides are kept, as with torch.load. Every malformed file throws tl::Error.
template <class T = float>
StateDict<T> load_state_dict(const std::string& path, const LoadOptions& opt = {}) {
  auto raw = parse_weights(read_file_bytes(path, "load_state_dict"), path, opt);
  apply_key_options(raw, opt);
  return to_state_dict<T>(raw);
}

}  // namespace tl::io
