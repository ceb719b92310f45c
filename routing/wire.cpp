#include "routing/wire.hpp"

#include <stdexcept>

namespace nightjar {

const char* to_string(WireError e) {
  switch (e) {
    case WireError::truncated:
      return "truncated";
    case WireError::too_long:
      return "length over limit";
    case WireError::trailing_bytes:
      return "trailing bytes";
    case WireError::bad_value:
      return "bad value";
  }
  return "unknown wire error";
}

WireWriter& WireWriter::u8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}

WireWriter& WireWriter::u16(std::uint16_t v) {
  std::uint8_t b[2];
  store_u16(b, v);
  out_.insert(out_.end(), b, b + 2);
  return *this;
}

WireWriter& WireWriter::u32(std::uint32_t v) {
  std::uint8_t b[4];
  store_u32(b, v);
  out_.insert(out_.end(), b, b + 4);
  return *this;
}

WireWriter& WireWriter::u64(std::uint64_t v) {
  std::uint8_t b[8];
  store_u64(b, v);
  out_.insert(out_.end(), b, b + 8);
  return *this;
}

WireWriter& WireWriter::raw(Bytes b) {
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}

WireWriter& WireWriter::var8(Bytes b) {
  if (b.size() > 0xff) throw std::length_error("WireWriter::var8: field longer than 255 bytes");
  u8(static_cast<std::uint8_t>(b.size()));
  return raw(b);
}

WireWriter& WireWriter::var16(Bytes b) {
  if (b.size() > 0xffff)
    throw std::length_error("WireWriter::var16: field longer than 65535 bytes");
  u16(static_cast<std::uint16_t>(b.size()));
  return raw(b);
}

WireWriter& WireWriter::var32(Bytes b) {
  if (b.size() > 0xffffffffu) throw std::length_error("WireWriter::var32: field too long");
  u32(static_cast<std::uint32_t>(b.size()));
  return raw(b);
}

Result<std::uint64_t, WireError> WireReader::uint(std::size_t n) {
  if (remaining() < n) return fail(WireError::truncated);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v = (v << 8) | data_[pos_ + i];
  pos_ += n;
  return v;
}

Result<std::uint8_t, WireError> WireReader::u8() {
  auto v = uint(1);
  if (!v) return v.failure();
  return static_cast<std::uint8_t>(*v);
}

Result<std::uint16_t, WireError> WireReader::u16() {
  auto v = uint(2);
  if (!v) return v.failure();
  return static_cast<std::uint16_t>(*v);
}

Result<std::uint32_t, WireError> WireReader::u32() {
  auto v = uint(4);
  if (!v) return v.failure();
  return static_cast<std::uint32_t>(*v);
}

Result<std::uint64_t, WireError> WireReader::u64() {
  return uint(8);
}

Result<Bytes, WireError> WireReader::raw(std::size_t n) {
  if (remaining() < n) return fail(WireError::truncated);
  Bytes out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<Bytes, WireError> WireReader::var(std::size_t prefix_bytes, std::size_t max) {
  std::size_t start = pos_;
  auto len = uint(prefix_bytes);
  if (!len) return len.failure();
  // Check the length against the limit before using it, and rewind so a failed
  // read leaves the reader where it was.
  if (*len > max) {
    pos_ = start;
    return fail(WireError::too_long);
  }
  if (*len > remaining()) {
    pos_ = start;
    return fail(WireError::truncated);
  }
  return raw(static_cast<std::size_t>(*len));
}

Result<Bytes, WireError> WireReader::var8(std::size_t max) {
  return var(1, max);
}
Result<Bytes, WireError> WireReader::var16(std::size_t max) {
  return var(2, max);
}
Result<Bytes, WireError> WireReader::var32(std::size_t max) {
  return var(4, max);
}

Bytes WireReader::rest() {
  Bytes out = data_.subspan(pos_);
  pos_ = data_.size();
  return out;
}

Result<void, WireError> WireReader::finish() const {
  if (remaining() != 0) return fail(WireError::trailing_bytes);
  return {};
}

FieldReader& FieldReader::flag(bool& out) {
  std::uint8_t v = 0;
  u8(v).check(v <= 1);
  if (ok()) out = v == 1;
  return *this;
}

}  // namespace nightjar
