// The binary wire codec that every Nightjar message format is built from.
// Integers are big-endian; variable-length fields carry a length prefix that is
// checked against both a caller-given maximum and the bytes actually left
// before anything is read. Reads return Result and never throw, so a parser
// fed by the network fails cleanly on any input.
//
// A message codec writes with WireWriter and reads with FieldReader, one line
// per field either way:
//   WireWriter w;  w.u8(m.kind).var16(m.body);
//   FieldReader f(bytes);
//   f.u8(m.kind).var16(m.body, 1024);
//   return f.finish(std::move(m));  // the first failure, or trailing_bytes
// WireReader underneath returns a Result per field, for a parser that needs
// views into the input or decides what to read next field by field.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
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

// Reads fields straight into the variables that keep them, and remembers the
// first failure: after a read or a check fails, every later call does nothing,
// so a parser reads all its fields and tests once, and reports exactly the
// error the first bad field gives with WireReader. Calls chained with `.` run
// left to right (C++17), so a check sees the field read just before it:
//   f.u16(q.limit).check(q.limit != 0 && q.limit <= max_limit).u32(q.wait_ms);
// A variable whose read failed keeps its old value; finish() then fails, so
// a parser never returns it.
class FieldReader {
 public:
  explicit FieldReader(Bytes data) : r_(data) {}

  FieldReader& u8(std::uint8_t& out) { return ok() ? keep(r_.u8(), out) : *this; }
  FieldReader& u16(std::uint16_t& out) { return ok() ? keep(r_.u16(), out) : *this; }
  FieldReader& u32(std::uint32_t& out) { return ok() ? keep(r_.u32(), out) : *this; }
  FieldReader& u64(std::uint64_t& out) { return ok() ? keep(r_.u64(), out) : *this; }
  // A u8 that must be 0 (false) or 1 (true); anything else is bad_value.
  FieldReader& flag(bool& out);
  template <class Fixed>
  FieldReader& fixed(Fixed& out) {
    return ok() ? keep(r_.fixed<Fixed>(), out) : *this;
  }
  // Length-prefixed byte strings, copied into `out` (a std::vector of bytes
  // or a std::string); too_long if the prefix exceeds max.
  template <class Out>
  FieldReader& var8(Out& out, std::size_t max = 0xff) {
    return ok() ? copy(r_.var8(max), out) : *this;
  }
  template <class Out>
  FieldReader& var16(Out& out, std::size_t max = 0xffff) {
    return ok() ? copy(r_.var16(max), out) : *this;
  }
  template <class Out>
  FieldReader& var32(Out& out, std::size_t max) {
    return ok() ? copy(r_.var32(max), out) : *this;
  }

  // Fails with `error` unless `holds`: the range check of a field just read.
  FieldReader& check(bool holds, WireError error = WireError::bad_value) {
    return holds ? *this : reject(error);
  }
  // Fails with `error`, unless something failed before.
  FieldReader& reject(WireError error = WireError::bad_value) {
    if (ok()) error_ = error;
    return *this;
  }

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  WireError error() const {
    assert(!ok());
    return *error_;
  }
  // Forwards the failure to a caller's Result, as Result::failure() does.
  Failure<WireError> failure() const { return Failure<WireError>{error()}; }
  std::size_t remaining() const { return r_.remaining(); }

  // `value` if every read and check succeeded and every byte was consumed;
  // otherwise the first failure, or trailing_bytes.
  template <class T>
  Result<T, WireError> finish(T value) const {
    if (!ok()) return failure();
    if (auto end = r_.finish(); !end) return end.failure();
    return Result<T, WireError>(std::move(value));
  }

 private:
  template <class T>
  FieldReader& keep(Result<T, WireError> v, T& out) {
    if (v)
      out = std::move(*v);
    else
      error_ = v.error();
    return *this;
  }
  template <class Out>
  FieldReader& copy(Result<Bytes, WireError> v, Out& out) {
    if (v)
      out.assign(v->begin(), v->end());
    else
      error_ = v.error();
    return *this;
  }

  WireReader r_;
  std::optional<WireError> error_;
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
