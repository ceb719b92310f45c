// Byte containers with a type: public values (keys, hashes, signatures) as
// FixedBytes<N, Tag>, and secrets as Secret<N, Tag>. The Tag makes an Ed25519
// key and an X25519 key different types, so passing one where the other is
// expected does not compile. Secrets cannot be copied and wipe themselves.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace nightjar {

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;

inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string to_hex(Bytes b);
// Decodes lowercase or uppercase hex; returns false on odd length or a bad digit
// or when `out` has the wrong size.
bool from_hex(std::string_view hex, MutableBytes out);

// A public fixed-size value. Comparison is constant-time, since a tag or MAC
// may be compared through this type too.
template <std::size_t N, class Tag>
struct FixedBytes {
  static constexpr std::size_t size_bytes = N;
  std::array<std::uint8_t, N> bytes{};

  std::uint8_t* data() { return bytes.data(); }
  const std::uint8_t* data() const { return bytes.data(); }
  static constexpr std::size_t size() { return N; }
  std::span<const std::uint8_t, N> view() const { return bytes; }
  std::span<std::uint8_t, N> mutable_view() { return bytes; }
  operator Bytes() const { return {bytes.data(), N}; }  // NOLINT: implicit view

  static FixedBytes from(std::span<const std::uint8_t, N> src) {
    FixedBytes out;
    std::copy(src.begin(), src.end(), out.bytes.begin());
    return out;
  }
  bool is_zero() const { return sodium_is_zero(bytes.data(), N) == 1; }
  std::string hex() const { return to_hex(view()); }

  friend bool operator==(const FixedBytes& a, const FixedBytes& b) {
    return sodium_memcmp(a.bytes.data(), b.bytes.data(), N) == 0;
  }
  // Byte order, for sorted containers of public values (not constant-time).
  friend bool operator<(const FixedBytes& a, const FixedBytes& b) { return a.bytes < b.bytes; }
};

// A secret fixed-size value: zero-initialised, move-only, wiped on
// destruction and when moved from. Deliberately no implicit view or hex().
template <std::size_t N, class Tag>
class Secret {
 public:
  static constexpr std::size_t size_bytes = N;

  Secret() noexcept { bytes_.fill(0); }
  ~Secret() { sodium_memzero(bytes_.data(), N); }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& o) noexcept {
    bytes_ = o.bytes_;
    sodium_memzero(o.bytes_.data(), N);
  }
  Secret& operator=(Secret&& o) noexcept {
    if (this != &o) {
      bytes_ = o.bytes_;
      sodium_memzero(o.bytes_.data(), N);
    }
    return *this;
  }

  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  static constexpr std::size_t size() { return N; }
  std::span<const std::uint8_t, N> view() const { return bytes_; }
  std::span<std::uint8_t, N> mutable_view() { return bytes_; }
  bool is_zero() const { return sodium_is_zero(bytes_.data(), N) == 1; }

  static Secret from(std::span<const std::uint8_t, N> src) {
    Secret s;
    std::copy(src.begin(), src.end(), s.bytes_.begin());
    return s;
  }

 private:
  std::array<std::uint8_t, N> bytes_;
};

}  // namespace nightjar
