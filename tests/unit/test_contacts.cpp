// The contact book (client/contacts.hpp): names, standings, requests,
// blocking, the sealed file, and resolving what a user typed.
#include <catch2/catch.hpp>

#include <algorithm>

#include "client/contacts.hpp"
#include "client/identity.hpp"
#include "routing/key_file.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::TempDir;

namespace {

AccountKey account(SystemRandom& rng) {
  return Identity::generate(rng).account();
}

}  // namespace

TEST_CASE("contacts are added, renamed, verified and removed by name", "[contacts][unit]") {
  SystemRandom rng;
  const AccountKey a = account(rng), b = account(rng);
  ContactBook book;
  REQUIRE(book.add("alice", a, 10).ok());
  CHECK(book.standing(a) == Standing::contact);
  CHECK(book.find("alice")->account == a);
  CHECK(book.find(a)->name == "alice");
  CHECK(book.display(a) == "alice");
  CHECK(book.display(b) == format_account_id(b));
  CHECK(book.add("alice", b, 11).error() == "a contact named \"alice\" exists already");
  CHECK(book.add("al", a, 11).error() == "that account is already a contact, named \"alice\"");
  REQUIRE(book.add("Bob Ö", b, 12).ok());  // UTF-8 and spaces inside
  REQUIRE(book.rename("alice", "Alice A").ok());
  CHECK(book.find("alice") == nullptr);
  CHECK(book.find(a)->name == "Alice A");
  CHECK(book.rename("Alice A", "Bob Ö").error() == "a contact named \"Bob Ö\" exists already");
  REQUIRE(book.set_verified("Alice A", true).ok());
  CHECK(book.find(a)->verified);
  CHECK(book.remove("nobody").error() == "no contact named \"nobody\"");
  REQUIRE(book.remove("Alice A").ok());
  CHECK(book.standing(a) == Standing::unknown);
  CHECK(book.contacts().size() == 1);
}

TEST_CASE("names that could be mistaken or are not text are refused", "[contacts][unit]") {
  SystemRandom rng;
  const AccountKey a = account(rng);
  const std::string id = format_account_id(a);
  CHECK(contact_name_problem("alice") == std::nullopt);
  CHECK(contact_name_problem("njeri") == std::nullopt);  // a name may start like an ID
  CHECK(contact_name_problem("").has_value());
  CHECK(contact_name_problem(" alice").has_value());
  CHECK(contact_name_problem("alice\n").has_value());
  CHECK(contact_name_problem("a\x1b[31m").has_value());
  CHECK(contact_name_problem("\xc3").has_value());          // cut UTF-8
  CHECK(contact_name_problem("\xc0\xaf").has_value());      // overlong
  CHECK(contact_name_problem("\xed\xa0\x80").has_value());  // a surrogate
  CHECK(contact_name_problem(std::string(65, 'x')).has_value());
  CHECK(contact_name_problem(id).has_value());
  CHECK(contact_name_problem(id.substr(0, 50)).has_value());  // reads like a cut ID
}

TEST_CASE("strangers' messages become requests, blocked accounts' are dropped", "[contacts][unit]") {
  SystemRandom rng;
  const AccountKey a = account(rng), b = account(rng);
  ContactBook book;
  CHECK(book.note_message_from(a, 100));
  CHECK(book.note_message_from(a, 200));
  CHECK(book.standing(a) == Standing::request);
  REQUIRE(book.requests().size() == 1);
  CHECK(book.requests()[0].messages == 2);
  CHECK(book.requests()[0].first_ms == 100);
  CHECK(book.requests()[0].last_ms == 200);
  // Accepting is adding.
  REQUIRE(book.add("a", a, 300).ok());
  CHECK(book.requests().empty());
  CHECK(book.note_message_from(a, 400));
  CHECK(book.requests().empty());
  // Blocking: a request goes, the messages are refused; a contact keeps its name.
  CHECK(book.note_message_from(b, 500));
  REQUIRE(book.block(b).ok());
  CHECK(book.requests().empty());
  CHECK_FALSE(book.note_message_from(b, 600));
  CHECK(book.standing(b) == Standing::blocked);
  REQUIRE(book.block(a).ok());
  CHECK(book.standing(a) == Standing::blocked);
  CHECK(book.find("a") != nullptr);
  REQUIRE(book.unblock(a).ok());
  CHECK(book.standing(a) == Standing::contact);
  CHECK(book.unblock(a).error() == "that account is not blocked");
  CHECK(book.dismiss_request(a).error() == "no message request from that account");
}

TEST_CASE("requests are bounded, the oldest going first", "[contacts][unit]") {
  SystemRandom rng;
  ContactBook book;
  const AccountKey first = account(rng);
  book.note_message_from(first, 1);
  for (std::size_t i = 0; i < ContactBook::max_requests; ++i) book.note_message_from(account(rng), 10 + i);
  CHECK(book.requests().size() == ContactBook::max_requests);
  CHECK(book.standing(first) == Standing::unknown);
}

TEST_CASE("the contact book is saved sealed and read back whole", "[contacts][unit]") {
  SystemRandom rng;
  TempDir dir("nightjar-contacts");
  const Identity me = Identity::generate(rng);
  const AccountKey a = account(rng), b = account(rng), c = account(rng);
  {
    auto book = ContactBook::load(dir / "contacts", me);
    REQUIRE(book.ok());
    REQUIRE(book->add("alice", a, 1).ok());
    REQUIRE(book->set_verified("alice", true).ok());
    book->note_message_from(b, 2);
    REQUIRE(book->block(c).ok());
    CHECK(book->add("me", me.account(), 3).error() == "that is this account's own ID");
    REQUIRE(book->save().ok());
  }
  auto raw = read_private_file(dir / "contacts");
  REQUIRE(raw.ok());
  const std::string text(raw->begin(), raw->end());
  CHECK(text.find("alice") == std::string::npos);  // encrypted at rest
  auto again = ContactBook::load(dir / "contacts", me);
  REQUIRE(again.ok());
  CHECK(again->find("alice")->verified);
  CHECK(again->standing(b) == Standing::request);
  CHECK(again->standing(c) == Standing::blocked);
  // Another identity cannot open it; a damaged file is refused, not emptied.
  CHECK_FALSE(ContactBook::load(dir / "contacts", Identity::generate(rng)).ok());
  auto bytes = *raw;
  bytes.back() ^= 1;
  REQUIRE(replace_private_file(dir / "contacts", bytes).ok());
  CHECK_FALSE(ContactBook::load(dir / "contacts", me).ok());
}

TEST_CASE("the contact book's bytes refuse damage", "[contacts][unit]") {
  SystemRandom rng;
  ContactBook book;
  REQUIRE(book.add("alice", account(rng), 1).ok());
  book.note_message_from(account(rng), 2);
  const auto bytes = book.encode();
  REQUIRE(ContactBook::decode(bytes).ok());
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    CHECK_FALSE(ContactBook::decode(Bytes(bytes.data(), cut)).ok());
  auto longer = bytes;
  longer.push_back(0);
  CHECK_FALSE(ContactBook::decode(longer).ok());
  // Two blocked accounts in the wrong order: not what encode() writes.
  ContactBook two;
  const AccountKey x = account(rng), y = account(rng);
  REQUIRE(two.block(x).ok());
  REQUIRE(two.block(y).ok());
  auto swapped = two.encode();
  const std::size_t at = swapped.size() - 64;
  std::rotate(swapped.begin() + static_cast<std::ptrdiff_t>(at), swapped.begin() + static_cast<std::ptrdiff_t>(at + 32),
              swapped.end());
  CHECK(ContactBook::decode(swapped).error() == "the contacts file is damaged: not in its canonical order");
  auto version = bytes;
  version[0] = 9;
  CHECK(ContactBook::decode(version).error() == "the contacts file has an unknown version 9");
}

TEST_CASE("what a user typed resolves to an account, or says why not", "[contacts][unit]") {
  SystemRandom rng;
  const AccountKey a = account(rng);
  ContactBook book;
  REQUIRE(book.add("alice", a, 1).ok());
  CHECK(*resolve_account(book, "alice") == a);
  CHECK(*resolve_account(book, format_account_id(a)) == a);
  CHECK(*resolve_account(book, " " + format_account_id(a) + "\n") == a);
  CHECK(resolve_account(book, "alicia").error() ==
        "no contact named \"alicia\" (nightjar contact list shows them)");
  std::string typo = format_account_id(a);
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  CHECK(resolve_account(book, typo).error().rfind("not an account ID: ", 0) == 0);
  GroupKey g = account(rng);
  CHECK(resolve_account(book, format_group_id(g)).error().find("not a group ID") == std::string::npos);
  CHECK(resolve_account(book, format_group_id(g)).error().rfind("not an account ID", 0) == 0);
}
