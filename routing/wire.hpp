// The binary wire codec that every Nightjar message format is built from.
// Integers are big-endian; variable-length fields carry a length prefix that is
// checked against both a caller-given maximum and the bytes actually left
// before anything is read. Reads return Result and never throw, so a parser
// fed by the network fails cleanly on any input.
//
// Typical parser:
//   WireReader r(bytes);
//   auto kind = r.u8();          if (!kind) return kind.failure();
//   auto body = r.var16(1024);   if (!body) return body.failure();
//   if (auto end = r.finish(); !end) return end.failure();
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/result.hpp"

namespace nightjar {

enum class WireError {
  truncated,       // fewer bytes left than the field needs
  too_long,        // a length prefix exceeds the field's maximum
  trailing_bytes,  // bytes left over after the last field
  bad_value,       // a field decoded but its value is not allowed
};
const char* to_string(WireError e);

class WireWriter {
 public:
  WireWriter() = default;
  explicit WireWriter(std::size_t reserve) { out_.reserve(reserve); }

  WireWriter& u8(std::uint8_t v);
  WireWriter& u16(std::uint16_t v);
  WireWriter& u32(std::uint32_t v);
  WireWriter& u64(std::uint64_t v);
  WireWriter& raw(Bytes b);
  // Length-prefixed byte strings. The caller must respect the prefix's range;
  // a longer input is a programming error and throws std::length_error.
  WireWriter& var8(Bytes b);
  WireWriter& var16(Bytes b);
  WireWriter& var32(Bytes b);
  template <std::size_t N, class Tag>
  WireWriter& fixed(const FixedBytes<N, Tag>& v) {
    return raw(v);
  }

  std::size_t size() const { return out_.size(); }
  const std::vector<std::uint8_t>& bytes() const { return out_; }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
};

class WireReader {
 public:
  explicit WireReader(Bytes data) : data_(data) {}

  Result<std::uint8_t, WireError> u8();
  Result<std::uint16_t, WireError> u16();
  Result<std::uint32_t, WireError> u32();
  Result<std::uint64_t, WireError> u64();
  // The next n bytes, as a view into the input.
  Result<Bytes, WireError> raw(std::size_t n);
  // Length-prefixed byte strings; fail with too_long if the prefix exceeds max.
  Result<Bytes, WireError> var8(std::size_t max = 0xff);
  Result<Bytes, WireError> var16(std::size_t max = 0xffff);
  Result<Bytes, WireError> var32(std::size_t max);
  template <class Fixed>
  Result<Fixed, WireError> fixed() {
    auto b = raw(Fixed::size_bytes);
    if (!b) return b.failure();
    return Fixed::from(b->template first<Fixed::size_bytes>());
  }
  // Everything that is left.
  Bytes rest();
  // Succeeds only if every byte has been consumed.
  Result<void, WireError> finish() const;

  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t position() const { return pos_; }

 private:
  Result<std::uint64_t, WireError> uint(std::size_t n);
  Result<Bytes, WireError> var(std::size_t prefix_bytes, std::size_t max);

  Bytes data_;
  std::size_t pos_ = 0;
};

// Fixed-position helpers for hot paths that lay out their own buffers.
inline void store_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8)
    p[i] = static_cast<std::uint8_t>(v);
}
inline void store_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8)
    p[i] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
inline std::uint64_t load_u64(const std::uint8_t* p) {
  return (std::uint64_t{load_u32(p)} << 32) | load_u32(p + 4);
}

}  // namespace nightjar
