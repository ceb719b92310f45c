// The nightjar command line as data: parse_command_line() turns the
// arguments and the few environment variables the CLI reads into a
// CliOptions (which command, which profile, network file and passphrase
// source, the recipient's parsed account key, ...), or a UsageError with the
// one line to print and exit status 2. It does no I/O, so every command,
// option, default and error message is unit-tested (tests/unit/
// test_cli_options.cpp); client/main.cpp reads the environment, calls it and
// hands the result to the commands (client/cli_commands.hpp).
//
// Grammar: nightjar [OPTIONS] COMMAND [SUBCOMMAND] [OPTIONS] [ARGS]; options
// may come before or after the command words, `--` ends the options (for a
// message that starts with '-'), long options are never abbreviated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/account.hpp"
#include "routing/result.hpp"

namespace nightjar::client::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // the command ran and failed
inline constexpr int exit_usage = 2;    // the command line is wrong

enum class Command {
  help,     // --help, `help [COMMAND]`, `COMMAND --help`
  version,  // --version
  id_new,
  id_show,
  send,
  recv,
  group_create,   // group create NAME
  group_add,      // group add GROUP ID...
  group_remove,   // group remove GROUP ID...
  group_promote,  // group promote GROUP ID...
  group_rename,   // group rename GROUP NAME
  group_leave,    // group leave GROUP
  group_list,     // group list
  group_members,  // group members GROUP
  contact_add,       // contact add NAME ID
  contact_list,      // contact list
  contact_remove,    // contact remove NAME
  contact_rename,    // contact rename NAME NEW
  contact_verify,    // contact verify NAME [--yes]
  contact_requests,  // contact requests
  contact_block,     // contact block NAME|ID
  contact_unblock,   // contact unblock NAME|ID
  purge,             // purge [--local] [--yes]
  history,           // history [NAME|ID|GROUP] [--limit N]
  daemon,            // daemon [--stdio | --socket PATH]
  chat,              // chat
};

// What help_text() describes: everything, or one command.
enum class HelpTopic { general, id, send, recv, group, contact, purge, history, daemon, chat };

// Where the passphrase comes from, in order of precedence.
enum class PassphraseSource { file, environment, terminal };

// The environment variables the CLI reads. An empty variable counts as unset.
struct Environment {
  std::string nightjar_profile;          // NIGHTJAR_PROFILE
  std::string nightjar_network;          // NIGHTJAR_NETWORK
  bool has_nightjar_passphrase = false;  // NIGHTJAR_PASSPHRASE is set and not empty
  std::string xdg_data_home;             // XDG_DATA_HOME
  std::string home;                      // HOME
};

inline constexpr std::string_view identity_file_name = "identity";
inline constexpr std::string_view network_file_name = "network.conf";
inline constexpr std::uint32_t default_timeout_seconds = 20;

struct CliOptions {
  Command command = Command::help;
  HelpTopic help_topic = HelpTopic::general;

  std::filesystem::path profile_dir;
  std::filesystem::path network_file;
  PassphraseSource passphrase_source = PassphraseSource::terminal;
  std::filesystem::path passphrase_file;                    // for PassphraseSource::file
  std::string log_level = "warn";                           // one spdlog knows
  std::uint32_t timeout_seconds = default_timeout_seconds;  // to get a directory
  bool json = false;

  bool force = false;  // id new

  // send: the recipient and either the text from the command line (its
  // words joined by single spaces) or a file ("-": standard input). The
  // recipient is an account ID (`to`) or a contact's name (`to_name`, looked
  // up in the profile's contact book when the command runs).
  std::optional<AccountKey> to;
  std::string to_name;
  // send --group, and the group commands: a group ID or a group's name (the
  // profile's groups decide which, when the command runs).
  std::string group;
  std::string text;
  std::optional<std::filesystem::path> file;

  std::vector<AccountKey> accounts;  // group add, remove, promote: IDs given
  std::vector<std::string> names;    // ... and contacts' names given

  // contact: the name (add, remove, rename, verify), the other word (add:
  // the ID; rename: the new name; block, unblock: a name or an ID).
  std::string contact_name;
  std::string contact_arg;
  bool yes = false;  // contact verify, purge: without asking
  bool local = false;  // purge: the local history too

  // history: whose conversation (a contact's name, an account ID, a group's
  // name or ID; empty: the list of conversations), and how many messages.
  std::string conversation;
  std::size_t limit = 20;

  // daemon: JSON-RPC over standard input and output, or a Unix socket
  // (empty: PROFILE/daemon.sock).
  bool stdio = false;
  std::filesystem::path socket_path;
  std::string group_name;            // group create, rename

  bool follow = false;  // recv
  bool delete_after_read = false;

  std::filesystem::path identity_file() const { return profile_dir / identity_file_name; }
};

struct UsageError {
  std::string message;  // one line, without the "nightjar: " prefix
  int exit_code() const { return exit_usage; }
};

// `args` excludes the program name (argv[1..]).
Result<CliOptions, UsageError> parse_command_line(std::span<const std::string> args,
                                                  const Environment& env);

// The text `--help` prints for a topic (several lines, ends with '\n').
std::string help_text(HelpTopic topic);
std::string version_text();
// How `nightjar help` writes a command ("group add", "daemon").
const char* command_label(Command c);

}  // namespace nightjar::client::cli
