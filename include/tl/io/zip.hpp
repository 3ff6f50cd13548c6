#pragma once
// A minimal ZIP reader and writer for PyTorch archives: STORED (uncompressed) entries only, zip64
// aware. The reader takes sizes and offsets from the central directory (torch writes zeros in the
// local headers) and checks every one of them against the file size.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "tl/core/error.hpp"
#include "tl/io/file_bytes.hpp"

namespace tl::io {

struct ZipEntry {
  std::string name;
  uint64_t offset = 0;  // of the data, in the file
  uint64_t size = 0;
  uint32_t crc = 0;
  uint16_t method = 0;  // 0 = stored; others are listed but their data cannot be read
  uint64_t local = 0;   // offset of the local header
};

class ZipReader {
 public:
  /// Parses the central directory of the zip in [d, d+n). `what` names the file in errors.
  ZipReader(const uint8_t* d, size_t n, std::string what, bool verify_crc = true) : d_(d), n_(n), what_(std::move(what)) {
    parse(verify_crc);
  }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }
  /// The bytes of a stored entry (throws for a compressed one).
  const uint8_t* data(const ZipEntry& e) const {
    TL_CHECK(e.method == 0, what_, ": entry '", e.name, "' is compressed (method ", e.method,
             "); PyTorch archives store entries uncompressed");
    return d_ + e.offset;
  }

 private:
  template <class... A>
  [[noreturn]] void fail(const A&... a) const {
    tl::detail::fail(what_, ": ", a...);
  }
  void parse(bool verify_crc) {
    TL_CHECK(n_ >= 22, what_, ": too short for a zip archive (", n_, " bytes)");
    // End of central directory: the last 22+ bytes; a comment of up to 64 KiB may follow it.
    size_t eocd = SIZE_MAX;
    size_t lowest = n_ > 22 + 65535 ? n_ - 22 - 65535 : 0;
    for (size_t p = n_ - 22 + 1; p-- > lowest;) {
      if (read_le<uint32_t>(d_ + p) == 0x06054b50 && p + 22 + read_le<uint16_t>(d_ + p + 20) == n_) {
        eocd = p;
        break;
      }
    }
    TL_CHECK(eocd != SIZE_MAX, what_, ": no zip end-of-central-directory record (truncated or not a zip file)");
    uint64_t count = read_le<uint16_t>(d_ + eocd + 10);
    uint64_t cd_size = read_le<uint32_t>(d_ + eocd + 12);
    uint64_t cd_off = read_le<uint32_t>(d_ + eocd + 16);
    uint64_t cd_limit = eocd;  // the central directory ends before the end records
    if (eocd >= 20 && read_le<uint32_t>(d_ + eocd - 20) == 0x07064b50) {  // zip64 locator
      uint64_t z = read_le<uint64_t>(d_ + eocd - 20 + 8);
      TL_CHECK(z <= eocd - 20 && eocd - 20 - z >= 56, what_, ": zip64 end record offset ", z, " is invalid");
      TL_CHECK(read_le<uint32_t>(d_ + z) == 0x06064b50, what_, ": zip64 end record has a bad signature");
      count = read_le<uint64_t>(d_ + z + 32);
      cd_size = read_le<uint64_t>(d_ + z + 40);
      cd_off = read_le<uint64_t>(d_ + z + 48);
      cd_limit = z;
    }
    TL_CHECK(cd_off <= cd_limit && cd_size <= cd_limit - cd_off, what_, ": central directory (offset ", cd_off,
             ", ", cd_size, " bytes) lies outside the file");
    TL_CHECK(count <= cd_size / 46, what_, ": central directory claims ", count, " entries in ", cd_size, " bytes");
    ByteCursor cd(d_ + cd_off, static_cast<size_t>(cd_size), what_ + ": central directory");
    entries_.reserve(static_cast<size_t>(count));
    for (uint64_t k = 0; k < count; ++k) entries_.push_back(entry(cd, cd_off));
    // Entries must not share bytes: otherwise a small file could name the same data many times
    // and make readers convert (and CRC-check) it again and again.
    std::vector<const ZipEntry*> by_pos;
    for (const auto& e : entries_) by_pos.push_back(&e);
    std::sort(by_pos.begin(), by_pos.end(), [](const ZipEntry* a, const ZipEntry* b) { return a->local < b->local; });
    for (size_t k = 1; k < by_pos.size(); ++k)
      TL_CHECK(by_pos[k]->local >= by_pos[k - 1]->offset + by_pos[k - 1]->size, what_, ": entries '",
               by_pos[k - 1]->name, "' and '", by_pos[k]->name, "' overlap");
    if (verify_crc)
      for (const auto& e : entries_)
        TL_CHECK(e.method != 0 || crc32(d_ + e.offset, static_cast<size_t>(e.size)) == e.crc, what_, ": entry '",
                 e.name, "' fails its CRC-32 check (corrupted file)");
  }

  ZipEntry entry(ByteCursor& cd, uint64_t cd_off) {
    TL_CHECK(cd.le<uint32_t>("entry signature") == 0x02014b50, what_, ": bad central directory entry signature at offset ",
             cd_off + cd.pos() - 4);
    cd.take(4, "entry header");
    uint16_t flags = cd.le<uint16_t>("flags"), method = cd.le<uint16_t>("method");
    cd.take(4, "entry time");
    ZipEntry e;
    e.crc = cd.le<uint32_t>("crc");
    uint64_t csize = cd.le<uint32_t>("compressed size"), usize = cd.le<uint32_t>("size");
    uint16_t name_len = cd.le<uint16_t>("name length"), extra_len = cd.le<uint16_t>("extra length"),
             comment_len = cd.le<uint16_t>("comment length");
    cd.take(8, "entry attributes");
    uint64_t local = cd.le<uint32_t>("local header offset");
    const uint8_t* name = cd.take(name_len, "entry name");
    e.name.assign(reinterpret_cast<const char*>(name), name_len);
    ByteCursor extra(cd.take(extra_len, "entry extra field"), extra_len, what_ + ": extra field of '" + e.name + "'");
    cd.take(comment_len, "entry comment");
    while (extra.remaining() >= 4) {  // zip64 sizes/offset replace the 0xFFFFFFFF fields, in this order
      uint16_t id = extra.le<uint16_t>("id"), len = extra.le<uint16_t>("length");
      ByteCursor f(extra.take(len, "zip64 field"), len, extra.what());
      if (id != 0x0001) continue;
      if (usize == 0xFFFFFFFFu) usize = f.le<uint64_t>("zip64 size");
      if (csize == 0xFFFFFFFFu) csize = f.le<uint64_t>("zip64 compressed size");
      if (local == 0xFFFFFFFFu) local = f.le<uint64_t>("zip64 offset");
    }
    TL_CHECK(!(flags & 1), what_, ": entry '", e.name, "' is encrypted");
    e.method = method;
    if (method != 0) usize = csize;  // not readable; only its extent is checked
    TL_CHECK(csize == usize, what_, ": stored entry '", e.name, "' has compressed size ", csize, " != size ", usize);
    TL_CHECK(local <= cd_off && cd_off - local >= 30, what_, ": entry '", e.name, "' local header offset ", local,
             " is invalid");
    TL_CHECK(read_le<uint32_t>(d_ + local) == 0x04034b50, what_, ": entry '", e.name, "' has a bad local header");
    uint64_t start = local + 30 + read_le<uint16_t>(d_ + local + 26) + read_le<uint16_t>(d_ + local + 28);
    TL_CHECK(start <= cd_off && usize <= cd_off - start, what_, ": entry '", e.name, "' (", usize,
             " bytes at offset ", start, ") runs past the start of the central directory (truncated file?)");
    e.offset = start;
    e.size = usize;
    e.local = local;
    TL_CHECK(index_.emplace(e.name, entries_.size()).second, what_, ": duplicate entry '", e.name, "'");
    return e;
  }

  const uint8_t* d_;
  size_t n_;
  std::string what_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

/// Writes a zip of STORED entries, each entry's data 64-byte aligned (like torch.save), with zip64
/// records only where sizes or offsets need them.
class ZipWriter {
 public:
  ZipWriter(std::FILE* f, const char* op) : f_(f), op_(op) {}

  void add(const std::string& name, const uint8_t* data, uint64_t size) {
    Central c{name, pos_, size, crc32(data, static_cast<size_t>(size))};
    bool z64 = size >= 0xFFFFFFFFu;
    std::vector<uint8_t> h;
    put32(h, 0x04034b50);
    put16(h, z64 ? 45 : 20);
    put16(h, 0);  // flags
    put16(h, 0);  // stored
    put16(h, 0);  // time
    put16(h, 0x21);  // date: 1980-01-01
    put32(h, c.crc);
    put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(size));
    put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(size));
    put16(h, static_cast<uint16_t>(name.size()));
    uint64_t before_pad = pos_ + 30 + name.size() + (z64 ? 20 : 0);
    uint64_t pad = (64 - (before_pad + 4) % 64) % 64;  // "FB" padding field so the data is aligned
    put16(h, static_cast<uint16_t>((z64 ? 20 : 0) + 4 + pad));
    h.insert(h.end(), name.begin(), name.end());
    if (z64) {
      put16(h, 1);
      put16(h, 16);
      put64(h, size);
      put64(h, size);
    }
    put16(h, 0x4246);
    put16(h, static_cast<uint16_t>(pad));
    h.resize(h.size() + pad, 'Z');
    emit(h.data(), h.size());
    emit(data, size);
    central_.push_back(c);
  }

  void finish() {
    uint64_t cd_off = pos_;
    std::vector<uint8_t> h;
    for (const auto& c : central_) {
      bool z64 = c.size >= 0xFFFFFFFFu || c.offset >= 0xFFFFFFFFu;
      put32(h, 0x02014b50);
      put16(h, z64 ? 45 : 20);  // made by
      put16(h, z64 ? 45 : 20);  // needed
      put16(h, 0);
      put16(h, 0);
      put16(h, 0);
      put16(h, 0x21);
      put32(h, c.crc);
      put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(c.size));
      put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(c.size));
      put16(h, static_cast<uint16_t>(c.name.size()));
      put16(h, z64 ? 28 : 0);
      put16(h, 0);  // comment
      put16(h, 0);  // disk
      put16(h, 0);  // internal attributes
      put32(h, 0);  // external attributes
      put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(c.offset));
      h.insert(h.end(), c.name.begin(), c.name.end());
      if (z64) {
        put16(h, 1);
        put16(h, 24);
        put64(h, c.size);
        put64(h, c.size);
        put64(h, c.offset);
      }
    }
    uint64_t cd_size = h.size();
    uint64_t n = central_.size();
    bool z64 = n >= 0xFFFF || cd_off >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu;
    if (z64) {
      uint64_t z = cd_off + cd_size;
      put32(h, 0x06064b50);
      put64(h, 44);
      put16(h, 45);
      put16(h, 45);
      put32(h, 0);
      put32(h, 0);
      put64(h, n);
      put64(h, n);
      put64(h, cd_size);
      put64(h, cd_off);
      put32(h, 0x07064b50);  // locator
      put32(h, 0);
      put64(h, z);
      put32(h, 1);
    }
    put32(h, 0x06054b50);
    put16(h, 0);
    put16(h, 0);
    put16(h, z64 ? 0xFFFF : static_cast<uint16_t>(n));
    put16(h, z64 ? 0xFFFF : static_cast<uint16_t>(n));
    put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_size));
    put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_off));
    put16(h, 0);
    emit(h.data(), h.size());
  }

 private:
  struct Central {
    std::string name;
    uint64_t offset, size;
    uint32_t crc;
  };
  static void put16(std::vector<uint8_t>& h, uint16_t v) { h.push_back(v & 0xff); h.push_back(v >> 8); }
  static void put32(std::vector<uint8_t>& h, uint32_t v) { for (int k = 0; k < 4; ++k) h.push_back((v >> (8 * k)) & 0xff); }
  static void put64(std::vector<uint8_t>& h, uint64_t v) { for (int k = 0; k < 8; ++k) h.push_back((v >> (8 * k)) & 0xff); }
  void emit(const void* p, uint64_t n) {
    write_bytes(f_, p, static_cast<size_t>(n), op_);
    pos_ += n;
  }
  std::FILE* f_;
  const char* op_;
  uint64_t pos_ = 0;
  std::vector<Central> central_;
};

}  // namespace tl::io
