#include "client/contacts.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "routing/key_file.hpp"
#include "routing/wire.hpp"

namespace nightjar::client {

namespace {

constexpr std::string_view contacts_label = "nightjar contacts v1";
constexpr std::uint8_t book_version = 1;
constexpr std::size_t max_name_bytes = 64;
constexpr std::size_t max_file_bytes = 8u << 20;

}  // namespace

bool looks_like_id(const std::string& text) {
  if (text.size() < 40) return false;
  const auto lower = [&](std::size_t i) { return std::tolower(static_cast<unsigned char>(text[i])); };
  if (lower(0) == 'n' && (lower(1) == 'j' || lower(1) == 'g')) return true;
  // An ID without its prefix: nothing but base32 characters.
  return std::all_of(text.begin(), text.end(), [](char ch) {
    const int c = std::tolower(static_cast<unsigned char>(ch));
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
  });
}

namespace {

// Valid UTF-8 (no overlong forms, no surrogates) without control characters.
bool clean_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x80 && cp < 0xa0) return false;  // C1 controls
    i += len;
  }
  return true;
}

}  // namespace

const char* to_string(Standing s) {
  switch (s) {
    case Standing::contact: return "contact";
    case Standing::request: return "request";
    case Standing::blocked: return "blocked";
    case Standing::unknown: break;
  }
  return "unknown";
}

std::optional<std::string> contact_name_problem(const std::string& name) {
  if (name.empty()) return "a contact's name must not be empty";
  if (name.size() > max_name_bytes)
    return "a contact's name is at most " + std::to_string(max_name_bytes) + " bytes";
  if (!clean_utf8(name)) return "a contact's name must be UTF-8 text without control characters";
  if (std::isspace(static_cast<unsigned char>(name.front())) ||
      std::isspace(static_cast<unsigned char>(name.back())))
    return "a contact's name must not start or end with a space";
  if (parse_account_id(name) || parse_group_id(name) || looks_like_id(name))
    return "a contact's name must not look like an account or group ID";
  return std::nullopt;
}

ContactBook::ContactBook(std::filesystem::path file, const Identity& identity)
    : file_(std::move(file)), identity_(&identity) {}

Result<void, std::string> ContactBook::add(const std::string& name, const AccountKey& account,
                                           std::uint64_t now_ms) {
  if (auto problem = contact_name_problem(name)) return fail(*problem);
  if (by_name_.count(name)) return fail("a contact named \"" + name + "\" exists already");
  if (auto it = name_of_.find(account); it != name_of_.end())
    return fail("that account is already a contact, named \"" + it->second + "\"");
  if (identity_ && account == identity_->account())
    return fail(std::string("that is this account's own ID"));
  if (by_name_.size() >= max_contacts)
    return fail("at most " + std::to_string(max_contacts) + " contacts");
  by_name_[name] = Contact{name, account, false, now_ms};
  name_of_[account] = name;
  requests_.erase(account);
  return {};
}

Result<void, std::string> ContactBook::remove(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return fail("no contact named \"" + name + "\"");
  name_of_.erase(it->second.account);
  by_name_.erase(it);
  return {};
}

Result<void, std::string> ContactBook::rename(const std::string& name, const std::string& new_name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return fail("no contact named \"" + name + "\"");
  if (name == new_name) return {};
  if (auto problem = contact_name_problem(new_name)) return fail(*problem);
  if (by_name_.count(new_name)) return fail("a contact named \"" + new_name + "\" exists already");
  Contact c = it->second;
  by_name_.erase(it);
  c.name = new_name;
  name_of_[c.account] = new_name;
  by_name_[new_name] = std::move(c);
  return {};
}

Result<void, std::string> ContactBook::set_verified(const std::string& name, bool verified) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return fail("no contact named \"" + name + "\"");
  it->second.verified = verified;
  return {};
}

Result<void, std::string> ContactBook::block(const AccountKey& account) {
  if (identity_ && account == identity_->account()) return fail(std::string("that is this account's own ID"));
  if (!blocked_.count(account) && blocked_.size() >= max_blocked)
    return fail("at most " + std::to_string(max_blocked) + " blocked accounts");
  blocked_[account] = true;
  requests_.erase(account);
  return {};
}

Result<void, std::string> ContactBook::unblock(const AccountKey& account) {
  if (!blocked_.erase(account)) return fail(std::string("that account is not blocked"));
  return {};
}

bool ContactBook::note_message_from(const AccountKey& account, std::uint64_t now_ms) {
  if (blocked_.count(account)) return false;
  if (name_of_.count(account)) return true;
  auto [it, fresh] = requests_.try_emplace(account, MessageRequest{account, now_ms, now_ms, 0});
  it->second.last_ms = std::max(it->second.last_ms, now_ms);
  ++it->second.messages;
  if (fresh && requests_.size() > max_requests) {
    auto oldest = std::min_element(requests_.begin(), requests_.end(), [](const auto& a, const auto& b) {
      return a.second.first_ms < b.second.first_ms;
    });
    requests_.erase(oldest);
  }
  return true;
}

Result<void, std::string> ContactBook::dismiss_request(const AccountKey& account) {
  if (!requests_.erase(account)) return fail(std::string("no message request from that account"));
  return {};
}

Standing ContactBook::standing(const AccountKey& account) const {
  if (blocked_.count(account)) return Standing::blocked;
  if (name_of_.count(account)) return Standing::contact;
  if (requests_.count(account)) return Standing::request;
  return Standing::unknown;
}

const Contact* ContactBook::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

const Contact* ContactBook::find(const AccountKey& account) const {
  auto it = name_of_.find(account);
  return it == name_of_.end() ? nullptr : find(it->second);
}

std::vector<Contact> ContactBook::contacts() const {
  std::vector<Contact> out;
  for (const auto& [name, c] : by_name_) out.push_back(c);
  return out;
}

std::vector<MessageRequest> ContactBook::requests() const {
  std::vector<MessageRequest> out;
  for (const auto& [a, r] : requests_) out.push_back(r);
  std::sort(out.begin(), out.end(),
            [](const MessageRequest& a, const MessageRequest& b) { return a.first_ms < b.first_ms; });
  return out;
}

std::vector<AccountKey> ContactBook::blocked() const {
  std::vector<AccountKey> out;
  for (const auto& [a, _] : blocked_) out.push_back(a);
  return out;
}

std::string ContactBook::display(const AccountKey& account) const {
  auto it = name_of_.find(account);
  return it == name_of_.end() ? format_account_id(account) : it->second;
}

std::vector<std::uint8_t> ContactBook::encode() const {
  WireWriter w;
  w.u8(book_version);
  w.u32(static_cast<std::uint32_t>(by_name_.size()));
  for (const auto& [name, c] : by_name_) {
    w.var8(Bytes(reinterpret_cast<const std::uint8_t*>(name.data()), name.size()));
    w.raw(c.account.bytes);
    w.u8(c.verified ? 1 : 0);
    w.u64(c.added_ms);
  }
  w.u32(static_cast<std::uint32_t>(requests_.size()));
  for (const auto& [a, r] : requests_) {
    w.raw(a.bytes);
    w.u64(r.first_ms);
    w.u64(r.last_ms);
    w.u32(r.messages);
  }
  w.u32(static_cast<std::uint32_t>(blocked_.size()));
  for (const auto& [a, _] : blocked_) w.raw(a.bytes);
  return w.take();
}

Result<ContactBook, std::string> ContactBook::decode(Bytes bytes) {
  WireReader r(bytes);
  auto bad = [](const std::string& why) { return fail("the contacts file is damaged: " + why); };
  auto version = r.u8();
  if (!version) return bad("empty");
  if (*version != book_version) return fail("the contacts file has an unknown version " + std::to_string(*version));
  auto read_key = [&](AccountKey& k) {
    auto b = r.raw(k.bytes.size());
    if (!b) return false;
    std::copy(b->begin(), b->end(), k.bytes.begin());
    return true;
  };
  ContactBook book;
  auto n = r.u32();
  if (!n || *n > max_contacts) return bad("contact count");
  for (std::uint32_t i = 0; i < *n; ++i) {
    Contact c;
    auto name = r.var8();
    if (!name) return bad("a name");
    c.name.assign(name->begin(), name->end());
    if (!read_key(c.account)) return bad("an account");
    auto verified = r.u8();
    auto added = r.u64();
    if (!verified || *verified > 1 || !added) return bad("a contact");
    c.verified = *verified == 1;
    c.added_ms = *added;
    if (contact_name_problem(c.name) || book.by_name_.count(c.name) || book.name_of_.count(c.account))
      return bad("a name or account twice, or a bad name");
    book.name_of_[c.account] = c.name;
    book.by_name_[c.name] = std::move(c);
  }
  auto m = r.u32();
  if (!m || *m > max_requests) return bad("request count");
  for (std::uint32_t i = 0; i < *m; ++i) {
    MessageRequest q;
    if (!read_key(q.account)) return bad("a request");
    auto first = r.u64();
    auto last = r.u64();
    auto count = r.u32();
    if (!first || !last || !count) return bad("a request");
    q.first_ms = *first;
    q.last_ms = *last;
    q.messages = *count;
    book.requests_[q.account] = q;
  }
  auto b = r.u32();
  if (!b || *b > max_blocked) return bad("blocked count");
  for (std::uint32_t i = 0; i < *b; ++i) {
    AccountKey a;
    if (!read_key(a)) return bad("a blocked account");
    book.blocked_[a] = true;
  }
  if (r.remaining() != 0) return bad("bytes after the end");
  // One encoding per book (sorted, no repeats): anything else was not
  // written by encode().
  const auto again = book.encode();
  if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()))
    return bad("not in its canonical order");
  return book;
}

Result<ContactBook, std::string> ContactBook::load(std::filesystem::path file, const Identity& identity) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return ContactBook(std::move(file), identity);
  auto bytes = read_private_file(file, max_file_bytes);
  if (!bytes) return fail(bytes.error());
  ProfileSealer sealer(identity);
  std::vector<std::uint8_t> ad(contacts_label.begin(), contacts_label.end());
  ad.insert(ad.end(), identity.account().bytes.begin(), identity.account().bytes.end());
  auto plain = sealer.open(*bytes, ad);
  if (!plain) return fail("cannot open " + file.string() + ": " + plain.error());
  auto book = decode(*plain);
  sodium_memzero(plain->data(), plain->size());
  if (!book) return book.failure();
  book->file_ = std::move(file);
  book->identity_ = &identity;
  return book;
}

Result<void, std::string> ContactBook::save() const {
  if (file_.empty() || !identity_) return {};
  ProfileSealer sealer(*identity_);
  std::vector<std::uint8_t> ad(contacts_label.begin(), contacts_label.end());
  ad.insert(ad.end(), identity_->account().bytes.begin(), identity_->account().bytes.end());
  auto plain = encode();
  auto sealed = sealer.seal(plain, ad);
  sodium_memzero(plain.data(), plain.size());
  return replace_private_file(file_, sealed);
}

Result<AccountKey, std::string> resolve_account(const ContactBook& book, const std::string& text) {
  auto id = parse_account_id(text);
  if (id) return *id;
  if (const Contact* c = book.find(text)) return c->account;
  if (looks_like_id(text) || id.error().other_kind)
    return fail("not an account ID: " + to_string(id.error()));
  return fail("no contact named \"" + text + "\" (nightjar contact list shows them)");
}

}  // namespace nightjar::client
