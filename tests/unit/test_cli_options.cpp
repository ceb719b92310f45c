// The nightjar CLI without a network: parsing of every command and option
// (client/cli_options.hpp), defaults from the environment, usage errors with
// their exact text, the output lines and JSON (client/cli_output.hpp), and
// reading a passphrase from a file or the environment (client/cli_passphrase.hpp).
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/cli_options.hpp"
#include "client/cli_output.hpp"
#include "client/cli_passphrase.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::client;
using namespace nightjar::client::cli;
namespace fs = std::filesystem;

namespace {

Environment home_only() {
  Environment env;
  env.home = "/home/alice";
  return env;
}

Result<CliOptions, UsageError> parse(std::vector<std::string> args,
                                     const Environment& env = home_only()) {
  return parse_command_line(args, env);
}

CliOptions parse_ok(std::vector<std::string> args, const Environment& env = home_only()) {
  auto r = parse(args, env);
  if (!r) FAIL("unexpected usage error: " << r.error().message);
  return *r;
}

std::string parse_error(std::vector<std::string> args, const Environment& env = home_only()) {
  auto r = parse(args, env);
  if (r) FAIL("parsed, but a usage error was expected");
  CHECK(r.error().exit_code() == 2);
  return r.error().message;
}

AccountKey key_of(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed_bytes;
  seed_bytes.fill(fill);
  return crypto::ed25519_from_seed(Ed25519Seed::from(seed_bytes)).pub;
}

// The ID with the character at `at` replaced by another base32 character.
std::string mistyped(std::string id, std::size_t at) {
  id[at] = id[at] == 'a' ? 'b' : 'a';
  return id;
}

ReceivedMessage message(std::string_view text, std::uint64_t ms = 1'700'000'000'123) {
  ReceivedMessage m;
  m.sender = key_of(7);
  m.timestamp_ms = ms;
  for (std::size_t i = 0; i < m.message_id.size(); ++i)
    m.message_id.bytes[i] = static_cast<std::uint8_t>(i);
  m.text.assign(text.begin(), text.end());
  return m;
}

std::string text_of(const Passphrase& p) {
  return {reinterpret_cast<const char*>(p.bytes().data()), p.bytes().size()};
}

}  // namespace

TEST_CASE("the CLI parses id new and id show with their options", "[cli][unit]") {
  auto o = parse_ok({"id", "new"});
  CHECK(o.command == Command::id_new);
  CHECK_FALSE(o.force);
  CHECK_FALSE(o.json);
  o = parse_ok({"id", "new", "--force", "--json"});
  CHECK(o.force);
  CHECK(o.json);
  o = parse_ok({"--json", "id", "show"});
  CHECK(o.command == Command::id_show);
  CHECK(o.json);
  CHECK(o.identity_file() == fs::path("/home/alice/.local/share/nightjar/identity"));
}

TEST_CASE("the CLI parses send with TEXT, with --file and with --", "[cli][unit]") {
  const AccountKey bob = key_of(2);
  const std::string id = format_account_id(bob);
  auto o = parse_ok({"send", "--to", id, "hello"});
  CHECK(o.command == Command::send);
  REQUIRE(o.to);
  CHECK(*o.to == bob);
  CHECK(o.text == "hello");
  CHECK_FALSE(o.file);
  CHECK(o.timeout_seconds == default_timeout_seconds);

  CHECK(parse_ok({"send", "hello", "there,", "bob", "--to", id}).text == "hello there, bob");
  CHECK(parse_ok({"send", "--to=" + id, "--", "-1 is a number"}).text == "-1 is a number");
  CHECK(parse_ok({"send", "--to", id, "--", "--words"}).text == "--words");
  CHECK(parse_ok({"send", "--to", "  " + id + "\n", "hi"}).to == bob);  // pasted
  CHECK(parse_ok({"send", "--to", id, ""}).text.empty());

  o = parse_ok({"send", "--to", id, "--file", "notes.txt", "--json", "--timeout", "5"});
  REQUIRE(o.file);
  CHECK(*o.file == fs::path("notes.txt"));
  CHECK(o.json);
  CHECK(o.timeout_seconds == 5);
  o = parse_ok({"send", "--to", id, "--file", "-"});
  REQUIRE(o.file);
  CHECK(o.file->string() == "-");

  const std::string longest(max_message_bytes, 'x');
  CHECK(parse_ok({"send", "--to", id, longest}).text.size() == max_message_bytes);
}

TEST_CASE("the CLI parses recv with follow, delete and json", "[cli][unit]") {
  auto o = parse_ok({"recv"});
  CHECK(o.command == Command::recv);
  CHECK_FALSE(o.follow);
  CHECK_FALSE(o.delete_after_read);
  CHECK_FALSE(o.json);
  o = parse_ok({"recv", "--follow", "--delete", "--json", "--timeout", "60"});
  CHECK(o.follow);
  CHECK(o.delete_after_read);
  CHECK(o.json);
  CHECK(o.timeout_seconds == 60);
}

TEST_CASE("common options go before or after the command", "[cli][unit]") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--profile", "/p", "--network", "/n.conf", "--passphrase-file", "/pw", "--log-level",
            "debug", "recv"},
           {"recv", "--profile=/p", "--network=/n.conf", "--passphrase-file=/pw",
            "--log-level=debug"}}) {
    const auto o = parse_ok(args);
    CHECK(o.command == Command::recv);
    CHECK(o.profile_dir == fs::path("/p"));
    CHECK(o.network_file == fs::path("/n.conf"));
    CHECK(o.passphrase_source == PassphraseSource::file);
    CHECK(o.passphrase_file == fs::path("/pw"));
    CHECK(o.log_level == "debug");
  }
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"})
    CHECK(parse_ok({"recv", "--log-level", level}).log_level == level);
}

TEST_CASE("help and version are found however they are asked for", "[cli][unit]") {
  struct Case {
    std::vector<std::string> args;
    HelpTopic topic;
  };
  for (const auto& c : std::vector<Case>{{{"--help"}, HelpTopic::general},
                                         {{"-h"}, HelpTopic::general},
                                         {{"help"}, HelpTopic::general},
                                         {{"help", "send"}, HelpTopic::send},
                                         {{"send", "--help"}, HelpTopic::send},
                                         {{"recv", "-h"}, HelpTopic::recv},
                                         {{"help", "recv"}, HelpTopic::recv},
                                         {{"id", "--help"}, HelpTopic::id},
                                         {{"id", "new", "--help"}, HelpTopic::id},
                                         {{"help", "id", "show"}, HelpTopic::id}}) {
    INFO(c.args.front() << " ...");
    const auto o = parse_ok(c.args, Environment{});  // no HOME needed for help
    CHECK(o.command == Command::help);
    CHECK(o.help_topic == c.topic);
  }
  CHECK(parse_ok({"--version"}, Environment{}).command == Command::version);
  CHECK(version_text() == "nightjar 0.1.0\n");
  CHECK(parse_error({"help", "bogus"}) ==
        "unknown command 'bogus': the commands are id, send, recv, chat, group, contact, history, purge and daemon");
}

TEST_CASE("help texts list each command's own options", "[cli][unit]") {
  const std::string general = help_text(HelpTopic::general);
  for (const char* s :
       {"id new", "id show", "send --to ID TEXT", "recv --follow", "--profile", "--network",
        "--passphrase-file", "--log-level", "--version", "NIGHTJAR_PROFILE", "NIGHTJAR_NETWORK",
        "NIGHTJAR_PASSPHRASE", "Exit status: 0"})
    CHECK(general.find(s) != std::string::npos);
  const std::string send = help_text(HelpTopic::send);
  for (const char* s : {"--to", "--file", "--json", "--timeout", "--profile", "65536"})
    CHECK(send.find(s) != std::string::npos);
  CHECK(send.find("--follow") == std::string::npos);
  const std::string recv = help_text(HelpTopic::recv);
  for (const char* s : {"--follow", "--delete", "--json", "--network"})
    CHECK(recv.find(s) != std::string::npos);
  CHECK(recv.find("--force") == std::string::npos);
  const std::string id = help_text(HelpTopic::id);
  for (const char* s : {"--force", "--json", "fingerprint"})
    CHECK(id.find(s) != std::string::npos);
  CHECK(id.find("--to") == std::string::npos);
}

TEST_CASE("the profile defaults to NIGHTJAR_PROFILE, then XDG_DATA_HOME, then HOME",
          "[cli][unit]") {
  Environment env;
  env.home = "/home/alice";
  CHECK(parse_ok({"recv"}, env).profile_dir == fs::path("/home/alice/.local/share/nightjar"));
  env.xdg_data_home = "relative/data";  // the XDG spec says: ignore
  CHECK(parse_ok({"recv"}, env).profile_dir == fs::path("/home/alice/.local/share/nightjar"));
  env.xdg_data_home = "/data";
  CHECK(parse_ok({"recv"}, env).profile_dir == fs::path("/data/nightjar"));
  env.nightjar_profile = "/profiles/alice";
  CHECK(parse_ok({"recv"}, env).profile_dir == fs::path("/profiles/alice"));
  CHECK(parse_ok({"recv", "--profile", "/elsewhere"}, env).profile_dir == fs::path("/elsewhere"));
  CHECK(parse_error({"recv"}, Environment{}) ==
        "no profile directory: HOME is not set (use --profile DIR or NIGHTJAR_PROFILE)");
  CHECK(parse_ok({"recv", "--profile", "/p"}, Environment{}).profile_dir == fs::path("/p"));
}

TEST_CASE("the network file defaults to NIGHTJAR_NETWORK, then the profile's network.conf",
          "[cli][unit]") {
  Environment env = home_only();
  CHECK(parse_ok({"recv", "--profile", "/p"}, env).network_file == fs::path("/p/network.conf"));
  env.nightjar_network = "/etc/nightjar/test.conf";
  CHECK(parse_ok({"recv", "--profile", "/p"}, env).network_file ==
        fs::path("/etc/nightjar/test.conf"));
  CHECK(parse_ok({"recv", "--network", "/n"}, env).network_file == fs::path("/n"));
}

TEST_CASE(
    "the passphrase comes from --passphrase-file, then NIGHTJAR_PASSPHRASE, then the terminal",
    "[cli][unit]") {
  Environment env = home_only();
  CHECK(parse_ok({"recv"}, env).passphrase_source == PassphraseSource::terminal);
  env.has_nightjar_passphrase = true;
  CHECK(parse_ok({"recv"}, env).passphrase_source == PassphraseSource::environment);
  const auto o = parse_ok({"recv", "--passphrase-file", "/pw"}, env);
  CHECK(o.passphrase_source == PassphraseSource::file);
  CHECK(o.log_level == "warn");
}

TEST_CASE("usage errors exit with 2 and say what is wrong", "[cli][unit]") {
  const std::string id = format_account_id(key_of(2));
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases{
      {{}, "no command given (see `nightjar --help`)"},
      {{"bogus"}, "unknown command 'bogus': the commands are id, send, recv, chat, group, contact, history, purge and daemon"},
      {{"id"}, "`nightjar id` needs a subcommand: new or show"},
      {{"id", "delete"}, "unknown subcommand 'id delete': use `id new` or `id show`"},
      {{"id", "show", "extra"}, "unexpected argument 'extra'"},
      {{"recv", "extra"}, "unexpected argument 'extra'"},
      {{"--bogus"}, "unrecognised option '--bogus' (see `nightjar --help`)"},
      {{"recv", "--fol"}, "unrecognised option '--fol' (see `nightjar --help`)"},
      {{"--words", "recv"}, "unrecognised option '--words' (see `nightjar --help`)"},
      {{"-1"}, "unrecognised option '-1' (see `nightjar --help`)"},
      {{"send", "--to"},
       "the required argument for option '--to' is missing (see `nightjar --help`)"},
      {{"recv", "--json", "--json"},
       "option '--json' cannot be specified more than once (see `nightjar --help`)"},
      {{"recv", "--timeout", "soon"},
       "the argument ('soon') for option '--timeout' is invalid (see `nightjar --help`)"},
      {{"recv", "--timeout", "0"}, "--timeout: between 1 and 3600 seconds"},
      {{"recv", "--timeout", "3601"}, "--timeout: between 1 and 3600 seconds"},
      {{"recv", "--log-level", "loud"},
       "--log-level: unknown level 'loud' (trace, debug, info, warn, error, critical or off)"},
      {{"recv", "--profile", ""}, "--profile: the directory name is empty"},
      {{"recv", "--network", ""}, "--network: the file name is empty"},
      {{"recv", "--passphrase-file", ""}, "--passphrase-file: the file name is empty"},
      {{"recv", "--force"},
       "--force is not an option of `nightjar recv` (see `nightjar help recv`)"},
      {{"recv", "--to", id}, "--to is not an option of `nightjar recv` (see `nightjar help recv`)"},
      {{"id", "show", "--follow"},
       "--follow is not an option of `nightjar id show` (see `nightjar help id`)"},
      {{"id", "show", "--force"},
       "--force is not an option of `nightjar id show` (see `nightjar help id`)"},
      {{"id", "new", "--timeout", "3"},
       "--timeout is not an option of `nightjar id new` (see `nightjar help id`)"},
      {{"send", "--to", id, "--delete", "hi"},
       "--delete is not an option of `nightjar send` (see `nightjar help send`)"},
      {{"send", "hello"}, "`nightjar send` needs the recipient: --to ID or --group GROUP"},
      {{"send", "--to", id}, "no message: give TEXT or --file FILE ('-' for standard input)"},
      {{"send", "--to", id, "--file", "f", "hi"},
       "give the message as TEXT or with --file, not both"},
      {{"send", "--to", id, "--file", ""},
       "--file: the file name is empty ('-' reads standard input)"},
      {{"send", "--to", id, std::string(max_message_bytes + 1, 'x')},
       "message too long: 65537 bytes, at most 65536"},
      {{"send", "--to", mistyped(id, 20), "hi"},
       "--to: checksum mismatch: a character is mistyped"},
      {{"send", "--to", "xx" + id.substr(2), "hi"},
       "--to: not an account ID: it must start with \"nj\""},
      {{"send", "--to", id.substr(0, 59), "hi"},
       "--to: wrong length: an account ID has 60 characters, this has 59 (a character is "
       "missing or extra)"},
      {{"send", "--to", id.substr(0, 10) + "0" + id.substr(11), "hi"},
       "--to: bad character at position 11: account IDs use only the letters a-z and the "
       "digits 2-7"},
  };
  for (const auto& c : cases) {
    std::string joined;
    for (const auto& a : c.args)
      joined += (a.size() > 80 ? "<long>" : a) + " ";
    INFO("nightjar " << joined);
    CHECK(parse_error(c.args) == c.message);
  }
}

TEST_CASE("UTF-8 is checked as the Unicode standard defines it", "[cli][unit]") {
  auto bytes = [](std::initializer_list<int> v) {
    std::vector<std::uint8_t> out;
    for (int b : v)
      out.push_back(static_cast<std::uint8_t>(b));
    return out;
  };
  CHECK(is_valid_utf8(as_bytes("")));
  CHECK(is_valid_utf8(as_bytes("plain ASCII")));
  CHECK(is_valid_utf8(as_bytes("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
  CHECK(is_valid_utf8(bytes({0xF4, 0x8F, 0xBF, 0xBF})));        // U+10FFFF
  CHECK(is_valid_utf8(bytes({0xED, 0x9F, 0xBF})));              // U+D7FF
  CHECK_FALSE(is_valid_utf8(bytes({0x80})));                    // lone continuation
  CHECK_FALSE(is_valid_utf8(bytes({0xC0, 0x80})));              // overlong NUL
  CHECK_FALSE(is_valid_utf8(bytes({0xC1, 0xBF})));              // overlong
  CHECK_FALSE(is_valid_utf8(bytes({0xE0, 0x80, 0x80})));        // overlong
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x80, 0x80, 0x80})));  // overlong
  CHECK_FALSE(is_valid_utf8(bytes({0xED, 0xA0, 0x80})));        // surrogate U+D800
  CHECK_FALSE(is_valid_utf8(bytes({0xF4, 0x90, 0x80, 0x80})));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8(bytes({0xF5, 0x80, 0x80, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xFF})));
  CHECK_FALSE(is_valid_utf8(bytes({0xE2, 0x82})));        // truncated
  CHECK_FALSE(is_valid_utf8(bytes({0xE2, 0x41, 0x41})));  // continuation missing
}

TEST_CASE("base64 and times are formatted exactly", "[cli][unit]") {
  CHECK(base64(as_bytes("")).empty());
  CHECK(base64(as_bytes("f")) == "Zg==");
  CHECK(base64(as_bytes("fo")) == "Zm8=");
  CHECK(base64(as_bytes("foobar")) == "Zm9vYmFy");
  CHECK(iso8601_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso8601_utc(1'700'000'000'123) == "2023-11-14T22:13:20.123Z");
  CHECK(iso8601_utc(951'782'400'000) == "2000-02-29T00:00:00.000Z");
  CHECK(iso8601_utc(UINT64_MAX) == "584556019-04-03T14:25:51.615Z");
  CHECK(display_time(1'700'000'000'999, TimeZone::utc) == "2023-11-14 22:13:20");
  CHECK(display_time(1'700'000'000'999, TimeZone::local).size() == 19);
}

TEST_CASE("a received message becomes one JSON line with its text escaped", "[cli][unit]") {
  const ReceivedMessage m = message("say \"hi\"\\\n\t\x1b[31m caf\xc3\xa9");
  const std::string line = message_json(m);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line == "{\"sender\":\"" + format_account_id(key_of(7)) +
                    "\",\"request\":false,\"timestamp_ms\":1700000000123,\"time\":\"2023-11-14T22:13:20.123Z\","
                    "\"message_id\":\"000102030405060708090a0b0c0d0e0f\",\"encoding\":\"utf-8\","
                    "\"text\":\"say \\\"hi\\\"\\\\\\n\\t\\u001b[31m caf\xc3\xa9\","
                    "\"forward_secret\":false}");
  const auto j = nlohmann::json::parse(line);
  CHECK(j["text"].get<std::string>() == "say \"hi\"\\\n\t\x1b[31m caf\xc3\xa9");
}

TEST_CASE("a message that is not UTF-8 is given in base64 and says so", "[cli][unit]") {
  ReceivedMessage m = message("");
  m.text = {0xFF, 0x00, 0x80, 'a'};
  const auto j = nlohmann::json::parse(message_json(m));
  CHECK(j["encoding"] == "base64");
  CHECK(j["text"] == "/wCAYQ==");
  m.text = {};
  CHECK(nlohmann::json::parse(message_json(m))["encoding"] == "utf-8");
}

TEST_CASE("the plain message line keeps control characters away from the terminal", "[cli][unit]") {
  CHECK(printable_text(as_bytes("caf\xc3\xa9\ttab")) == "caf\xc3\xa9\ttab");
  CHECK(printable_text(as_bytes("a\x1b[2Jb\rc\x7f")) == "a\\x1b[2Jb\\x0dc\\x7f");
  CHECK(printable_text(as_bytes("line 1\nline 2")) == "line 1\n  line 2");
  CHECK(printable_text(as_bytes("\xc2\x85 \xe2\x80\xae evil")) == "\\u0085 \\u202e evil");
  CHECK(printable_text(as_bytes("\xff\xc3")) == "\\xff\\xc3");
  const ReceivedMessage m = message("hello");
  CHECK(message_line(m, TimeZone::utc) ==
        "[2023-11-14 22:13:20] " + format_account_id(key_of(7)).substr(0, 12) + ": hello");
  CHECK(short_account_id(key_of(7)).size() == 12);
  // Trailing line breaks (a file, `echo`) are not shown; inner ones are.
  CHECK(message_line(message("two\nlines\r\n\n"), TimeZone::utc).ends_with(": two\n  lines"));
}

TEST_CASE("receipts and identities print as a line and as JSON", "[cli][unit]") {
  SendReceipt r;
  for (std::size_t i = 0; i < r.message_id.size(); ++i)
    r.message_id.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
  r.fragments = 1;
  r.min_replicas = 5;
  r.attempts = 2;
  const AccountKey bob = key_of(2);
  const std::string hex = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
  CHECK(receipt_line(r, bob) == "sent message " + hex + " to " + short_account_id(bob) +
                                    ": 1 fragment, stored on 5 replicas, not forward-secret (the "
                                    "recipient publishes no prekey bundle)");
  CHECK(receipt_json(r, bob) == "{\"message_id\":\"" + hex + "\",\"to\":\"" +
                                    format_account_id(bob) +
                                    "\",\"fragments\":1,\"replicas\":5,\"attempts\":2,"
                                    "\"forward_secret\":false}");
  r.fragments = 3;
  r.min_replicas = 1;
  r.forward_secret = true;
  CHECK(receipt_line(r, bob).ends_with(": 3 fragments, stored on 1 replica, forward-secret"));
  CHECK(nlohmann::json::parse(receipt_json(r, bob))["forward_secret"] == true);

  CHECK(identity_json(bob) == "{\"account_id\":\"" + format_account_id(bob) +
                                  "\",\"fingerprint\":\"" + fingerprint(bob) + "\"}");
  CHECK(identity_text(bob) ==
        "account ID   " + format_account_id(bob) + "\nfingerprint  " + fingerprint(bob) + "\n");
}

TEST_CASE("a passphrase file gives its first line", "[cli][unit]") {
  test::TempDir dir("nightjar-cli");
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  };
  auto p = read_passphrase_file(write("plain", "correct horse\nsecond line\n"));
  REQUIRE(p);
  CHECK(text_of(**p) == "correct horse");
  p = read_passphrase_file(write("crlf", "battery staple\r\n"));
  REQUIRE(p);
  CHECK(text_of(**p) == "battery staple");
  p = read_passphrase_file(write("no-newline", " spaces kept "));
  REQUIRE(p);
  CHECK(text_of(**p) == " spaces kept ");
  p = read_passphrase_file(write("longest", std::string(max_passphrase_bytes, 'p') + "\n"));
  REQUIRE(p);
  CHECK((*p)->bytes().size() == max_passphrase_bytes);

  const fs::path empty = write("empty", "\nsecond\n");
  p = read_passphrase_file(empty);
  REQUIRE_FALSE(p);
  CHECK(p.error() == "the first line of the passphrase file " + empty.string() + " is empty");
  const fs::path too_long = write("long", std::string(max_passphrase_bytes + 1, 'p'));
  p = read_passphrase_file(too_long);
  REQUIRE_FALSE(p);
  CHECK(p.error() == "the first line of the passphrase file " + too_long.string() +
                         " is longer than 1024 bytes");
  p = read_passphrase_file(dir / "missing");
  REQUIRE_FALSE(p);
  CHECK(p.error() == "cannot read the passphrase file " + (dir / "missing").string() +
                         ": No such file or directory");
}

TEST_CASE("the passphrase is read from where the options say", "[cli][unit]") {
  test::TempDir dir("nightjar-cli");
  std::ofstream(dir / "pw") << "from the file\n";
  CliOptions o;
  o.passphrase_source = PassphraseSource::file;
  o.passphrase_file = dir / "pw";
  auto p = obtain_passphrase(o, PassphrasePurpose::create);
  REQUIRE(p);
  CHECK(text_of(**p) == "from the file");

  o.passphrase_source = PassphraseSource::environment;
  ::setenv("NIGHTJAR_PASSPHRASE", "from the environment", 1);
  p = obtain_passphrase(o, PassphrasePurpose::unlock);
  ::unsetenv("NIGHTJAR_PASSPHRASE");
  REQUIRE(p);
  CHECK(text_of(**p) == "from the environment");
}

TEST_CASE("the CLI parses the group commands and send --group", "[cli][unit]") {
  const std::string a = format_account_id(key_of(1));
  const std::string b = format_account_id(key_of(2));
  const std::string gid = format_group_id(key_of(3));
  auto o = parse_ok({"group", "create", "Sunday", "hikers"});
  CHECK(o.command == Command::group_create);
  CHECK(o.group_name == "Sunday hikers");
  o = parse_ok({"group", "add", "hikers", a, b, "--json"});
  CHECK(o.command == Command::group_add);
  CHECK(o.group == "hikers");
  CHECK(o.accounts == std::vector<AccountKey>{key_of(1), key_of(2)});
  CHECK(o.json);
  o = parse_ok({"group", "remove", gid, a});
  CHECK(o.command == Command::group_remove);
  CHECK(o.group == gid);
  CHECK(parse_ok({"group", "promote", gid, b}).command == Command::group_promote);
  o = parse_ok({"group", "rename", gid, "new", "name"});
  CHECK(o.command == Command::group_rename);
  CHECK(o.group_name == "new name");
  CHECK(parse_ok({"group", "leave", "hikers"}).command == Command::group_leave);
  CHECK(parse_ok({"group", "list", "--json"}).command == Command::group_list);
  CHECK(parse_ok({"group", "members", "hikers"}).command == Command::group_members);
  o = parse_ok({"send", "--group", "hikers", "see", "you"});
  CHECK(o.group == "hikers");
  CHECK_FALSE(o.to.has_value());
  CHECK(o.text == "see you");
  CHECK(parse_ok({"help", "group"}).help_topic == HelpTopic::group);
  CHECK(parse_ok({"group", "add", "--help"}).help_topic == HelpTopic::group);
  CHECK(help_text(HelpTopic::group).find("nightjar group add GROUP ID...") != std::string::npos);
}

TEST_CASE("bad group command lines get one line saying what is wrong", "[cli][unit]") {
  const std::string a = format_account_id(key_of(1));
  std::string typo = a;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  CHECK(parse_error({"group"}) ==
        "`nightjar group` needs a subcommand: create, add, remove, promote, rename, leave, list or members");
  CHECK(parse_error({"group", "join", "x"}) ==
        "unknown subcommand 'group join': use create, add, remove, promote, rename, leave, list or members");
  CHECK(parse_error({"group", "create"}) == "`nightjar group create` needs the group's NAME");
  CHECK(parse_error({"group", "create", std::string(65, 'x')}).starts_with("bad group name"));
  CHECK(parse_error({"group", "add", "hikers"}) ==
        "`nightjar group add` needs the GROUP and at least one account ID");
  CHECK(parse_error({"group", "add", "hikers", a, typo}) ==
        "account ID 2: checksum mismatch: a character is mistyped");
  CHECK(parse_error({"group", "add", "hikers", a, a}) == "account ID 2 is given twice");
  CHECK(parse_error({"group", "add", "hikers", format_group_id(key_of(4))}) ==
        "account ID 1: not an account ID: this is a group ID (account IDs start with \"nj\")");
  CHECK(parse_error({"group", "leave"}) == "`nightjar group leave` needs the GROUP (its ID or its name)");
  CHECK(parse_error({"group", "leave", "a", "b"}) == "unexpected argument 'b'");
  CHECK(parse_error({"group", "list", "x"}) == "unexpected argument 'x'");
  CHECK(parse_error({"group", "list", "--timeout", "5"}) ==
        "--timeout is not an option of `nightjar group list` (see `nightjar help group`)");
  CHECK(parse_error({"send", "--to", a, "--group", "hikers", "hi"}) ==
        "send to one account (--to) or one group (--group), not both");
  CHECK(parse_error({"group", "rename", "hikers"}) == "`nightjar group rename` needs the GROUP and its new NAME");
}

TEST_CASE("the CLI parses the contact commands and names where IDs go", "[cli][unit]") {
  const std::string a = format_account_id(key_of(1));
  auto o = parse_ok({"contact", "add", "alice", a});
  CHECK(o.command == Command::contact_add);
  CHECK(o.contact_name == "alice");
  CHECK(o.contact_arg == a);
  CHECK(parse_ok({"contact", "list", "--json"}).command == Command::contact_list);
  CHECK(parse_ok({"contact", "remove", "alice"}).contact_name == "alice");
  o = parse_ok({"contact", "rename", "alice", "Alice B"});
  CHECK(o.command == Command::contact_rename);
  CHECK(o.contact_arg == "Alice B");
  o = parse_ok({"contact", "verify", "alice", "--yes"});
  CHECK(o.command == Command::contact_verify);
  CHECK(o.yes);
  CHECK(parse_ok({"contact", "requests"}).command == Command::contact_requests);
  CHECK(parse_ok({"contact", "block", a}).contact_arg == a);
  CHECK(parse_ok({"contact", "unblock", "alice"}).command == Command::contact_unblock);
  // A name where an ID goes is looked up when the command runs.
  o = parse_ok({"send", "--to", "alice", "hi"});
  CHECK_FALSE(o.to.has_value());
  CHECK(o.to_name == "alice");
  o = parse_ok({"group", "add", "hikers", "alice", a, "bob"});
  CHECK(o.accounts == std::vector<AccountKey>{key_of(1)});
  CHECK(o.names == std::vector<std::string>{"alice", "bob"});
  CHECK(parse_ok({"help", "contact"}).help_topic == HelpTopic::contact);
  CHECK(help_text(HelpTopic::contact).find("nightjar contact add NAME ID") != std::string::npos);
  CHECK(help_text(HelpTopic::general).find("contact add NAME ID") != std::string::npos);
}

TEST_CASE("bad contact command lines get one line saying what is wrong", "[cli][unit]") {
  const std::string a = format_account_id(key_of(1));
  std::string typo = a;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  CHECK(parse_error({"contact"}) ==
        "`nightjar contact` needs a subcommand: add, list, remove, rename, verify, requests, block or unblock");
  CHECK(parse_error({"contact", "add", "alice"}) == "`nightjar contact add` needs a NAME and an account ID");
  CHECK(parse_error({"contact", "add", "alice", typo}) ==
        "account ID: checksum mismatch: a character is mistyped");
  CHECK(parse_error({"contact", "add", a, a}) == "a contact's name must not look like an account or group ID");
  CHECK(parse_error({"contact", "add", "a", a, "b"}) == "unexpected argument 'b'");
  CHECK(parse_error({"contact", "remove"}) == "`nightjar contact remove` needs the contact's NAME");
  CHECK(parse_error({"contact", "list", "--yes"}) ==
        "--yes is not an option of `nightjar contact list` (see `nightjar help contact`)");
  // A mistyped ID is still an ID's error, not an unknown name.
  CHECK(parse_error({"send", "--to", typo, "hi"}) == "--to: checksum mismatch: a character is mistyped");
  CHECK(parse_error({"group", "add", "hikers", "alice", "alice"}) == "contact \"alice\" is given twice");
  CHECK(parse_error({"purge", "now"}) == "unexpected argument 'now'");
  CHECK(parse_error({"purge", "--to", "x"}) ==
        "--to is not an option of `nightjar purge` (see `nightjar help purge`)");
  CHECK(parse_ok({"purge", "--yes"}).yes);
  CHECK_FALSE(parse_ok({"purge"}).yes);
}

TEST_CASE("the CLI parses history, purge --local and daemon", "[cli][unit]") {
  auto o = parse_ok({"history"});
  CHECK(o.command == Command::history);
  CHECK(o.conversation.empty());
  CHECK(o.limit == 20);
  o = parse_ok({"history", "ben", "--limit", "5", "--json"});
  CHECK(o.conversation == "ben");
  CHECK(o.limit == 5);
  CHECK(parse_error({"history", "ben", "ann"}) == "unexpected argument 'ann'");
  CHECK(parse_error({"history", "--limit", "0"}) == "--limit: between 1 and 100000 messages");
  o = parse_ok({"purge", "--local", "--yes"});
  CHECK(o.local);
  CHECK(o.yes);
  CHECK_FALSE(parse_ok({"purge", "--yes"}).local);
  o = parse_ok({"daemon"});
  CHECK(o.command == Command::daemon);
  CHECK_FALSE(o.stdio);
  CHECK(o.socket_path.empty());
  CHECK(parse_ok({"daemon", "--stdio"}).stdio);
  CHECK(parse_ok({"daemon", "--socket", "/tmp/nj.sock"}).socket_path == "/tmp/nj.sock");
  CHECK(parse_error({"daemon", "--stdio", "--socket", "/tmp/x"}) == "--stdio or --socket, not both");
  CHECK(parse_error({"daemon", "--socket", std::string(120, 'x')}) == "--socket: a socket path is at most 100 bytes");
  CHECK(parse_error({"daemon", "--json"}) == "--json is not an option of `nightjar daemon` (see `nightjar help daemon`)");
  CHECK(parse_error({"history", "--local"}) ==
        "--local is not an option of `nightjar history` (see `nightjar help history`)");
  for (auto topic : {HelpTopic::history, HelpTopic::purge, HelpTopic::daemon})
    CHECK(help_text(topic).rfind("Usage: nightjar ", 0) == 0);
  CHECK(help_text(HelpTopic::general).find("daemon") != std::string::npos);
}
