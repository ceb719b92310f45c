// Account IDs as people see them. An account ID is an Ed25519 public key;
// people copy it into chats and type it from paper, so its text form carries a
// checksum that catches a mistyped character before a message goes to a
// stranger, and a short fingerprint lets two people compare keys out of band
// (read aloud, on a call, side by side on screens).
//
// Text form (docs/ENVELOPE.md, "Account ID"):
//   "nj" || base32(key (32) || checksum (4))      60 characters
// base32 is RFC 4648 lowercase without padding; checksum is the first 4 bytes
// of BLAKE2b-256("nightjar account id v1" || key). parse_account_id() accepts
// surrounding whitespace and uppercase; format_account_id() writes the
// canonical (lowercase) form.
//
// Callers: the CLI (reading and printing IDs), the client library's contact
// handling, and anything that shows a user their own ID.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "routing/crypto.hpp"
#include "routing/result.hpp"

namespace nightjar::client {

using AccountKey = Ed25519PublicKey;
// A group's own key (client/group.hpp): its text ID is built the same way
// with the prefix "ng" and the checksum label "nightjar group id v1", so an
// account ID pasted where a group is meant (or the reverse) is refused by
// its prefix, and a mistyped one by its checksum.
using GroupKey = Ed25519PublicKey;

inline constexpr std::string_view account_id_prefix = "nj";
inline constexpr std::string_view group_id_prefix = "ng";
inline constexpr std::size_t account_checksum_bytes = 4;
// 2 prefix characters plus ceil((32 + 4) * 8 / 5) = 58 base32 characters.
inline constexpr std::size_t account_id_chars = 60;

enum class AccountIdProblem {
  wrong_prefix,       // does not start with "nj"
  bad_character,      // a character outside a-z, 2-7 (0, 1, 8 and 9 are not base32)
  wrong_length,       // not exactly account_id_chars characters
  checksum_mismatch,  // a character is mistyped (or the last one has stray low bits)
  not_a_key,          // well formed, checksum right, but not a usable Ed25519 key
};

enum class IdKind { account, group };

struct AccountIdError {
  AccountIdProblem problem;
  // For bad_character: the offending character's index in the trimmed text.
  // For wrong_length: the trimmed text's length. Otherwise 0.
  std::size_t position = 0;
  IdKind kind = IdKind::account;  // what was expected
  bool other_kind = false;        // wrong_prefix: it is a valid ID of the other kind
};
// A sentence for the user, e.g. "checksum mismatch: a character is mistyped".
std::string to_string(const AccountIdError& e);

// The canonical text form.
std::string format_account_id(const AccountKey& key);
// Parses an ID as typed or pasted: leading and trailing whitespace and any
// letter case are accepted; nothing else is repaired.
Result<AccountKey, AccountIdError> parse_account_id(std::string_view text);
// The same for group IDs ("ng" || base32(key || checksum), 60 characters).
std::string format_group_id(const GroupKey& key);
Result<GroupKey, AccountIdError> parse_group_id(std::string_view text);

// The safety number of one account key: 8 groups of 5 decimal digits,
// separated by single spaces ("01234 56789 ... 43210", 47 characters), about
// 133 bits. Both people compute it from the key they hold for the account and
// compare all 40 digits; see docs/ENVELOPE.md ("Fingerprint") for the
// derivation.
inline constexpr std::size_t fingerprint_groups = 8;
inline constexpr unsigned fingerprint_iterations = 1024;
std::string fingerprint(const AccountKey& key);

}  // namespace nightjar::client
