#include "client/cli_output.hpp"

#include <sodium.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace nightjar::client::cli {
namespace {

// The length of the well-formed UTF-8 sequence at text[i] and its code point
// in `cp`, or 0 when the bytes there are not one.
std::size_t decode_utf8(Bytes text, std::size_t i, char32_t& cp) {
  const std::uint8_t b0 = text[i];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  std::uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - i < len) return 0;
  if (text[i + 1] < lo || text[i + 1] > hi) return 0;
  char32_t value = b0 & (0xFFu >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    const std::uint8_t b = text[i + k];
    if ((b & 0xC0) != 0x80) return 0;
    value = (value << 6) | (b & 0x3Fu);
  }
  cp = value;
  return len;
}

bool is_bidi_control(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
         cp == 0x200F || cp == 0x061C;
}

void append_escape(std::string& out, const char* format, unsigned value) {
  char buf[12];
  std::snprintf(buf, sizeof buf, format, value);
  out += buf;
}

struct CivilTime {
  std::int64_t year;
  unsigned month, day, hour, minute, second, millisecond;
};

// Howard Hinnant's civil_from_days: exact for every day count an unsigned
// 64-bit millisecond value can name.
CivilTime civil_utc(std::uint64_t unix_ms) {
  CivilTime t{};
  t.millisecond = static_cast<unsigned>(unix_ms % 1000);
  const std::uint64_t secs = unix_ms / 1000;
  const std::uint64_t day_secs = secs % 86400;
  t.hour = static_cast<unsigned>(day_secs / 3600);
  t.minute = static_cast<unsigned>(day_secs % 3600 / 60);
  t.second = static_cast<unsigned>(day_secs % 60);
  const std::int64_t z = static_cast<std::int64_t>(secs / 86400) + 719468;
  const std::int64_t era = z / 146097;  // z >= 0
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2 ? 1 : 0);
  return t;
}

std::string format_civil(const CivilTime& t, char separator) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u%c%02u:%02u:%02u", static_cast<long long>(t.year),
                t.month, t.day, separator, t.hour, t.minute, t.second);
  return buf;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

bool is_valid_utf8(Bytes text) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t len = decode_utf8(text, i, cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string base64(Bytes data) {
  std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string iso8601_utc(std::uint64_t unix_ms) {
  const CivilTime t = civil_utc(unix_ms);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03uZ", t.millisecond);
  return format_civil(t, 'T') + ms;
}

std::string display_time(std::uint64_t unix_ms, TimeZone zone) {
  if (zone == TimeZone::local) {
    const auto secs = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    if (::localtime_r(&secs, &tm) != nullptr) {
      char buf[32];
      if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) > 0) return buf;
    }
  }
  return format_civil(civil_utc(unix_ms), ' ');
}

std::string short_account_id(const AccountKey& key) {
  return format_account_id(key).substr(0, short_id_chars);
}

std::string printable_text(Bytes text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t len = decode_utf8(text, i, cp);
    if (len == 0) {
      append_escape(out, "\\x%02x", text[i]);
      ++i;
      continue;
    }
    if (cp == '\n') {
      out += "\n  ";
    } else if (cp == '\t') {
      out += '\t';
    } else if (cp < 0x20 || cp == 0x7F) {
      append_escape(out, "\\x%02x", static_cast<unsigned>(cp));
    } else if ((cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp)) {
      append_escape(out, "\\u%04x", static_cast<unsigned>(cp));
    } else {
      out.append(reinterpret_cast<const char*>(text.data() + i), len);
    }
    i += len;
  }
  return out;
}

std::string message_line(const ReceivedMessage& m, TimeZone zone, const std::string& group_name,
                         const std::string& sender_name) {
  // A text from a file or a pipe usually ends with a line break; shown as
  // is it would leave an empty indented line under every message.
  Bytes text = m.text;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text = text.first(text.size() - 1);
  const std::string where = m.group ? printable_text(as_bytes(group_name.empty()
                                                                   ? short_group_id(*m.group)
                                                                   : group_name)) +
                                          " / "
                                    : std::string();
  const std::string who =
      sender_name.empty() ? short_account_id(m.sender) : printable_text(as_bytes(sender_name));
  return "[" + display_time(m.timestamp_ms, zone) + "] " + (m.request ? "[request] " : "") + where +
         who + ": " + printable_text(text);
}

std::string message_json(const ReceivedMessage& m, const std::string& group_name,
                         const std::string& sender_name) {
  const bool utf8 = is_valid_utf8(m.text);
  nlohmann::ordered_json j;
  j["sender"] = format_account_id(m.sender);
  if (!sender_name.empty()) j["sender_name"] = sender_name;
  j["request"] = m.request;
  j["timestamp_ms"] = m.timestamp_ms;
  j["time"] = iso8601_utc(m.timestamp_ms);
  j["message_id"] = m.message_id.hex();
  j["encoding"] = utf8 ? "utf-8" : "base64";
  j["text"] = utf8 ? std::string(m.text.begin(), m.text.end()) : base64(m.text);
  j["forward_secret"] = m.forward_secret;
  if (m.group) {
    j["group"] = format_group_id(*m.group);
    j["group_name"] = group_name;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string group_receipt_line(const SendReceipt& r, const GroupInfo& g) {
  return "sent message " + r.message_id.hex() + " to group " + printable_text(as_bytes(g.name)) +
         ": " + plural(r.fragments, "fragment", "fragments") + ", stored on " +
         plural(r.min_replicas, "replica", "replicas");
}

std::string group_receipt_json(const SendReceipt& r, const GroupInfo& g) {
  nlohmann::ordered_json j;
  j["message_id"] = r.message_id.hex();
  j["group"] = format_group_id(g.id);
  j["group_name"] = g.name;
  j["fragments"] = r.fragments;
  j["replicas"] = r.min_replicas;
  j["attempts"] = r.attempts;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string short_group_id(const GroupKey& key) {
  return format_group_id(key).substr(0, short_id_chars);
}

std::string group_line(const GroupInfo& g) {
  std::string state = plural(g.members.size(), "member", "members");
  if (!g.member) state = "you are no longer a member";
  else if (g.admin) state += ", admin";
  return format_group_id(g.id) + "  " + printable_text(as_bytes(g.name)) + "  " + state;
}

std::string group_json(const GroupInfo& g) {
  nlohmann::ordered_json j;
  j["group"] = format_group_id(g.id);
  j["name"] = g.name;
  j["members"] = g.members.size();
  j["epoch"] = g.epoch;
  j["member"] = g.member;
  j["admin"] = g.admin;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string member_line(const group::Member& m, bool you) {
  return format_account_id(m.account) + "  " + group::to_string(m.role) + (you ? " (you)" : "");
}

std::string member_json(const group::Member& m, bool you) {
  nlohmann::ordered_json j;
  j["account"] = format_account_id(m.account);
  j["role"] = group::to_string(m.role);
  j["you"] = you;
  return j.dump();
}

std::string group_change_line(const std::string& done, const GroupInfo& g,
                              const GroupChangeReport& r) {
  std::string out = printable_text(as_bytes(g.name)) + ": " + done + " (epoch " +
                    std::to_string(g.epoch) + "); reached " +
                    plural(r.delivered, "member", "members");
  if (r.queued > 0)
    out += "; " + std::to_string(r.queued) +
           (r.queued == 1 ? " waits" : " wait") + " and will be sent again by the next nightjar command";
  return out;
}

std::string group_change_json(const std::string& action, const GroupInfo& g,
                              const GroupChangeReport& r) {
  nlohmann::ordered_json j;
  j["group"] = format_group_id(g.id);
  j["name"] = g.name;
  j["action"] = action;
  j["epoch"] = g.epoch;
  j["delivered"] = r.delivered;
  j["queued"] = r.queued;
  j["problems"] = r.problems;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {
const char* event_name(group::GroupEvent::Kind k) {
  using K = group::GroupEvent::Kind;
  switch (k) {
    case K::joined: return "joined";
    case K::added: return "added";
    case K::removed: return "removed";
    case K::left: return "left";
    case K::renamed: return "renamed";
    case K::promoted: return "promoted";
    case K::you_were_removed: return "you_were_removed";
  }
  return "changed";
}
}  // namespace

std::string group_event_line(const std::string& group_name, const group::GroupEvent& e) {
  using K = group::GroupEvent::Kind;
  const std::string by = short_account_id(e.actor);
  const std::string who = short_account_id(e.subject);
  std::string what;
  switch (e.kind) {
    case K::joined: what = by + " added you"; break;
    case K::added: what = by + " added " + who; break;
    case K::removed: what = by + " removed " + who; break;
    case K::left: what = who + " left"; break;
    case K::renamed: what = by + " renamed the group to " + printable_text(as_bytes(e.name)); break;
    case K::promoted: what = by + " made " + who + " an admin"; break;
    case K::you_were_removed: what = by + " removed you"; break;
  }
  return "[group " + printable_text(as_bytes(group_name)) + "] " + what;
}

std::string group_event_json(const GroupKey& g, const std::string& group_name,
                             const group::GroupEvent& e) {
  nlohmann::ordered_json j;
  j["event"] = event_name(e.kind);
  j["group"] = format_group_id(g);
  j["group_name"] = group_name;
  j["by"] = format_account_id(e.actor);
  if (e.kind != group::GroupEvent::Kind::renamed) j["account"] = format_account_id(e.subject);
  if (e.kind == group::GroupEvent::Kind::renamed) j["name"] = e.name;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string receipt_line(const SendReceipt& r, const AccountKey& to) {
  return "sent message " + r.message_id.hex() + " to " + short_account_id(to) + ": " +
         plural(r.fragments, "fragment", "fragments") + ", stored on " +
         plural(r.min_replicas, "replica", "replicas") +
         (r.forward_secret ? ", forward-secret"
                           : ", not forward-secret (the recipient publishes no prekey bundle)");
}

std::string receipt_json(const SendReceipt& r, const AccountKey& to) {
  nlohmann::ordered_json j;
  j["message_id"] = r.message_id.hex();
  j["to"] = format_account_id(to);
  j["fragments"] = r.fragments;
  j["replicas"] = r.min_replicas;
  j["attempts"] = r.attempts;
  j["forward_secret"] = r.forward_secret;
  return j.dump();
}

std::string identity_text(const AccountKey& key) {
  return "account ID   " + format_account_id(key) + "\nfingerprint  " + fingerprint(key) + "\n";
}

std::string identity_json(const AccountKey& key) {
  nlohmann::ordered_json j;
  j["account_id"] = format_account_id(key);
  j["fingerprint"] = fingerprint(key);
  return j.dump();
}

}  // namespace nightjar::client::cli
