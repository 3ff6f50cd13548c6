#pragma once
// RawWeights: what a parser found in a weight file, before conversion to StateDict<T>.
// Entries point into the file's bytes (kept alive by a shared buffer); storages shared by several
// tensors stay shared, as in torch.load.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tl/core/shape.hpp"
#include "tl/core/state_dict.hpp"
#include "tl/core/tensor.hpp"
#include "tl/io/element_type.hpp"
#include "tl/io/file_bytes.hpp"

namespace tl::io {

enum class Format { TorchZip, TorchLegacy, Safetensors };

inline const char* format_name(Format f) {
  switch (f) {
    case Format::TorchZip: return "PyTorch zip (torch.save >= 1.6)";
    case Format::TorchLegacy: return "PyTorch legacy (torch.save < 1.6)";
    default: return "safetensors";
  }
}

/// One typed storage of the file: numel elements of `type` at `data` (inside the file buffer).
struct RawStorage {
  std::string key;
  ElemType type = ElemType::F32;
  int64_t numel = 0;
  const uint8_t* data = nullptr;  // null until located (legacy files locate storages after the pickle)
  // A slice of another storage (legacy view_metadata): converted as part of its base, so many
  // views of one storage cost no extra memory.
  std::shared_ptr<RawStorage> base;
  int64_t base_offset = 0;
};

/// A named tensor: a strided view of a storage (bounds already checked by the parser).
struct RawEntry {
  std::string name;
  std::shared_ptr<RawStorage> storage;
  int64_t offset = 0;  // in elements
  Shape shape, strides;
  ElemType type() const { return storage->type; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t nbytes() const { return numel() * elem_size(type()); }
};

struct RawWeights {
  Format format = Format::Safetensors;
  std::string path;
  std::shared_ptr<const Bytes> file;  // keeps entries' data alive
  std::vector<RawEntry> entries;
  std::map<std::string, std::string> metadata;
};

namespace detail {
inline bool mul_overflows(int64_t a, int64_t b, int64_t& out) { return __builtin_mul_overflow(a, b, &out); }
inline bool add_overflows(int64_t a, int64_t b, int64_t& out) { return __builtin_add_overflow(a, b, &out); }

/// Checks that a view (offset, shape, strides) stays inside a storage of `storage_numel` elements.
/// Returns an empty string when fine, otherwise what is wrong.
inline std::string check_view(int64_t offset, const Shape& shape, const Shape& strides, int64_t storage_numel) {
  if (shape.size() != strides.size())
    return "size " + shape_str(shape) + " and stride " + shape_str(strides) + " have different lengths";
  if (shape.size() > 64) return "more than 64 dimensions";
  if (offset < 0) return "negative storage offset " + std::to_string(offset);
  bool empty = false;
  int64_t numel = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) return "negative size in " + shape_str(shape);
    if (strides[i] < 0) return "negative stride in " + shape_str(strides);
    if (mul_overflows(numel, shape[i], numel)) return "size " + shape_str(shape) + " overflows int64";
    empty = empty || shape[i] == 0;
  }
  if (empty) return offset <= storage_numel ? "" : "storage offset " + std::to_string(offset) + " is past the storage end";
  int64_t last = offset;  // index of the last element the view reads
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t step;
    if (mul_overflows(shape[i] - 1, strides[i], step) || add_overflows(last, step, last))
      return "size " + shape_str(shape) + " with stride " + shape_str(strides) + " overflows int64";
  }
  if (last >= storage_numel)
    return "view (offset " + std::to_string(offset) + ", size " + shape_str(shape) + ", stride " +
           shape_str(strides) + ") needs " + std::to_string(last) + "+1 elements, storage has " +
           std::to_string(storage_numel);
  return "";
}
}  // namespace detail

/// Converts to StateDict<T>: each storage once, entries as views of it (shared storages stay shared,
/// strides kept, like torch.load). Integer element types mark the entry integer.
template <class T>
StateDict<T> to_state_dict(const RawWeights& raw) {
  StateDict<T> sd;
  std::unordered_map<const RawStorage*, std::shared_ptr<Storage<T>>> converted;
  for (const auto& e : raw.entries) {
    const RawStorage* rs = e.storage.get();
    int64_t offset = e.offset;
    if (rs && rs->base) {
      offset += rs->base_offset;
      rs = rs->base.get();
    }
    TL_CHECK(rs && rs->data, "load_state_dict: '", raw.path, "': storage of '", e.name, "' has no data");
    auto& st = converted[rs];
    if (!st) {
      st = std::make_shared<Storage<T>>(static_cast<size_t>(rs->numel));
      convert_elements<T>(rs->type, rs->data, rs->numel, st->data());
    }
    auto impl = std::make_shared<TensorImpl<T>>();
    impl->storage = st;
    impl->offset = offset;
    impl->shape = e.shape;
    impl->strides = e.strides;
    TL_CHECK(!sd.contains(e.name), "load_state_dict: '", raw.path, "': duplicate key '", e.name, "'");
    sd.insert(e.name, Tensor<T>(std::move(impl)), elem_is_integer(rs->type));
  }
  sd.metadata = raw.metadata;
  return sd;
}

}  // namespace tl::io
