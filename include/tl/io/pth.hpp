#pragma once
// PyTorch .pth/.pt files: the zip format of torch.save (>= 1.6), the legacy format (< 1.6), and a
// writer of zip files that torch.load(path, weights_only=True) accepts.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tl/core/state_dict.hpp"
#include "tl/io/element_type.hpp"
#include "tl/io/file_bytes.hpp"
#include "tl/io/pickle.hpp"
#include "tl/io/raw_weights.hpp"
#include "tl/io/safetensors.hpp"
#include "tl/io/zip.hpp"

namespace tl::io {

/// The pickled magic number, protocol and start of the legacy format: PROTO 2, LONG1 of
/// 0x1950a86a20f9469cfc6c.
inline constexpr uint8_t kLegacyPthPrefix[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                               0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

namespace detail {
using pickle::Kind;
using pickle::Obj;

/// Persistent-id bookkeeping shared by both torch formats: one RawStorage per key.
struct StorageTable {
  std::string what;
  std::unordered_map<std::string, std::shared_ptr<RawStorage>> by_key;

  /// ('storage', storage_type, key, location, numel[, view_metadata]); returns the storage (data unset).
  std::shared_ptr<RawStorage> from_pid(pickle::Unpickler& u, Obj* pid, size_t expect_len) {
    TL_CHECK(pid->kind == Kind::Tuple && !pid->items.empty(), what, ": malformed persistent id (", pickle::kind_name(pid->kind), ")");
    const auto& a = pid->items;
    TL_CHECK(a[0]->kind == Kind::Str, what, ": malformed persistent id");
    TL_CHECK(a[0]->s == "storage", what, ": unsupported persistent id '", a[0]->s,
             "' (a pickled nn.Module? tl loads state dicts only)");
    TL_CHECK(a.size() == expect_len, what, ": storage persistent id has ", a.size(), " fields, expected ", expect_len);
    TL_CHECK(a[1]->kind == Kind::Global && a[1]->gid == pickle::GlobalId::StorageType, what,
             ": persistent id names no storage type");
    TL_CHECK(a[2]->kind == Kind::Str && a[3]->kind == Kind::Str && a[4]->kind == Kind::Int, what,
             ": malformed storage persistent id");
    TL_CHECK(a[4]->i >= 0, what, ": storage '", a[2]->s, "' has a negative size ", a[4]->i);
    int64_t nbytes;
    TL_CHECK(!mul_overflows(a[4]->i, elem_size(a[1]->etype), nbytes), what, ": storage '", a[2]->s, "' size overflows");
    u.charge(static_cast<int64_t>(a[2]->s.size()));
    auto& st = by_key[a[2]->s];
    if (st) {
      TL_CHECK(st->type == a[1]->etype && st->numel == a[4]->i, what, ": storage '", a[2]->s,
               "' is declared twice with different types or sizes");
    } else {
      st = std::make_shared<RawStorage>(RawStorage{a[2]->s, a[1]->etype, a[4]->i, nullptr, nullptr, 0});
    }
    return st;
  }
};

inline Obj* storage_obj(pickle::Unpickler& u, std::shared_ptr<RawStorage> st) {
  Obj* o = u.make(Kind::Storage);
  o->storage = std::move(st);
  return o;
}

/// Finds the state dict in an unpickled object: a dict of tensors, or one held under "state_dict",
/// "model_state_dict" or "model" of a checkpoint dict (or under `key` if given).
inline std::vector<RawEntry> select_state_dict(const Obj* root, const std::string& what, const std::string& key) {
  TL_CHECK(root->kind == Kind::Dict, what, ": the file holds a ", pickle::kind_name(root->kind),
           ", expected a state dict (a dict of tensors) or a checkpoint dict");
  auto lookup = [&](const Obj* d, const std::string& k) -> const Obj* {
    for (const auto& [kk, v] : d->dict->items)
      if (kk->kind == Kind::Str && kk->s == k) return v;
    return nullptr;
  };
  const Obj* sd = root;
  if (!key.empty()) {
    sd = lookup(root, key);
    TL_CHECK(sd != nullptr, what, ": checkpoint has no key '", key, "'");
  } else {
    for (const char* k : {"state_dict", "model_state_dict", "model"}) {
      const Obj* v = lookup(root, k);
      if (v && v->kind == Kind::Dict) {
        sd = v;
        break;
      }
    }
  }
  TL_CHECK(sd->kind == Kind::Dict, what, ": '", key, "' holds a ", pickle::kind_name(sd->kind), ", not a state dict");
  std::vector<RawEntry> out;
  for (const auto& [k, v] : sd->dict->items) {
    TL_CHECK(k->kind == Kind::Str, what, ": state dict key of type ", pickle::kind_name(k->kind), " (expected str)");
    if (v->kind != Kind::Tensor) {
      std::string keys;
      for (const auto& [kk, vv] : root->dict->items)
        if (kk->kind == Kind::Str && keys.size() < 300) keys += (keys.empty() ? "'" : ", '") + kk->s + "'";
      tl::detail::fail(what, ": entry '", k->s, "' is a ", pickle::kind_name(v->kind),
                       ", not a tensor; expected a state dict or a checkpoint with one under 'state_dict', "
                       "'model_state_dict' or 'model' (top-level keys: ", keys, ")");
    }
    RawEntry e;
    e.name = k->s;
    e.storage = v->tensor->storage;
    e.offset = v->tensor->offset;
    e.shape = v->tensor->shape;
    e.strides = v->tensor->strides;
    out.push_back(std::move(e));
  }
  return out;
}
}  // namespace detail

/// Parses a torch.save zip archive. `checkpoint_key` picks a nested state dict explicitly.
inline RawWeights parse_torch_zip(std::shared_ptr<const Bytes> file, const std::string& path,
                                  const std::string& checkpoint_key = "", bool verify_crc = true) {
  const std::string what = "load_state_dict: '" + path + "'";
  ZipReader zip(file->data(), file->size(), what, verify_crc);
  TL_CHECK(!zip.entries().empty(), what, ": empty zip archive");
  const std::string& first = zip.entries()[0].name;
  auto slash = first.find('/');
  TL_CHECK(slash != std::string::npos, what, ": zip entry '", first, "' is not inside a top folder (not a torch.save file)");
  const std::string prefix = first.substr(0, slash + 1);
  TL_CHECK(!zip.find(prefix + "constants.pkl"), what,
           ": this is a TorchScript archive (torch.jit.save), not a state dict; in Python, save "
           "torch.jit.load(path).state_dict() with torch.save");
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    std::string order(reinterpret_cast<const char*>(zip.data(*bo)), static_cast<size_t>(std::min<uint64_t>(bo->size, 16)));
    TL_CHECK(order == "little", what, ": byteorder '", order, "' is not supported (only little-endian)");
  }
  const ZipEntry* pkl = zip.find(prefix + "data.pkl");
  TL_CHECK(pkl != nullptr, what, ": no '", prefix, "data.pkl' entry (not a torch.save archive)");

  detail::StorageTable table{what, {}};
  ByteCursor cur(zip.data(*pkl), static_cast<size_t>(pkl->size), what + ": data.pkl");
  pickle::Unpickler u(cur, [&](pickle::Unpickler& up, pickle::Obj* pid) {
    auto st = table.from_pid(up, pid, 5);
    if (!st->data) {
      const ZipEntry* e = zip.find(prefix + "data/" + st->key);
      TL_CHECK(e != nullptr, what, ": storage '", st->key, "' has no entry '", prefix, "data/", st->key, "'");
      TL_CHECK(static_cast<uint64_t>(st->numel * elem_size(st->type)) == e->size, what, ": storage '", st->key,
               "' of ", st->numel, " ", torch_name(st->type), " needs ", st->numel * elem_size(st->type),
               " bytes but its entry has ", e->size);
      st->data = zip.data(*e);
    }
    return detail::storage_obj(up, st);
  });
  pickle::Obj* root = u.load();
  RawWeights raw;
  raw.format = Format::TorchZip;
  raw.path = path;
  raw.file = file;
  raw.entries = detail::select_state_dict(root, what, checkpoint_key);
  return raw;
}

/// Parses a legacy (pre-1.6) torch.save file: pickled magic, protocol, sys_info, the object, the
/// storage keys; then per key an int64 element count and the raw bytes.
inline RawWeights parse_torch_legacy(std::shared_ptr<const Bytes> file, const std::string& path,
                                     const std::string& checkpoint_key = "") {
  const std::string what = "load_state_dict: '" + path + "'";
  using pickle::Kind;
  ByteCursor cur(file->data(), file->size(), what);
  detail::StorageTable table{what, {}};
  struct View { std::shared_ptr<RawStorage> view, base; int64_t offset; };
  std::vector<View> views;
  pickle::Unpickler u(cur, [&](pickle::Unpickler& up, pickle::Obj* pid) {
    auto st = table.from_pid(up, pid, 6);
    const pickle::Obj* vm = pid->items[5];
    if (vm->kind == Kind::None) return detail::storage_obj(up, st);
    // (view_key, offset, size): a slice of the storage, from very old torch versions.
    TL_CHECK(vm->kind == Kind::Tuple && vm->items.size() == 3 && vm->items[0]->kind == Kind::Str &&
                 vm->items[1]->kind == Kind::Int && vm->items[2]->kind == Kind::Int,
             what, ": malformed storage view metadata");
    int64_t off = vm->items[1]->i, size = vm->items[2]->i;
    TL_CHECK(off >= 0 && size >= 0 && off <= st->numel && size <= st->numel - off, what, ": storage view [", off,
             ", +", size, ") is outside storage '", st->key, "' of ", st->numel, " elements");
    TL_CHECK(!st->base, what, ": storage '", st->key, "' is itself a view");
    auto& v = table.by_key[vm->items[0]->s];
    if (!v) {
      v = std::make_shared<RawStorage>(RawStorage{vm->items[0]->s, st->type, size, nullptr, st, off});
      views.push_back({v, st, off});
    }
    TL_CHECK(v->base == st && v->base_offset == off && v->numel == size, what, ": storage view '", v->key,
             "' is declared twice differently");
    return detail::storage_obj(up, v);
  });
  pickle::Obj* magic = u.load();
  TL_CHECK(magic->kind == Kind::BigInt &&
               magic->s == std::string(reinterpret_cast<const char*>(kLegacyPthPrefix) + 4, 10),
           what, ": bad magic number (not a legacy torch.save file)");
  pickle::Obj* proto = u.load();
  TL_CHECK(proto->kind == Kind::Int && proto->i == 1001, what, ": unsupported legacy protocol version");
  pickle::Obj* sys_info = u.load();
  TL_CHECK(sys_info->kind == Kind::Dict, what, ": malformed sys_info");
  for (const auto& [k, v] : sys_info->dict->items)
    if (k->kind == Kind::Str && k->s == "little_endian")
      TL_CHECK(v->kind == Kind::Bool && v->b, what, ": big-endian legacy files are not supported");
  pickle::Obj* root = u.load();
  pickle::Obj* keys = u.load();
  TL_CHECK(keys->kind == Kind::List, what, ": malformed storage key list");
  std::unordered_set<std::string> seen;
  for (const pickle::Obj* k : keys->items) {
    TL_CHECK(k->kind == Kind::Str, what, ": malformed storage key list");
    auto it = table.by_key.find(k->s);
    TL_CHECK(it != table.by_key.end(), what, ": storage key '", k->s, "' is not used by the pickle");
    TL_CHECK(seen.insert(k->s).second, what, ": storage key '", k->s, "' is listed twice");
    RawStorage& st = *it->second;
    int64_t count = static_cast<int64_t>(cur.le<uint64_t>("storage element count"));
    TL_CHECK(count == st.numel, what, ": storage '", k->s, "' has ", count, " elements in the file, ", st.numel,
             " in its persistent id");
    st.data = cur.take(static_cast<size_t>(st.numel * elem_size(st.type)), "storage data");
  }
  for (auto& v : views) {
    TL_CHECK(v.base->data != nullptr, what, ": storage '", v.base->key, "' has no data");
    v.view->data = v.base->data + v.offset * elem_size(v.base->type);
  }
  RawWeights raw;
  raw.format = Format::TorchLegacy;
  raw.path = path;
  raw.file = file;
  raw.entries = detail::select_state_dict(root, what, checkpoint_key);
  for (const auto& e : raw.entries)
    TL_CHECK(e.storage->data != nullptr, what, ": storage '", e.storage->key, "' of '", e.name,
             "' has no data record (truncated file?)");
  return raw;
}

namespace detail {
/// Writes the pickle (protocol 2) of an OrderedDict of tensors, as torch.save would.
class PickleWriter {
 public:
  std::vector<uint8_t> out;
  void op(uint8_t c) { out.push_back(c); }
  void global(const std::string& module, const std::string& name) {
    op('c');
    out.insert(out.end(), module.begin(), module.end());
    op('\n');
    out.insert(out.end(), name.begin(), name.end());
    op('\n');
  }
  void str(const std::string& s) {
    op('X');
    put(static_cast<uint64_t>(s.size()), 4);
    out.insert(out.end(), s.begin(), s.end());
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) { op('K'); put(static_cast<uint64_t>(v), 1); }
    else if (v >= 0 && v < 65536) { op('M'); put(static_cast<uint64_t>(v), 2); }
    else if (v >= INT32_MIN && v <= INT32_MAX) { op('J'); put(static_cast<uint64_t>(v), 4); }
    else { op(0x8a); op(8); put(static_cast<uint64_t>(v), 8); }
  }
  void int_tuple(const Shape& s) {
    if (s.empty()) { op(')'); return; }
    op('(');
    for (int64_t d : s) integer(d);
    op('t');
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }

 private:
  void put(uint64_t v, int n) {
    for (int k = 0; k < n; ++k) out.push_back(static_cast<uint8_t>(v >> (8 * k)));
  }
};
}  // namespace detail

/// Writes `sd` as a torch.save zip archive (loadable by torch.load(path, weights_only=True)):
/// float -> FloatStorage, double -> DoubleStorage, integer entries -> LongStorage. Written atomically.
template <class T>
void save_pth(const std::string& path, const StateDict<T>& sd) {
  detail::PickleWriter p;
  p.op(0x80);
  p.op(2);
  p.empty_ordered_dict();
  std::vector<Bytes> storages;
  if (!sd.empty()) p.op('(');
  for (const auto& e : sd) {
    TL_CHECK(e.tensor.defined(), "save_pth: '", path, "': tensor '", e.name, "' is undefined");
    ElemType type = e.integer ? ElemType::I64 : detail::elem_type_of<T>();
    p.str(e.name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    p.op('(');  // persistent id ('storage', torch.XStorage, key, 'cpu', numel)
    p.str("storage");
    p.global("torch", type == ElemType::I64 ? "LongStorage" : type == ElemType::F64 ? "DoubleStorage" : "FloatStorage");
    p.str(std::to_string(storages.size()));
    p.str("cpu");
    p.integer(e.tensor.numel());
    p.op('t');
    p.op('Q');
    p.integer(0);
    p.int_tuple(e.tensor.shape());
    p.int_tuple(contiguous_strides(e.tensor.shape()));
    p.op(0x89);  // requires_grad False
    p.empty_ordered_dict();
    p.op('t');
    p.op('R');
    storages.emplace_back();
    detail::append_entry_bytes<T>(e, storages.back());
  }
  if (!sd.empty()) p.op('u');
  p.op('.');
  write_file_atomic(path, "save_pth", [&](std::FILE* f) {
    ZipWriter zip(f, "save_pth");
    auto add = [&](const std::string& name, const std::string& s) {
      zip.add("archive/" + name, reinterpret_cast<const uint8_t*>(s.data()), s.size());
    };
    zip.add("archive/data.pkl", p.out.data(), p.out.size());
    add("byteorder", "little");
    for (size_t k = 0; k < storages.size(); ++k)
      zip.add("archive/data/" + std::to_string(k), storages[k].data(), storages[k].size());
    add("version", "3\n");
    zip.finish();
  });
}

}  // namespace tl::io
