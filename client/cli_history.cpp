// `nightjar history`: the profile's message history (client/history.hpp),
// offline: the list of conversations, or one conversation with each sent
// message's delivery state. Showing a conversation marks it read.
#include <nlohmann/json.hpp>
#include <ostream>

#include "client/cli_commands.hpp"
#include "client/cli_output.hpp"
#include "client/cli_session.hpp"
#include "client/contacts.hpp"
#include "client/history.hpp"

namespace nightjar::client::cli {
namespace {

struct Names {
  const ContactBook& contacts;
  const std::vector<GroupInfo>& groups;
  std::string of(const ConversationKey& c) const {
    if (!c.group) return contacts.display(c.key);
    for (const auto& g : groups)
      if (g.id == c.key) return g.name;
    return format_group_id(c.key);
  }
  std::string sender(const HistoryEntry& e) const {
    if (e.outgoing) return "you";
    const Contact* c = contacts.find(e.sender);
    return c ? c->name : short_account_id(e.sender);
  }
};

std::string state_text(const HistoryEntry& e) {
  if (!e.outgoing) return "";
  if (e.state == DeliveryState::failed) return "  (failed: " + printable_text(as_bytes(e.detail)) + ")";
  return std::string("  (") + to_string(e.state) + ")";
}

std::string entry_line(const HistoryEntry& e, const Names& names) {
  Bytes text = e.text;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text = text.first(text.size() - 1);
  return "[" + display_time(e.outgoing ? e.recorded_ms : e.sent_ms, TimeZone::local) + "] " +
         (e.request ? "[request] " : "") + printable_text(as_bytes(names.sender(e))) + ": " +
         printable_text(text) + state_text(e);
}

nlohmann::ordered_json entry_json(const HistoryEntry& e, const Names& names) {
  return history_entry_json(e, names.contacts);
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

nlohmann::ordered_json history_entry_json(const HistoryEntry& e, const ContactBook& contacts) {
  const bool utf8 = is_valid_utf8(e.text);
  nlohmann::ordered_json j;
  j["seq"] = e.seq;
  j["direction"] = e.outgoing ? "out" : "in";
  j["sender"] = format_account_id(e.sender);
  if (!e.outgoing) {
    if (const Contact* c = contacts.find(e.sender)) j["sender_name"] = c->name;
  }
  j["message_id"] = e.message_id.is_zero() ? std::string() : e.message_id.hex();
  j["timestamp_ms"] = e.sent_ms;
  j["time"] = iso8601_utc(e.sent_ms);
  j["state"] = to_string(e.state);
  j["state_time"] = iso8601_utc(e.state_ms);
  if (!e.detail.empty()) j["detail"] = e.detail;
  j["request"] = e.request;
  j["encoding"] = utf8 ? "utf-8" : "base64";
  j["text"] = utf8 ? std::string(e.text.begin(), e.text.end()) : base64(e.text);
  return j;
}

nlohmann::ordered_json conversation_json(const ConversationSummary& s, const ContactBook& contacts,
                                         const std::vector<GroupInfo>& groups) {
  const Names names{contacts, groups};
  nlohmann::ordered_json j;
  j["conversation"] = s.conversation.group ? format_group_id(s.conversation.key)
                                           : format_account_id(s.conversation.key);
  j["kind"] = s.conversation.group ? "group" : "account";
  j["name"] = names.of(s.conversation);
  j["messages"] = s.messages;
  j["unread"] = s.unread;
  j["last"] = history_entry_json(s.last, contacts);
  return j;
}

Result<ConversationKey, std::string> conversation_of(const std::string& text, const ContactBook& book,
                                                     const std::vector<GroupInfo>& groups) {
  if (auto a = parse_account_id(text)) return ConversationKey{false, *a};
  if (auto g = parse_group_id(text)) return ConversationKey{true, *g};
  if (const Contact* c = book.find(text)) return ConversationKey{false, c->account};
  if (looks_like_id(text)) {
    auto a = resolve_account(book, text);
    return fail(a ? std::string("not an ID") : a.error());
  }
  auto g = resolve_group(groups, text);
  if (g) return ConversationKey{true, g->id};
  return fail("no contact or group named \"" + text + "\" (nightjar contact list, nightjar group list)");
}

int run_history(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  auto lock = ProfileLock::take(o);
  if (!succeeded(lock, err)) return exit_failure;
  auto book = ContactBook::load(o.profile_dir / "contacts", *identity);
  if (!book) {
    print_error(err, "cannot read the contact book: " + book.error());
    return exit_failure;
  }
  auto groups = offline_groups(o, *identity);
  if (!succeeded(groups, err)) return exit_failure;
  auto settings = load_settings(o);
  if (!succeeded(settings, err)) return exit_failure;
  auto history = History::open(o.profile_dir / "history", *identity, settings->history, system_unix_ms());
  if (!history) {
    print_error(err, "cannot read the message history: " + history.error());
    return exit_failure;
  }
  const Names names{*book, *groups};
  if (o.conversation.empty()) {
    const auto list = history->conversations();
    for (const auto& s : list) {
      if (o.json) {
        out << dump(conversation_json(s, *book, *groups)) << "\n";
      } else {
        out << printable_text(as_bytes(names.of(s.conversation))) << (s.conversation.group ? " (group)" : "")
            << ": " << s.messages << " message" << (s.messages == 1 ? "" : "s");
        if (s.unread) out << ", " << s.unread << " unread";
        out << "\n  " << entry_line(s.last, names) << "\n";
      }
    }
    if (list.empty() && !o.json) out << "no messages yet\n";
    out << std::flush;
    return out ? exit_ok : exit_failure;
  }
  auto c = conversation_of(o.conversation, *book, *groups);
  if (!succeeded(c, err)) return exit_failure;
  const auto messages = history->messages(*c, o.limit);
  for (const auto& e : messages) out << (o.json ? dump(entry_json(e, names)) : entry_line(e, names)) << "\n";
  if (messages.empty() && !o.json) out << "no messages with " << printable_text(as_bytes(names.of(*c))) << "\n";
  out << std::flush;
  if (auto r = history->mark_read(*c); !r || !history->flush()) {
    print_error(err, "cannot save the history: " + (r ? std::string("sync failed") : r.error()));
    return exit_failure;
  }
  return out ? exit_ok : exit_failure;
}

}  // namespace nightjar::client::cli
