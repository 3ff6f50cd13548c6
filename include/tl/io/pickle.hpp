#pragma once
// A restricted unpickler for PyTorch state dicts (and checkpoints holding them).
//
// Nothing in the pickle is executed: opcodes are interpreted by tl, and the only "callables" are a
// whitelist of globals whose effect tl implements itself (OrderedDict(), torch's tensor rebuild
// functions, torch.Size, _codecs.encode). Any other global (os.system, builtins.eval, ...) throws
// tl::Error naming it. Objects live in an arena and refer to each other by raw pointer, so deep
// nesting or cycles cannot overflow the stack on destruction, and a work budget proportional to
// the pickle's size bounds the time spent on hostile input.
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tl/core/error.hpp"
#include "tl/core/shape.hpp"
#include "tl/io/element_type.hpp"
#include "tl/io/file_bytes.hpp"
#include "tl/io/raw_weights.hpp"

namespace tl::io::pickle {

enum class Kind { None, Bool, Int, BigInt, Float, Str, Bytes, List, Tuple, Dict, Global, Storage, Tensor };

inline const char* kind_name(Kind k) {
  constexpr const char* n[] = {"None", "bool", "int", "int (big)", "float", "str", "bytes", "list",
                               "tuple", "dict", "global", "storage", "tensor"};
  return n[static_cast<int>(k)];
}

/// The globals tl understands. Everything else is refused.
enum class GlobalId {
  OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState, RebuildFromTypeV2,
  TorchSize, TorchTensor, TorchParameter, StorageType, Dtype, CodecsEncode
};

struct Obj;
struct DictData {
  std::vector<std::pair<Obj*, Obj*>> items;     // insertion order, like Python dicts
  std::unordered_map<std::string, size_t> index;  // canonical key -> position
};
struct TensorData {
  std::shared_ptr<RawStorage> storage;
  int64_t offset = 0;
  Shape shape, strides;
};

struct Obj {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str, Bytes, BigInt (little-endian two's complement), Global ("module.name")
  GlobalId gid = GlobalId::OrderedDict;
  ElemType etype = ElemType::F32;  // Global StorageType
  std::vector<Obj*> items;         // List, Tuple
  std::unique_ptr<DictData> dict;
  std::unique_ptr<TensorData> tensor;
  std::shared_ptr<RawStorage> storage;  // Storage
};

/// Looks up an allowed global; false if not allowed.
inline bool lookup_global(const std::string& module, const std::string& name, GlobalId& id, ElemType& et) {
  const std::string full = module + "." + name;
  static const std::unordered_map<std::string, GlobalId> fixed = {
      {"collections.OrderedDict", GlobalId::OrderedDict},
      {"torch._utils._rebuild_tensor_v2", GlobalId::RebuildTensorV2},
      {"torch._utils._rebuild_tensor", GlobalId::RebuildTensor},
      {"torch._utils._rebuild_parameter", GlobalId::RebuildParameter},
      {"torch._utils._rebuild_parameter_with_state", GlobalId::RebuildParameterWithState},
      {"torch._tensor._rebuild_from_type_v2", GlobalId::RebuildFromTypeV2},
      {"torch.Size", GlobalId::TorchSize},
      {"torch.Tensor", GlobalId::TorchTensor},
      {"torch.nn.parameter.Parameter", GlobalId::TorchParameter},
      {"_codecs.encode", GlobalId::CodecsEncode},
      {"torch.float32", GlobalId::Dtype}, {"torch.float64", GlobalId::Dtype}, {"torch.float16", GlobalId::Dtype},
      {"torch.bfloat16", GlobalId::Dtype}, {"torch.int64", GlobalId::Dtype}, {"torch.int32", GlobalId::Dtype},
      {"torch.int16", GlobalId::Dtype}, {"torch.int8", GlobalId::Dtype}, {"torch.uint8", GlobalId::Dtype},
      {"torch.bool", GlobalId::Dtype},
  };
  if (auto it = fixed.find(full); it != fixed.end()) {
    id = it->second;
    return true;
  }
  static const std::unordered_map<std::string, ElemType> storages = {
      {"FloatStorage", ElemType::F32}, {"DoubleStorage", ElemType::F64}, {"HalfStorage", ElemType::F16},
      {"BFloat16Storage", ElemType::BF16}, {"LongStorage", ElemType::I64}, {"IntStorage", ElemType::I32},
      {"ShortStorage", ElemType::I16}, {"CharStorage", ElemType::I8}, {"ByteStorage", ElemType::U8},
      {"BoolStorage", ElemType::Bool}, {"UntypedStorage", ElemType::U8}};
  if (module == "torch" || module == "torch.cuda") {  // CUDA storages load on the CPU
    if (auto it = storages.find(name); it != storages.end()) {
      id = GlobalId::StorageType;
      et = it->second;
      return true;
    }
  }
  return false;
}

class Unpickler {
 public:
  /// Turns a persistent id (a tuple) into a Storage object; supplied by the container format.
  using PersistentLoad = std::function<Obj*(Unpickler&, Obj* pid)>;

  Unpickler(ByteCursor& in, PersistentLoad pl) : in_(in), persistent_load_(std::move(pl)) {
    budget_ = 64 * static_cast<int64_t>(in.size()) + 10'000'000;
  }

  /// Reads one pickle starting at the cursor (the legacy format stores several back to back).
  Obj* load() {
    stack_.clear();
    marks_.clear();
    memo_.clear();
    while (true) {
      size_t at = in_.pos();
      uint8_t op = in_.u8("pickle opcode");
      if (op == '.') {  // STOP
        TL_CHECK(stack_.size() == 1 && marks_.empty(), in_.what(), ": malformed pickle: STOP at offset ", at,
                 " with ", stack_.size(), " objects on the stack");
        return stack_.back();
      }
      step(op, at);
    }
  }

  Obj* make(Kind k) {
    charge(1);
    TL_CHECK(arena_.size() < kMaxObjects, in_.what(), ": pickle creates more than ", kMaxObjects, " objects");
    arena_.emplace_back();
    arena_.back().kind = k;
    return &arena_.back();
  }
  template <class... A>
  [[noreturn]] void fail(const A&... a) const {
    tl::detail::fail(in_.what(), ": ", a...);
  }
  /// Charges `n` units of work against the budget (about 64 per pickle byte).
  void charge(int64_t n) {
    work_ += n;
    TL_CHECK(work_ <= budget_, in_.what(), ": pickle needs too much work for its size (hostile file?)");
  }

  static constexpr size_t kMaxObjects = 50'000'000;

 private:
  Obj* pop(const char* op) {
    TL_CHECK(!stack_.empty() && (marks_.empty() || stack_.size() > marks_.back()), in_.what(),
             ": malformed pickle: ", op, " on an empty stack");
    Obj* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Obj* top(const char* op) {
    TL_CHECK(!stack_.empty() && (marks_.empty() || stack_.size() > marks_.back()), in_.what(),
             ": malformed pickle: ", op, " on an empty stack");
    return stack_.back();
  }
  /// Pops everything above the last MARK.
  std::vector<Obj*> pop_mark(const char* op) {
    TL_CHECK(!marks_.empty(), in_.what(), ": malformed pickle: ", op, " without MARK");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Obj*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    charge(static_cast<int64_t>(items.size()));
    return items;
  }
  size_t length(uint64_t n, const char* item) {
    in_.need(n, item);  // a length can never exceed the bytes that follow
    return static_cast<size_t>(n);
  }
  std::string text(size_t n, const char* item) {
    const uint8_t* p = in_.take(n, item);
    charge(static_cast<int64_t>(n) / 64);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string line(const char* item) {
    std::string s;
    while (true) {
      uint8_t c = in_.u8(item);
      if (c == '\n') return s;
      TL_CHECK(s.size() < 1024, in_.what(), ": malformed pickle: ", item, " longer than 1024 bytes");
      s += static_cast<char>(c);
    }
  }
  Obj* str(Kind k, std::string s) {
    Obj* o = make(k);
    o->s = std::move(s);
    return o;
  }
  Obj* integer(int64_t v) {
    Obj* o = make(Kind::Int);
    o->i = v;
    return o;
  }
  Obj* long_bytes(size_t n) {
    const uint8_t* p = in_.take(n, "LONG");
    if (n <= 8) {
      uint64_t u = 0;
      for (size_t k = 0; k < n; ++k) u |= static_cast<uint64_t>(p[k]) << (8 * k);
      if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t(0) << (8 * n);  // sign-extend
      return integer(static_cast<int64_t>(u));
    }
    return str(Kind::BigInt, std::string(reinterpret_cast<const char*>(p), n));
  }
  Obj* tuple(std::vector<Obj*> items) {
    Obj* o = make(Kind::Tuple);
    o->items = std::move(items);
    return o;
  }
  Obj* global(const std::string& module, const std::string& name) {
    GlobalId id;
    ElemType et = ElemType::F32;
    if (!lookup_global(module, name, id, et))
      fail("unsafe or unsupported pickle: global '", module, ".", name,
           "' is not allowed (tl loads only state dicts: tensors, storages, OrderedDict, numbers, strings, lists, "
           "tuples, dicts)");
    Obj* o = make(Kind::Global);
    o->s = module + "." + name;
    o->gid = id;
    o->etype = et;
    return o;
  }

  /// Canonical string of a hashable key (for dict lookups).
  std::string key_of(const Obj* k, int depth = 0) {
    TL_CHECK(depth < 8, in_.what(), ": dict key nested too deeply");
    std::string r;
    auto put = [&](char tag, std::string_view v) {
      charge(static_cast<int64_t>(v.size()) / 16 + 1);
      r += tag;
      r += std::to_string(v.size());
      r += ':';
      r += v;
    };
    switch (k->kind) {
      case Kind::None: put('N', ""); break;
      case Kind::Bool: put('i', k->b ? "1" : "0"); break;  // True == 1 in Python
      case Kind::Int: put('i', std::to_string(k->i)); break;
      case Kind::BigInt: put('I', k->s); break;
      case Kind::Float: {
        char buf[8];
        std::memcpy(buf, &k->f, 8);
        put('f', std::string_view(buf, 8));
        break;
      }
      case Kind::Str: put('s', k->s); break;
      case Kind::Bytes: put('y', k->s); break;
      case Kind::Global: put('g', k->s); break;
      case Kind::Tuple: {
        TL_CHECK(k->items.size() <= 64, in_.what(), ": dict key tuple with more than 64 items");
        std::string inner;
        for (const Obj* x : k->items) inner += key_of(x, depth + 1);
        put('t', inner);
        break;
      }
      default: fail("malformed pickle: unhashable dict key of type ", kind_name(k->kind));
    }
    return r;
  }
  void set_item(Obj* d, Obj* k, Obj* v) {
    TL_CHECK(d->kind == Kind::Dict, in_.what(), ": malformed pickle: SETITEM on a ", kind_name(d->kind));
    std::string key = key_of(k);
    auto [it, fresh] = d->dict->index.emplace(std::move(key), d->dict->items.size());
    if (fresh) d->dict->items.emplace_back(k, v);
    else d->dict->items[it->second].second = v;
  }
  Obj* new_dict() {
    Obj* o = make(Kind::Dict);
    o->dict = std::make_unique<DictData>();
    return o;
  }

  int64_t as_int(const Obj* o, const char* what) {
    if (o->kind == Kind::Int) return o->i;
    if (o->kind == Kind::Bool) return o->b;
    fail("malformed tensor: ", what, " is ", kind_name(o->kind), ", expected an int");
  }
  Shape as_shape(const Obj* o, const char* what) {
    TL_CHECK(o->kind == Kind::Tuple || o->kind == Kind::List, in_.what(), ": malformed tensor: ", what, " is ",
             kind_name(o->kind), ", expected a tuple of ints");
    TL_CHECK(o->items.size() <= 64, in_.what(), ": malformed tensor: ", what, " has more than 64 dimensions");
    Shape s;
    for (const Obj* x : o->items) s.push_back(as_int(x, what));
    charge(static_cast<int64_t>(s.size()));
    return s;
  }
  Obj* rebuild_tensor(const std::vector<Obj*>& a, const char* fn) {
    TL_CHECK(a.size() >= 4, in_.what(), ": malformed pickle: ", fn, " needs at least 4 arguments, got ", a.size());
    TL_CHECK(a[0]->kind == Kind::Storage, in_.what(), ": malformed tensor: ", fn, " expects a storage, got ",
             kind_name(a[0]->kind));
    auto td = std::make_unique<TensorData>();
    td->storage = a[0]->storage;
    td->offset = as_int(a[1], "storage offset");
    td->shape = as_shape(a[2], "size");
    td->strides = as_shape(a[3], "stride");
    std::string bad = detail::check_view(td->offset, td->shape, td->strides, td->storage->numel);
    TL_CHECK(bad.empty(), in_.what(), ": malformed tensor on storage '", td->storage->key, "': ", bad);
    Obj* o = make(Kind::Tensor);
    o->tensor = std::move(td);
    return o;
  }
  /// The effect of calling an allowed global (REDUCE / NEWOBJ), implemented by tl.
  Obj* call(Obj* fn, Obj* args, int depth = 0) {
    TL_CHECK(fn->kind == Kind::Global, in_.what(), ": malformed pickle: calling a ", kind_name(fn->kind));
    TL_CHECK(args->kind == Kind::Tuple, in_.what(), ": malformed pickle: arguments of ", fn->s, " are a ",
             kind_name(args->kind), ", not a tuple");
    const auto& a = args->items;
    switch (fn->gid) {
      case GlobalId::OrderedDict:
        TL_CHECK(a.empty(), in_.what(), ": unsupported pickle: OrderedDict called with arguments");
        return new_dict();
      case GlobalId::RebuildTensorV2:
      case GlobalId::RebuildTensor: return rebuild_tensor(a, fn->s.c_str());
      case GlobalId::RebuildParameter:
      case GlobalId::RebuildParameterWithState:
        TL_CHECK(a.size() >= 1 && a[0]->kind == Kind::Tensor, in_.what(), ": malformed pickle: ", fn->s,
                 " expects a tensor");
        return a[0];
      case GlobalId::RebuildFromTypeV2:
        TL_CHECK(depth == 0 && a.size() == 4 && a[0]->kind == Kind::Global && a[1]->kind == Kind::Global &&
                     (a[1]->gid == GlobalId::TorchTensor || a[1]->gid == GlobalId::TorchParameter),
                 in_.what(), ": unsupported pickle: _rebuild_from_type_v2 of a tensor subclass");
        return call(a[0], a[2], depth + 1);
      case GlobalId::TorchSize:
        TL_CHECK(a.size() == 1 && a[0]->kind == Kind::Tuple, in_.what(), ": malformed pickle: torch.Size expects a tuple");
        return a[0];
      case GlobalId::CodecsEncode: {
        TL_CHECK(a.size() == 2 && a[0]->kind == Kind::Str && a[1]->kind == Kind::Str && a[1]->s == "latin1",
                 in_.what(), ": unsupported pickle: _codecs.encode other than (str, 'latin1')");
        std::string out;  // UTF-8 code points < 256 -> bytes
        const std::string& s = a[0]->s;
        for (size_t k = 0; k < s.size(); ++k) {
          auto c = static_cast<unsigned char>(s[k]);
          if (c < 0x80) out += static_cast<char>(c);
          else if ((c == 0xC2 || c == 0xC3) && k + 1 < s.size()) out += static_cast<char>(((c & 3) << 6) | (s[++k] & 0x3F));
          else fail("malformed pickle: _codecs.encode of a non-latin1 string");
        }
        return str(Kind::Bytes, std::move(out));
      }
      default: fail("unsafe or unsupported pickle: calling '", fn->s, "' is not allowed");
    }
  }

  void step(uint8_t op, size_t at) {
    switch (op) {
      case 0x80: {  // PROTO
        uint8_t v = in_.u8("PROTO");
        TL_CHECK(v <= 5, in_.what(), ": unsupported pickle protocol ", int(v));
        return;
      }
      case 0x95: length(in_.le<uint64_t>("FRAME"), "FRAME"); return;  // frames are just hints
      case '(': marks_.push_back(stack_.size()); return;                // MARK
      case '0': pop("POP"); return;
      case '1': pop_mark("POP_MARK"); return;
      case '2': stack_.push_back(top("DUP")); return;
      case 'N': stack_.push_back(make(Kind::None)); return;
      case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
        Obj* o = make(Kind::Bool);
        o->b = op == 0x88;
        stack_.push_back(o);
        return;
      }
      case 'J': stack_.push_back(integer(static_cast<int32_t>(in_.le<uint32_t>("BININT")))); return;
      case 'K': stack_.push_back(integer(in_.u8("BININT1"))); return;
      case 'M': stack_.push_back(integer(in_.le<uint16_t>("BININT2"))); return;
      case 0x8a: stack_.push_back(long_bytes(in_.u8("LONG1"))); return;
      case 0x8b: {  // LONG4
        int32_t n = static_cast<int32_t>(in_.le<uint32_t>("LONG4"));
        TL_CHECK(n >= 0, in_.what(), ": malformed pickle: negative LONG4 length");
        stack_.push_back(long_bytes(length(static_cast<uint64_t>(n), "LONG4")));
        return;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const uint8_t* p = in_.take(8, "BINFLOAT");
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
        Obj* o = make(Kind::Float);
        std::memcpy(&o->f, &u, 8);
        stack_.push_back(o);
        return;
      }
      case 'X': stack_.push_back(str(Kind::Str, text(length(in_.le<uint32_t>("BINUNICODE"), "BINUNICODE"), "BINUNICODE"))); return;
      case 0x8c: stack_.push_back(str(Kind::Str, text(in_.u8("SHORT_BINUNICODE"), "SHORT_BINUNICODE"))); return;
      case 0x8d: stack_.push_back(str(Kind::Str, text(length(in_.le<uint64_t>("BINUNICODE8"), "BINUNICODE8"), "BINUNICODE8"))); return;
      case 'U': stack_.push_back(str(Kind::Str, text(in_.u8("SHORT_BINSTRING"), "SHORT_BINSTRING"))); return;
      case 'T': {  // BINSTRING (Python 2 str)
        int32_t n = static_cast<int32_t>(in_.le<uint32_t>("BINSTRING"));
        TL_CHECK(n >= 0, in_.what(), ": malformed pickle: negative BINSTRING length");
        stack_.push_back(str(Kind::Str, text(length(static_cast<uint64_t>(n), "BINSTRING"), "BINSTRING")));
        return;
      }
      case 'C': stack_.push_back(str(Kind::Bytes, text(in_.u8("SHORT_BINBYTES"), "SHORT_BINBYTES"))); return;
      case 'B': stack_.push_back(str(Kind::Bytes, text(length(in_.le<uint32_t>("BINBYTES"), "BINBYTES"), "BINBYTES"))); return;
      case 0x8e: stack_.push_back(str(Kind::Bytes, text(length(in_.le<uint64_t>("BINBYTES8"), "BINBYTES8"), "BINBYTES8"))); return;
      case ')': stack_.push_back(tuple({})); return;
      case 't': stack_.push_back(tuple(pop_mark("TUPLE"))); return;
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        size_t n = op - 0x84u;
        std::vector<Obj*> items(n);
        for (size_t k = n; k-- > 0;) items[k] = pop("TUPLEn");
        stack_.push_back(tuple(std::move(items)));
        return;
      }
      case ']': stack_.push_back(make(Kind::List)); return;
      case 'l': {
        Obj* o = make(Kind::List);
        o->items = pop_mark("LIST");
        stack_.push_back(o);
        return;
      }
      case 'a': case 'e': {  // APPEND, APPENDS
        std::vector<Obj*> items = op == 'a' ? std::vector<Obj*>{pop("APPEND")} : pop_mark("APPENDS");
        Obj* l = top("APPEND");
        TL_CHECK(l->kind == Kind::List, in_.what(), ": malformed pickle: APPEND to a ", kind_name(l->kind));
        l->items.insert(l->items.end(), items.begin(), items.end());
        return;
      }
      case '}': stack_.push_back(new_dict()); return;
      case 'd': {
        auto items = pop_mark("DICT");
        TL_CHECK(items.size() % 2 == 0, in_.what(), ": malformed pickle: DICT with an odd number of items");
        Obj* d = new_dict();
        for (size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
        stack_.push_back(d);
        return;
      }
      case 's': {
        Obj* v = pop("SETITEM");
        Obj* k = pop("SETITEM");
        set_item(top("SETITEM"), k, v);
        return;
      }
      case 'u': {
        auto items = pop_mark("SETITEMS");
        TL_CHECK(items.size() % 2 == 0, in_.what(), ": malformed pickle: SETITEMS with an odd number of items");
        Obj* d = top("SETITEMS");
        for (size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
        return;
      }
      case 'c': {  // GLOBAL
        std::string module = line("GLOBAL module");
        std::string name = line("GLOBAL name");
        stack_.push_back(global(module, name));
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        Obj* name = pop("STACK_GLOBAL");
        Obj* module = pop("STACK_GLOBAL");
        TL_CHECK(name->kind == Kind::Str && module->kind == Kind::Str, in_.what(),
                 ": malformed pickle: STACK_GLOBAL needs two strings");
        stack_.push_back(global(module->s, name->s));
        return;
      }
      case 'R': case 0x81: {  // REDUCE, NEWOBJ
        Obj* args = pop("REDUCE");
        Obj* fn = pop("REDUCE");
        stack_.push_back(call(fn, args));
        return;
      }
      case 'b': {  // BUILD: sets attributes (OrderedDict._metadata, tensor state): nothing tl needs
        pop("BUILD");
        Obj* o = top("BUILD");
        TL_CHECK(o->kind == Kind::Dict || o->kind == Kind::Tensor, in_.what(), ": unsupported pickle: BUILD on a ",
                 kind_name(o->kind));
        return;
      }
      case 'Q': {  // BINPERSID
        Obj* pid = pop("BINPERSID");
        TL_CHECK(persistent_load_ != nullptr, in_.what(), ": malformed pickle: unexpected persistent id");
        Obj* s = persistent_load_(*this, pid);
        stack_.push_back(s);
        return;
      }
      case 'h': stack_.push_back(memo_get(in_.u8("BINGET"))); return;
      case 'j': stack_.push_back(memo_get(in_.le<uint32_t>("LONG_BINGET"))); return;
      case 'q': memo_[in_.u8("BINPUT")] = top("BINPUT"); return;
      case 'r': memo_[in_.le<uint32_t>("LONG_BINPUT")] = top("LONG_BINPUT"); return;
      case 0x94: {  // MEMOIZE
        Obj* o = top("MEMOIZE");
        memo_[static_cast<uint32_t>(memo_.size())] = o;
        return;
      }
      default: {
        static const char* hex = "0123456789abcdef";
        std::string h = {hex[op >> 4], hex[op & 15]};
        fail("unsupported pickle opcode 0x", h, " at offset ", at);
      }
    }
  }
  Obj* memo_get(uint32_t k) {
    auto it = memo_.find(k);
    TL_CHECK(it != memo_.end(), in_.what(), ": malformed pickle: memo index ", k, " was never stored");
    return it->second;
  }

  ByteCursor& in_;
  PersistentLoad persistent_load_;
  std::deque<Obj> arena_;
  std::vector<Obj*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Obj*> memo_;
  int64_t work_ = 0, budget_ = 0;
};

}  // namespace tl::io::pickle
