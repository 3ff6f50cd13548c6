#pragma once
// safetensors reader and writer (https://github.com/huggingface/safetensors, format described in
// its README): u64 little-endian header length N, N bytes of JSON, then the data buffer.
// The reader trusts nothing: header size, JSON, dtypes, shapes and offsets are all checked, and the
// buffer must be covered exactly (no holes, no overlaps), as the reference implementation requires.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tl/core/state_dict.hpp"
#include "tl/io/element_type.hpp"
#include "tl/io/file_bytes.hpp"
#include "tl/io/json.hpp"
#include "tl/io/raw_weights.hpp"

namespace tl::io {

/// The reference reader's cap on the JSON header.
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

/// True if the bytes look like safetensors (header length fits, JSON starts with '{').
inline bool looks_like_safetensors(const uint8_t* d, size_t n) {
  if (n < 10) return false;
  uint64_t h = read_le<uint64_t>(d);
  return h >= 2 && h <= n - 8 && d[8] == '{';
}

/// Parses safetensors bytes; `path` names the file in errors.
inline RawWeights parse_safetensors(std::shared_ptr<const Bytes> file, const std::string& path) {
  const std::string what = "load_safetensors: '" + path + "'";
  const uint8_t* d = file->data();
  const uint64_t n = file->size();
  TL_CHECK(n >= 8, what, ": file is ", n, " bytes, too short for the 8-byte header length");
  uint64_t hlen = read_le<uint64_t>(d);
  TL_CHECK(hlen <= kSafetensorsMaxHeader, what, ": header length ", hlen, " exceeds the 100 MB limit");
  TL_CHECK(hlen <= n - 8, what, ": header length ", hlen, " is larger than the ", n - 8,
           " bytes after the length field (truncated file?)");
  std::string_view text(reinterpret_cast<const char*>(d + 8), static_cast<size_t>(hlen));
  JsonValue root = JsonParser(text, what + ": header").parse();
  TL_CHECK(root.kind == JsonValue::Kind::Object, what, ": header is ", json_kind_name(root.kind),
           ", expected a JSON object");

  RawWeights raw;
  raw.format = Format::Safetensors;
  raw.path = path;
  raw.file = file;
  const uint8_t* buf = d + 8 + hlen;
  const int64_t buf_size = static_cast<int64_t>(n - 8 - hlen);
  struct Span { int64_t begin, end; size_t entry; };
  std::vector<Span> spans;

  for (const auto& [name, info] : root.members) {
    if (name == "__metadata__") {
      TL_CHECK(info.kind == JsonValue::Kind::Object, what, ": __metadata__ is ", json_kind_name(info.kind),
               ", expected an object of strings");
      for (const auto& [k, v] : info.members) {
        TL_CHECK(v.kind == JsonValue::Kind::String, what, ": __metadata__ value of '", k, "' is ",
                 json_kind_name(v.kind), ", expected a string");
        raw.metadata[k] = v.s;
      }
      continue;
    }
    const std::string tw = what + ": tensor '" + name + "'";
    TL_CHECK(info.kind == JsonValue::Kind::Object, tw, " is ", json_kind_name(info.kind), ", expected an object");
    const JsonValue* dt = info.find("dtype");
    const JsonValue* sh = info.find("shape");
    const JsonValue* off = info.find("data_offsets");
    TL_CHECK(dt && dt->kind == JsonValue::Kind::String, tw, ": missing or non-string \"dtype\"");
    TL_CHECK(sh && sh->kind == JsonValue::Kind::Array, tw, ": missing or non-array \"shape\"");
    TL_CHECK(off && off->kind == JsonValue::Kind::Array && off->items.size() == 2, tw,
             ": \"data_offsets\" must be an array [begin, end]");
    ElemType type;
    TL_CHECK(parse_safetensors_dtype(dt->s, type), tw, ": unknown or unsupported dtype '", dt->s,
             "' (supported: F16 BF16 F32 F64 I8 U8 I16 U16 I32 U32 I64 U64 BOOL)");
    TL_CHECK(sh->items.size() <= 64, tw, ": more than 64 dimensions");
    RawEntry e;
    e.name = name;
    int64_t numel = 1;
    for (const auto& dim : sh->items) {
      TL_CHECK(dim.kind == JsonValue::Kind::Int && dim.i >= 0, tw, ": shape entries must be non-negative integers");
      e.shape.push_back(dim.i);
      TL_CHECK(!detail::mul_overflows(numel, dim.i, numel), tw, ": shape ", shape_str(e.shape), " overflows int64");
    }
    for (const auto& o : off->items)
      TL_CHECK(o.kind == JsonValue::Kind::Int && o.i >= 0, tw, ": data_offsets must be non-negative integers");
    int64_t begin = off->items[0].i, end = off->items[1].i, nbytes;
    TL_CHECK(begin <= end, tw, ": data_offsets [", begin, ", ", end, "] are reversed");
    TL_CHECK(end <= buf_size, tw, ": data_offsets [", begin, ", ", end, "] run past the data buffer (", buf_size,
             " bytes; truncated file?)");
    TL_CHECK(!detail::mul_overflows(numel, elem_size(type), nbytes) && nbytes == end - begin, tw, ": shape ",
             shape_str(e.shape), " of ", dt->s, " needs ", numel, " x ", elem_size(type), " bytes but data_offsets [",
             begin, ", ", end, "] span ", end - begin);
    e.strides = contiguous_strides(e.shape);
    e.storage = std::make_shared<RawStorage>(RawStorage{name, type, numel, buf + begin, nullptr, 0});
    spans.push_back({begin, end, raw.entries.size()});
    raw.entries.push_back(std::move(e));
  }

  // The buffer must be covered exactly: sort by offsets, then no overlap and no gap.
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  int64_t pos = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto& s = spans[i];
    TL_CHECK(s.begin >= pos, what, ": tensor '", raw.entries[s.entry].name, "' (bytes ", s.begin, "..", s.end,
             ") overlaps tensor '", raw.entries[spans[i - 1].entry].name, "' (ends at ", pos, ")");
    TL_CHECK(s.begin == pos, what, ": hole in the data buffer: bytes ", pos, "..", s.begin, " before tensor '",
             raw.entries[s.entry].name, "' belong to no tensor");
    pos = s.end;
  }
  TL_CHECK(pos == buf_size, what, ": data buffer has ", buf_size - pos, " bytes after the last tensor (",
           buf_size, " bytes, tensors cover ", pos, ")");
  // Entries in data order (the order writers lay them out; tl's writer keeps the StateDict order).
  std::vector<RawEntry> ordered;
  ordered.reserve(spans.size());
  for (const auto& s : spans) ordered.push_back(std::move(raw.entries[s.entry]));
  raw.entries = std::move(ordered);
  return raw;
}

/// Loads a .safetensors file into a StateDict<T> (F32/F16/BF16/F64/integer types converted to T;
/// integer types mark the entry integer; __metadata__ goes to sd.metadata).
template <class T = float>
StateDict<T> load_safetensors(const std::string& path) {
  return to_state_dict<T>(parse_safetensors(read_file_bytes(path, "load_safetensors"), path));
}

namespace detail {
/// One entry's values as file bytes: int64 for integer entries, else T.
template <class T>
void append_entry_bytes(const typename StateDict<T>::Entry& e, Bytes& out) {
  auto vals = e.tensor.to_vector();
  size_t at = out.size();
  if (e.integer) {
    out.resize(at + vals.size() * 8);
    for (size_t i = 0; i < vals.size(); ++i) {
      int64_t v = to_int64_saturating(vals[i]);
      std::memcpy(out.data() + at + 8 * i, &v, 8);
    }
  } else {
    out.resize(at + vals.size() * sizeof(T));
    if (!vals.empty()) std::memcpy(out.data() + at, vals.data(), vals.size() * sizeof(T));
  }
}
template <class T>
constexpr ElemType elem_type_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "tl::io writes float or double state dicts");
  return std::is_same_v<T, float> ? ElemType::F32 : ElemType::F64;
}
}  // namespace detail

/// Writes `sd` as safetensors: F32 for float, F64 for double, I64 for entries flagged integer, in the
/// StateDict's order. `sd.metadata` and `metadata` (which wins on equal keys) go to __metadata__.
/// Written atomically (temporary file, flush, rename).
template <class T>
void save_safetensors(const std::string& path, const StateDict<T>& sd,
                      const std::map<std::string, std::string>& metadata = {}) {
  std::map<std::string, std::string> meta = sd.metadata;
  for (const auto& [k, v] : metadata) meta[k] = v;
  std::string header = "{";
  if (!meta.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : meta) {
      if (!first) header += ',';
      header += json_quote(k);
      header += ':';
      header += json_quote(v);
      first = false;
    }
    header += "}";
  }
  int64_t pos = 0;
  for (const auto& e : sd) {
    TL_CHECK(e.name != "__metadata__", "save_safetensors: '", path, "': a tensor cannot be named __metadata__");
    TL_CHECK(e.tensor.defined(), "save_safetensors: '", path, "': tensor '", e.name, "' is undefined");
    ElemType type = e.integer ? ElemType::I64 : detail::elem_type_of<T>();
    int64_t nbytes = e.tensor.numel() * elem_size(type);
    if (header.size() > 1) header += ",";
    header += json_quote(e.name) + ":{\"dtype\":\"" + std::string(safetensors_name(type)) + "\",\"shape\":[";
    for (size_t i = 0; i < e.tensor.shape().size(); ++i) {
      if (i) header += ',';
      header += std::to_string(e.tensor.shape()[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(pos) + "," + std::to_string(pos + nbytes) + "]}";
    pos += nbytes;
  }
  header += "}";
  while (header.size() % 8) header += ' ';  // like the reference writer: data starts 8-byte aligned
  write_file_atomic(path, "save_safetensors", [&](std::FILE* f) {
    uint64_t hlen = header.size();
    write_bytes(f, &hlen, 8, "save_safetensors");
    write_bytes(f, header.data(), header.size(), "save_safetensors");
    Bytes buf;
    for (const auto& e : sd) {
      buf.clear();
      detail::append_entry_bytes<T>(e, buf);
      write_bytes(f, buf.data(), buf.size(), "save_safetensors");
    }
  });
}

}  // namespace tl::io
