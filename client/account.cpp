#include "client/account.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace nightjar::client {
namespace {

constexpr std::string_view account_label = "nightjar account id v1";
constexpr std::string_view group_label = "nightjar group id v1";
constexpr std::string_view fingerprint_label = "nightjar fingerprint v1";
constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::size_t payload_bytes = AccountKey::size_bytes + account_checksum_bytes;  // 36
constexpr std::size_t base32_chars = account_id_chars - 2;                              // 58
static_assert(base32_chars == (payload_bytes * 8 + 4) / 5);
// 58 characters carry 290 bits for 288: the last character's low 2 bits are
// zero in the canonical form, and parse() insists on it, so no two texts
// decode to the same key.
constexpr unsigned spare_bits = base32_chars * 5 - payload_bytes * 8;

using Payload = std::array<std::uint8_t, payload_bytes>;

std::array<std::uint8_t, account_checksum_bytes> checksum(std::string_view label,
                                                         const AccountKey& key) {
  std::vector<std::uint8_t> input(label.begin(), label.end());
  input.insert(input.end(), key.data(), key.data() + AccountKey::size_bytes);
  const Hash256 h = crypto::blake2b_256(input);
  std::array<std::uint8_t, account_checksum_bytes> out{};
  std::memcpy(out.data(), h.data(), out.size());
  return out;
}

int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return 26 + (c - '2');
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string to_string(const AccountIdError& e) {
  const bool group = e.kind == IdKind::group;
  const std::string what = group ? "group" : "account";
  switch (e.problem) {
    case AccountIdProblem::wrong_prefix:
      if (e.other_kind)
        return group ? "not a group ID: this is an account ID (group IDs start with \"ng\")"
                     : "not an account ID: this is a group ID (account IDs start with \"nj\")";
      return "not " + std::string(group ? "a group" : "an account") + " ID: it must start with \"" +
             std::string(group ? group_id_prefix : account_id_prefix) + "\"";
    case AccountIdProblem::bad_character:
      return "bad character at position " + std::to_string(e.position + 1) + ": " + what +
             " IDs use only the letters a-z and the digits 2-7";
    case AccountIdProblem::wrong_length:
      return "wrong length: " + std::string(group ? "a group" : "an account") + " ID has " +
             std::to_string(account_id_chars) + " characters, this has " +
             std::to_string(e.position) + " (a character is missing or extra)";
    case AccountIdProblem::checksum_mismatch:
      return "checksum mismatch: a character is mistyped";
    case AccountIdProblem::not_a_key:
      return "not a valid " + what + " key (the ID was not made by a Nightjar client)";
  }
  return "invalid " + what + " ID";
}

namespace {

std::string_view prefix_of(IdKind kind) {
  return kind == IdKind::group ? group_id_prefix : account_id_prefix;
}
std::string_view label_of(IdKind kind) {
  return kind == IdKind::group ? group_label : account_label;
}

std::string format_id(IdKind kind, const AccountKey& key) {
  Payload payload{};
  std::memcpy(payload.data(), key.data(), AccountKey::size_bytes);
  const auto sum = checksum(label_of(kind), key);
  std::memcpy(payload.data() + AccountKey::size_bytes, sum.data(), sum.size());

  std::string out(prefix_of(kind));
  out.reserve(account_id_chars);
  std::uint32_t buffer = 0;
  unsigned bits = 0;
  for (std::uint8_t byte : payload) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(alphabet[(buffer >> bits) & 31u]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 31u]);
  return out;
}

bool has_prefix(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && to_lower(text[0]) == prefix[0] &&
         to_lower(text[1]) == prefix[1];
}

Result<AccountKey, AccountIdError> parse_id(IdKind kind, std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);

  const std::string_view expected = prefix_of(kind);
  const std::size_t prefix = expected.size();
  if (!has_prefix(text, expected)) {
    AccountIdError e{AccountIdProblem::wrong_prefix};
    e.kind = kind;
    const IdKind other = kind == IdKind::group ? IdKind::account : IdKind::group;
    e.other_kind = has_prefix(text, prefix_of(other)) && parse_id(other, text).ok();
    return fail(e);
  }
  const auto problem = [kind](AccountIdProblem p, std::size_t position = 0) {
    AccountIdError e{p, position};
    e.kind = kind;
    return fail(e);
  };
  // Characters before length: "bad character at position 17" helps more than
  // "wrong length" when someone typed a 0 for an o.
  for (std::size_t i = prefix; i < text.size(); ++i)
    if (base32_value(to_lower(text[i])) < 0)
      return problem(AccountIdProblem::bad_character, i);
  if (text.size() != account_id_chars)
    return problem(AccountIdProblem::wrong_length, text.size());

  Payload payload{};
  std::size_t out = 0;
  std::uint32_t buffer = 0;
  unsigned bits = 0;
  for (std::size_t i = prefix; i < text.size(); ++i) {
    buffer = (buffer << 5) | static_cast<std::uint32_t>(base32_value(to_lower(text[i])));
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      payload[out++] = static_cast<std::uint8_t>(buffer >> bits);
    }
  }
  static_assert(spare_bits == 2);
  // A last character with stray low bits is a typo the checksum cannot see.
  if (out != payload_bytes || bits != spare_bits || (buffer & ((1u << spare_bits) - 1)) != 0)
    return problem(AccountIdProblem::checksum_mismatch);

  const AccountKey key = AccountKey::from(std::span(payload).first<AccountKey::size_bytes>());
  const auto sum = checksum(label_of(kind), key);
  if (!crypto::equal(sum, std::span(payload).subspan(AccountKey::size_bytes)))
    return problem(AccountIdProblem::checksum_mismatch);
  // Envelopes are encrypted to the key's X25519 form; a key without one
  // could never receive a message (nor be a group's, by the same rule).
  if (!crypto::ed25519_to_x25519(key)) return problem(AccountIdProblem::not_a_key);
  return key;
}

}  // namespace

std::string format_account_id(const AccountKey& key) { return format_id(IdKind::account, key); }
Result<AccountKey, AccountIdError> parse_account_id(std::string_view text) {
  return parse_id(IdKind::account, text);
}
std::string format_group_id(const GroupKey& key) { return format_id(IdKind::group, key); }
Result<GroupKey, AccountIdError> parse_group_id(std::string_view text) {
  return parse_id(IdKind::group, text);
}

std::string fingerprint(const AccountKey& key) {
  // Iterating the hash makes grinding for a key whose safety number matches
  // someone else's in its first few groups (what a hurried comparison checks)
  // 1024 times dearer; one fingerprint still costs well under a millisecond.
  std::array<std::uint8_t, fingerprint_label.size() + AccountKey::size_bytes> first{};
  std::memcpy(first.data(), fingerprint_label.data(), fingerprint_label.size());
  std::memcpy(first.data() + fingerprint_label.size(), key.data(), AccountKey::size_bytes);
  Hash512 h = crypto::blake2b_512(first);
  std::array<std::uint8_t, Hash512::size_bytes + AccountKey::size_bytes> next{};
  for (unsigned i = 1; i < fingerprint_iterations; ++i) {
    std::memcpy(next.data(), h.data(), Hash512::size_bytes);
    std::memcpy(next.data() + Hash512::size_bytes, key.data(), AccountKey::size_bytes);
    h = crypto::blake2b_512(next);
  }

  std::string out;
  out.reserve(fingerprint_groups * 6);
  for (std::size_t g = 0; g < fingerprint_groups; ++g) {
    std::uint64_t v = 0;
    for (std::size_t b = 0; b < 5; ++b)
      v = (v << 8) | h.data()[5 * g + b];
    char digits[6];
    std::snprintf(digits, sizeof digits, "%05u", static_cast<unsigned>(v % 100000));
    if (g > 0) out.push_back(' ');
    out.append(digits, 5);
  }
  return out;
}

}  // namespace nightjar::client
