#pragma once
// Element types found in weight files, and their conversion to tl's T (float/double).
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "tl/core/error.hpp"

namespace tl::io {

static_assert(std::endian::native == std::endian::little,
              "tl::io reads little-endian files by memcpy; a big-endian host needs byte swapping");

/// The on-file element type of a tensor (PyTorch storage type / safetensors dtype).
enum class ElemType { F16, BF16, F32, F64, I8, U8, I16, U16, I32, U32, I64, U64, Bool };

inline int64_t elem_size(ElemType t) {
  switch (t) {
    case ElemType::I8: case ElemType::U8: case ElemType::Bool: return 1;
    case ElemType::F16: case ElemType::BF16: case ElemType::I16: case ElemType::U16: return 2;
    case ElemType::F32: case ElemType::I32: case ElemType::U32: return 4;
    default: return 8;
  }
}

/// Integer (and bool) types mark a StateDict entry `integer` (e.g. num_batches_tracked).
inline bool elem_is_integer(ElemType t) {
  return !(t == ElemType::F16 || t == ElemType::BF16 || t == ElemType::F32 || t == ElemType::F64);
}

/// safetensors spelling ("F32").
inline std::string_view safetensors_name(ElemType t) {
  constexpr std::string_view names[] = {"F16", "BF16", "F32", "F64", "I8",  "U8",  "I16",
                                        "U16", "I32",  "U32", "I64", "U64", "BOOL"};
  return names[static_cast<int>(t)];
}

/// PyTorch spelling ("float32").
inline std::string_view torch_name(ElemType t) {
  constexpr std::string_view names[] = {"float16", "bfloat16", "float32", "float64", "int8",   "uint8", "int16",
                                        "uint16",  "int32",    "uint32",  "int64",   "uint64", "bool"};
  return names[static_cast<int>(t)];
}

/// "F32" -> F32; false for names tl does not convert (F8 variants, complex, ...).
inline bool parse_safetensors_dtype(std::string_view s, ElemType& out) {
  for (int i = 0; i <= static_cast<int>(ElemType::Bool); ++i)
    if (safetensors_name(static_cast<ElemType>(i)) == s) {
      out = static_cast<ElemType>(i);
      return true;
    }
  return false;
}

/// IEEE half -> float, exact (normals, subnormals, inf, nan).
inline float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: value = man * 2^-24, exactly representable in float
    float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(bits);
}

inline float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

/// Converts n little-endian elements of type `t` at `src` (need not be aligned) into dst.
template <class T>
void convert_elements(ElemType t, const uint8_t* src, int64_t n, T* dst) {
  auto run = [&](auto tag) {
    using S = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      S v;
      std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(S)), sizeof(S));
      dst[i] = static_cast<T>(v);
    }
  };
  switch (t) {
    case ElemType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        dst[i] = static_cast<T>(half_to_float(v));
      }
      return;
    case ElemType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        dst[i] = static_cast<T>(bfloat16_to_float(v));
      }
      return;
    case ElemType::F32:
      if constexpr (std::is_same_v<T, float>) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); return; }
      run(float{}); return;
    case ElemType::F64:
      if constexpr (std::is_same_v<T, double>) { std::memcpy(dst, src, static_cast<size_t>(n) * 8); return; }
      run(double{}); return;
    case ElemType::I8: run(int8_t{}); return;
    case ElemType::U8: run(uint8_t{}); return;
    case ElemType::I16: run(int16_t{}); return;
    case ElemType::U16: run(uint16_t{}); return;
    case ElemType::I32: run(int32_t{}); return;
    case ElemType::U32: run(uint32_t{}); return;
    case ElemType::I64: run(int64_t{}); return;
    case ElemType::U64: run(uint64_t{}); return;
    case ElemType::Bool:
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i] ? T(1) : T(0);
      return;
  }
}

/// T value -> int64 for integer entries (counts held in T): rounds, saturating instead of UB.
template <class T>
int64_t to_int64_saturating(T v) {
  if (std::isnan(v)) return 0;
  if (v >= static_cast<T>(9.2233720368547748e18)) return std::numeric_limits<int64_t>::max();
  if (v <= static_cast<T>(-9.2233720368547758e18)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::llround(v));
}

}  // namespace tl::io
