// What the nightjar CLI prints: one line per received message, per send
// receipt and per identity, either for people (plain text) or for scripts
// (one JSON object per line, `--json`). Pure functions from values to
// strings, so the escaping rules are unit-tested (tests/unit/
// test_cli_options.cpp); client/cli_commands.cpp writes the lines.
//
// Message text comes from strangers, so the plain form never passes control
// characters or bidirectional overrides through to the terminal (they could
// rewrite earlier lines or disguise a sender); it shows them as \xNN or \uNNNN.
// The JSON form is exact: the text as a JSON string when it is valid UTF-8,
// else its base64, with "encoding" saying which.
#pragma once

#include <cstdint>
#include <string>

#include "client/account.hpp"
#include "client/client.hpp"
#include "client/fragments.hpp"

namespace nightjar::client::cli {

// Well-formed UTF-8 as the Unicode standard defines it (Table 3-7): no
// overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(Bytes text);
// RFC 4648 base64 with padding.
std::string base64(Bytes data);

// "2024-05-01T12:34:56.789Z" for unix milliseconds (proleptic Gregorian,
// any 64-bit value).
std::string iso8601_utc(std::uint64_t unix_ms);
enum class TimeZone { utc, local };
// "2024-05-01 12:34:56" (to the second), in UTC or the local time zone.
std::string display_time(std::uint64_t unix_ms, TimeZone zone);

// The first short_id_chars characters of the account ID: enough to tell
// contacts apart in a listing, not to verify anyone (that is the fingerprint).
inline constexpr std::size_t short_id_chars = 12;
std::string short_account_id(const AccountKey& key);

// The text for a terminal: valid UTF-8 is kept except control characters
// (shown as \xNN, or \u00NN for C1) and bidirectional controls (\uNNNN);
// bytes that are not UTF-8 are shown as \xNN; each newline is followed by
// two spaces, so that a message's continuation lines stay indented.
std::string printable_text(Bytes text);

// "[2024-05-01 12:34:56] njabcdefghij: hello" (no trailing newline): the
// printable_text of the text without its trailing line breaks. A group
// message names its group: "[2024-05-01 12:34:56] hikers / njabcdefghij: hello"
// (`group_name`: the group's name as this profile knows it). A contact's
// name replaces the short ID (`sender_name`); a message request is marked:
// "[2024-05-01 12:34:56] [request] njabcdefghij: hello".
std::string message_line(const ReceivedMessage& m, TimeZone zone,
                         const std::string& group_name = {}, const std::string& sender_name = {});
// {"sender":"nj...","sender_name":"..." (a contact),"request":false,"timestamp_ms":...,"time":"...Z","message_id":"<32 hex>",
//  "encoding":"utf-8"|"base64","text":"...","forward_secret":true}, and for a
// group message "group":"ng...","group_name":"..." as well.
std::string message_json(const ReceivedMessage& m, const std::string& group_name = {},
                         const std::string& sender_name = {});

// Groups (client/group.hpp). Names come from other members: shown through
// printable_text.
std::string short_group_id(const GroupKey& key);
// "ngabcdefghij...  hikers  4 members, admin" (the whole ID).
std::string group_line(const GroupInfo& g);
// {"group":"ng...","name":"...","members":4,"epoch":3,"member":true,"admin":true}
std::string group_json(const GroupInfo& g);
// "nj... (the whole ID)  admin" with " (you)" after your own.
std::string member_line(const group::Member& m, bool you);
// {"account":"nj...","role":"admin"|"member","you":false}
std::string member_json(const group::Member& m, bool you);
// "hikers: added 2 (epoch 3); reached 4 members" and, when some wait in the
// outbox, "; 1 waits and is sent again by the next nightjar command".
std::string group_change_line(const std::string& done, const GroupInfo& g,
                              const GroupChangeReport& r);
// {"group":"ng...","name":"...","action":"add","epoch":3,"delivered":4,"queued":0,"problems":[]}
std::string group_change_json(const std::string& action, const GroupInfo& g,
                              const GroupChangeReport& r);
// "[group hikers] njabcdefghij added njklmnopqrst" and the like.
std::string group_event_line(const std::string& group_name, const group::GroupEvent& e);
// {"event":"added","group":"ng...","group_name":"...","by":"nj...","account":"nj..."[,"name":"..."]}
std::string group_event_json(const GroupKey& g, const std::string& group_name,
                             const group::GroupEvent& e);

// "sent message <32 hex> to njabcdefghij: 1 fragment, stored on 5 replicas"
std::string receipt_line(const SendReceipt& r, const AccountKey& to);
// {"message_id":"<32 hex>","to":"nj...","fragments":1,"replicas":5,"attempts":1}
std::string receipt_json(const SendReceipt& r, const AccountKey& to);
// "sent message <32 hex> to group hikers: 1 fragment, stored on 5 replicas"
std::string group_receipt_line(const SendReceipt& r, const GroupInfo& g);
// {"message_id":"<32 hex>","group":"ng...","group_name":"...","fragments":1,"replicas":5,"attempts":1}
std::string group_receipt_json(const SendReceipt& r, const GroupInfo& g);

// Two lines: "account ID   nj..." and "fingerprint  01234 ...".
std::string identity_text(const AccountKey& key);
// {"account_id":"nj...","fingerprint":"01234 ..."}
std::string identity_json(const AccountKey& key);

}  // namespace nightjar::client::cli
