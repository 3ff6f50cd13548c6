#pragma once
// A small strict JSON parser for safetensors headers (no dependency): objects (member order kept,
// duplicate keys rejected), arrays, strings (escapes, UTF-8 validated), integers (int64, overflow
// checked; fractions/exponents rejected: safetensors headers hold none), true/false/null.
// Nesting is limited so hostile input cannot exhaust the stack.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tl/core/error.hpp"

namespace tl::io {

struct JsonMember;

struct JsonValue {
  enum class Kind { Null, Bool, Int, String, Array, Object } kind = Kind::Null;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<JsonValue> items;                             // Array
  std::vector<JsonMember> members;  // Object, in file order

  /// The member named `key` of an object, or null.
  const JsonValue* find(std::string_view key) const;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

inline const JsonValue* JsonValue::find(std::string_view key) const {
  for (const auto& m : members)
    if (m.key == key) return &m.value;
  return nullptr;
}

inline const char* json_kind_name(JsonValue::Kind k) {
  constexpr const char* names[] = {"null", "a boolean", "an integer", "a string", "an array", "an object"};
  return names[static_cast<int>(k)];
}

class JsonParser {
 public:
  static constexpr int kMaxDepth = 64;
  /// `what` prefixes error messages (e.g. "load_safetensors: 'x.safetensors': header").
  JsonParser(std::string_view text, std::string what) : t_(text), what_(std::move(what)) {}

  JsonValue parse() {
    ws();
    JsonValue v = value(0);
    ws();
    if (p_ != t_.size()) err("unexpected '", printable(t_[p_]), "' after the JSON value");
    return v;
  }

 private:
  template <class... A>
  [[noreturn]] void err(const A&... a) const {
    tl::detail::fail(what_, ": invalid JSON at byte ", p_, ": ", a...);
  }
  static std::string printable(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    static const char* hex = "0123456789abcdef";
    return std::string("\\x") + hex[u >> 4] + hex[u & 15];
  }
  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r')) ++p_;
  }
  char peek() {
    if (p_ >= t_.size()) err("unexpected end of input");
    return t_[p_];
  }
  void expect(char c) {
    if (peek() != c) err("expected '", c, "', found '", printable(t_[p_]), "'");
    ++p_;
  }
  void literal(std::string_view w) {
    if (t_.substr(p_, w.size()) != w) err("invalid literal (expected '", w, "')");
    p_ += w.size();
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) err("nesting deeper than ", kMaxDepth);
    JsonValue v;
    char c = peek();
    if (c == '{') {
      v.kind = JsonValue::Kind::Object;
      ++p_;
      ws();
      std::unordered_set<std::string> seen;
      if (peek() == '}') { ++p_; return v; }
      while (true) {
        ws();
        if (peek() != '"') err("expected a string key");
        std::string k = string();
        if (!seen.insert(k).second) err("duplicate key \"", k, "\"");
        ws();
        expect(':');
        ws();
        JsonValue member = value(depth + 1);
        v.members.push_back(JsonMember{std::move(k), std::move(member)});
        ws();
        if (peek() == ',') { ++p_; continue; }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.kind = JsonValue::Kind::Array;
      ++p_;
      ws();
      if (peek() == ']') { ++p_; return v; }
      while (true) {
        ws();
        v.items.push_back(value(depth + 1));
        ws();
        if (peek() == ',') { ++p_; continue; }
        expect(']');
        return v;
      }
    }
    if (c == '"') { v.kind = JsonValue::Kind::String; v.s = string(); return v; }
    if (c == 't') { literal("true"); v.kind = JsonValue::Kind::Bool; v.b = true; return v; }
    if (c == 'f') { literal("false"); v.kind = JsonValue::Kind::Bool; return v; }
    if (c == 'n') { literal("null"); return v; }
    if (c == '-' || (c >= '0' && c <= '9')) { v.kind = JsonValue::Kind::Int; v.i = integer(); return v; }
    err("unexpected '", printable(c), "'");
  }

  int64_t integer() {
    bool neg = false;
    if (t_[p_] == '-') { neg = true; ++p_; }
    if (p_ >= t_.size() || t_[p_] < '0' || t_[p_] > '9') err("expected a digit");
    if (t_[p_] == '0' && p_ + 1 < t_.size() && t_[p_ + 1] >= '0' && t_[p_ + 1] <= '9') err("leading zero in a number");
    // Accumulate negatively so INT64_MIN parses.
    int64_t v = 0;
    while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') {
      int d = t_[p_] - '0';
      if (v < (INT64_MIN + d) / 10) err("integer out of the int64 range");
      v = v * 10 - d;
      ++p_;
    }
    if (p_ < t_.size() && (t_[p_] == '.' || t_[p_] == 'e' || t_[p_] == 'E')) err("non-integer number");
    if (!neg) {
      if (v == INT64_MIN) err("integer out of the int64 range");
      v = -v;
    }
    return v;
  }

  unsigned hex4() {
    if (p_ + 4 > t_.size()) err("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = t_[p_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else err("bad hex digit in \\u escape");
    }
    return v;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  // Validates one UTF-8 sequence starting at p_ (a byte >= 0x80) and copies it.
  void utf8_char(std::string& out) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(t_[p_ + k]); };
    unsigned c0 = b(0), n, cp;
    if (c0 >= 0xC2 && c0 <= 0xDF) { n = 2; cp = c0 & 0x1F; }
    else if (c0 >= 0xE0 && c0 <= 0xEF) { n = 3; cp = c0 & 0x0F; }
    else if (c0 >= 0xF0 && c0 <= 0xF4) { n = 4; cp = c0 & 0x07; }
    else err("invalid UTF-8 in a string");
    if (p_ + n > t_.size()) err("truncated UTF-8 in a string");
    for (unsigned k = 1; k < n; ++k) {
      if ((b(k) & 0xC0) != 0x80) err("invalid UTF-8 in a string");
      cp = (cp << 6) | (b(k) & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      err("invalid UTF-8 in a string");
    out.append(t_.substr(p_, n));
    p_ += n;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (p_ >= t_.size()) err("unterminated string");
      auto c = static_cast<unsigned char>(t_[p_]);
      if (c == '"') { ++p_; return out; }
      if (c < 0x20) err("control character in a string");
      if (c >= 0x80) { utf8_char(out); continue; }
      if (c != '\\') { out += static_cast<char>(c); ++p_; continue; }
      ++p_;
      if (p_ >= t_.size()) err("unterminated string");
      char e = t_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) err("lone low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (p_ + 2 > t_.size() || t_[p_] != '\\' || t_[p_ + 1] != 'u') err("lone high surrogate in \\u escape");
            p_ += 2;
            unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) err("bad low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: err("unknown escape '\\", printable(e), "'");
      }
    }
  }

  std::string_view t_;
  size_t p_ = 0;
  std::string what_;
};

/// `s` as a JSON string literal (quotes included).
inline std::string json_quote(std::string_view s) {
  std::string o = "\"";
  static const char* hex = "0123456789abcdef";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"') o += "\\\"";
    else if (c == '\\') o += "\\\\";
    else if (c == '\n') o += "\\n";
    else if (c == '\r') o += "\\r";
    else if (c == '\t') o += "\\t";
    else if (u < 0x20) { o += "\\u00"; o += hex[u >> 4]; o += hex[u & 15]; }
    else o += c;
  }
  return o + "\"";
}

}  // namespace tl::io
