// Fuzzes parse_account_id (client/account.hpp). IDs come from other people:
// pasted from chats, typed from paper, scanned from QR codes.
//
// Input: the text to parse.
//
// Invariants (trap on violation):
//   - parse never crashes, and the problem it reports is the one a simple
//     model predicts from the trimmed text: wrong prefix, then the first bad
//     character (at the right position), then the length; only a text of the
//     right shape can fail on its checksum or key
//   - a parsed key formats back to exactly the trimmed, lowercased input (the
//     text form is canonical up to case and surrounding whitespace), which
//     parses to the same key
//   - every error has a message.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/account_id bin/fuzz_account_id
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/account.hpp"
#include "routing/crypto.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;

namespace {

AccountKey key_from(std::uint8_t b) {
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i)
    seed.data()[i] = static_cast<std::uint8_t>(b + i);
  return crypto::ed25519_from_seed(seed).pub;
}

void write_seeds(const std::string& dir) {
  const std::string id = format_account_id(key_from(1));
  fuzz::write_seed(dir + "/canonical", id);
  std::string upper = id;
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  fuzz::write_seed(dir + "/uppercase-with-whitespace", "  " + upper + "\r\n");
  std::string typo = id;
  typo[20] = typo[20] == 'a' ? 'b' : 'a';
  fuzz::write_seed(dir + "/typo", typo);
  std::string last = id;
  last.back() = static_cast<char>(last.back() + 1);  // a spare low bit set
  fuzz::write_seed(dir + "/spare-bits", last);
  fuzz::write_seed(dir + "/too-short", id.substr(0, 59));
  fuzz::write_seed(dir + "/too-long", id + "a");
  std::string zero = id;
  zero[30] = '0';
  fuzz::write_seed(dir + "/bad-character", zero);
  fuzz::write_seed(dir + "/wrong-prefix", "xj" + id.substr(2));
  fuzz::write_seed(dir + "/not-a-key", format_account_id(AccountKey{}));
  fuzz::write_seed(dir + "/empty", "");
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy so that ASan sees the exact end of the input.
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_account_id(text);

  // The model: trim, lowercase, then check in the documented order.
  std::size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin]))
    ++begin;
  while (end > begin && is_space(text[end - 1]))
    --end;
  std::string canonical = text.substr(begin, end - begin);
  for (char& c : canonical)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::size_t bad_at = 0;
  for (std::size_t i = 2; i < canonical.size() && bad_at == 0; ++i) {
    const char c = canonical[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) bad_at = i;
  }

  if (!parsed) {
    const AccountIdError e = parsed.error();
    CHECK(!to_string(e).empty());
    if (canonical.size() < 2 || canonical[0] != 'n' || canonical[1] != 'j') {
      CHECK(e.problem == AccountIdProblem::wrong_prefix);
    } else if (bad_at != 0) {
      CHECK(e.problem == AccountIdProblem::bad_character && e.position == bad_at);
    } else if (canonical.size() != account_id_chars) {
      CHECK(e.problem == AccountIdProblem::wrong_length && e.position == canonical.size());
    } else {
      CHECK(e.problem == AccountIdProblem::checksum_mismatch ||
            e.problem == AccountIdProblem::not_a_key);
    }
    return 0;
  }
  CHECK(canonical.size() == account_id_chars && bad_at == 0);
  const std::string formatted = format_account_id(*parsed);
  CHECK(formatted == canonical);
  auto again = parse_account_id(formatted);
  CHECK(again.ok() && *again == *parsed);
  return 0;
}
