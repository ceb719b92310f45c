// ContactBook: the people an account knows by name, the strangers whose
// first messages wait as message requests, and the accounts it blocked.
// Kept in the profile, encrypted at rest (ProfileSealer), replaced
// atomically on every change:
//
//   <profile>/contacts   sealed, AD "nightjar contacts v1" || own account
//
// An account is in one standing: a contact (has a name), a request (wrote
// first and was neither accepted nor blocked), blocked, or unknown. The
// client (client.hpp) marks messages from requests and drops those of
// blocked accounts unseen; sends delivery receipts only to contacts.
//
// Names: 1 to 64 bytes of UTF-8 without control characters, unique, and
// not something that reads as an account or group ID (those go where names
// go, so a name must never be mistaken for one).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/account.hpp"
#include "client/profile_sealer.hpp"

namespace nightjar::client {

struct Contact {
  std::string name;
  AccountKey account;
  bool verified = false;  // the user compared fingerprints and said so
  std::uint64_t added_ms = 0;
};

struct MessageRequest {
  AccountKey account;
  std::uint64_t first_ms = 0;  // its first message
  std::uint64_t last_ms = 0;
  std::uint32_t messages = 0;
};

enum class Standing { unknown, contact, request, blocked };
const char* to_string(Standing s);

// Text long enough (40 characters) to be an attempt at an account or group
// ID: with an ID's prefix, or nothing but base32 characters. Where a name or
// an ID may go, such text gets the ID's error.
bool looks_like_id(const std::string& text);

// Why a name is refused (nullopt: it is a good name).
std::optional<std::string> contact_name_problem(const std::string& name);

class ContactBook {
 public:
  // Empty (in memory only when `file` is empty).
  ContactBook() = default;
  ContactBook(std::filesystem::path file, const Identity& identity);
  // The book as saved (an empty one when there is no file yet).
  static Result<ContactBook, std::string> load(std::filesystem::path file, const Identity& identity);

  // Each returns a one-line reason on refusal and changes nothing then.
  // A request that becomes a contact leaves the requests.
  Result<void, std::string> add(const std::string& name, const AccountKey& account,
                                std::uint64_t now_ms);
  Result<void, std::string> remove(const std::string& name);
  Result<void, std::string> rename(const std::string& name, const std::string& new_name);
  Result<void, std::string> set_verified(const std::string& name, bool verified);
  // Blocking a contact keeps its name (unblock restores it).
  Result<void, std::string> block(const AccountKey& account);
  Result<void, std::string> unblock(const AccountKey& account);
  // A message from an account that is neither a contact nor blocked: it
  // becomes (or stays) a request. False when it is blocked (drop it).
  bool note_message_from(const AccountKey& account, std::uint64_t now_ms);
  Result<void, std::string> dismiss_request(const AccountKey& account);

  Standing standing(const AccountKey& account) const;
  const Contact* find(const std::string& name) const;
  const Contact* find(const AccountKey& account) const;
  std::vector<Contact> contacts() const;  // by name
  std::vector<MessageRequest> requests() const;  // oldest first
  std::vector<AccountKey> blocked() const;
  // The name to show for an account: its contact name, else its ID.
  std::string display(const AccountKey& account) const;

  Result<void, std::string> save() const;

  // The book's bytes (unsealed), and back: for the fuzz target and tests.
  std::vector<std::uint8_t> encode() const;
  static Result<ContactBook, std::string> decode(Bytes bytes);

  static constexpr std::size_t max_contacts = 10'000;
  static constexpr std::size_t max_requests = 1'000;  // the oldest go first
  static constexpr std::size_t max_blocked = 10'000;

 private:
  std::filesystem::path file_;
  const Identity* identity_ = nullptr;
  std::map<std::string, Contact> by_name_;
  std::map<AccountKey, std::string> name_of_;
  std::map<AccountKey, MessageRequest> requests_;
  std::map<AccountKey, bool> blocked_;  // value: unused (a set, ordered like the others)
};

// What a word on the command line (or in an API call) names: an account ID,
// or a contact's name. A mistyped ID gets the ID's own error.
Result<AccountKey, std::string> resolve_account(const ContactBook& book, const std::string& text);

}  // namespace nightjar::client
