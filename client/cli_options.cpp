#include "client/cli_options.hpp"

// GCC 12 reports a "potential null pointer dereference" inside libstdc++ when
// Boost.Program_options' typed_value<std::string>::notify is inlined here.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/program_options.hpp>
#include <algorithm>
#include <memory>
#include <set>
#include <sstream>
#include <vector>

#include "client/contacts.hpp"
#include "client/envelope.hpp"
#include "client/group_messages.hpp"

#ifndef NIGHTJAR_VERSION
#define NIGHTJAR_VERSION "0.1.0"
#endif

namespace nightjar::client::cli {
namespace {

namespace po = boost::program_options;
using OptionPtr = boost::shared_ptr<po::option_description>;

constexpr std::uint32_t max_timeout_seconds = 3600;
// Help fits an 80-column terminal.
constexpr unsigned line_length = 80;
constexpr unsigned description_length = 40;

Failure<UsageError> usage(std::string message) {
  return fail(UsageError{std::move(message)});
}

// Every option exists once; the descriptions below share them, so that help
// for a command lists exactly what parsing accepts for it.
struct OptionTable {
  OptionPtr help{new po::option_description("help,h", po::bool_switch(),
                                            "print help (for COMMAND if given) and exit")};
  OptionPtr version{
      new po::option_description("version", po::bool_switch(), "print the version and exit")};
  OptionPtr profile{new po::option_description(
      "profile", po::value<std::string>()->value_name("DIR"),
      "profile directory: identity and client state (default: $NIGHTJAR_PROFILE, "
      "else $XDG_DATA_HOME/nightjar or ~/.local/share/nightjar)")};
  OptionPtr network{new po::option_description(
      "network", po::value<std::string>()->value_name("FILE"),
      "network file (default: $NIGHTJAR_NETWORK, else PROFILE/network.conf)")};
  OptionPtr passphrase_file{new po::option_description(
      "passphrase-file", po::value<std::string>()->value_name("FILE"),
      "read the passphrase from the first line of FILE (default: $NIGHTJAR_PASSPHRASE, "
      "else ask on the terminal)")};
  OptionPtr log_level{new po::option_description(
      "log-level", po::value<std::string>()->value_name("LEVEL"),
      "trace, debug, info, warn (default), error, critical or off; logs go to stderr")};
  OptionPtr json{
      new po::option_description("json", po::bool_switch(), "print JSON, one object per line")};
  OptionPtr timeout{
      new po::option_description("timeout", po::value<std::uint32_t>()->value_name("SECONDS"),
                                 "how long to wait for the network's directory (default 20)")};
  OptionPtr force{new po::option_description(
      "force", po::bool_switch(), "replace an existing identity (its account is lost for good)")};
  OptionPtr to{new po::option_description("to", po::value<std::string>()->value_name("ID|NAME"),
                                          "the recipient: an account ID or a contact's name")};
  OptionPtr yes{new po::option_description("yes", po::bool_switch(),
                                           "do it without asking (for scripts)")};
  OptionPtr stdio{new po::option_description("stdio", po::bool_switch(),
                                             "daemon: speak JSON-RPC on standard input and output")};
  OptionPtr socket{new po::option_description("socket", po::value<std::string>()->value_name("PATH"),
                                              "daemon: the Unix socket (default PROFILE/daemon.sock)")};
  OptionPtr local{new po::option_description("local", po::bool_switch(),
                                             "purge: erase the local message history too")};
  OptionPtr limit{new po::option_description("limit", po::value<std::size_t>()->value_name("N"),
                                             "history: the last N messages (default 20)")};
  OptionPtr group{new po::option_description(
      "group", po::value<std::string>()->value_name("GROUP"),
      "send to a group you are in instead (its ID or its name)")};
  OptionPtr file{
      new po::option_description("file", po::value<std::string>()->value_name("FILE"),
                                 "send the content of FILE instead of TEXT ('-': standard input)")};
  OptionPtr follow{new po::option_description("follow", po::bool_switch(),
                                              "keep waiting for messages until SIGINT or SIGTERM")};
  OptionPtr delete_{new po::option_description(
      "delete", po::bool_switch(), "delete each message from the network once it is read")};
  OptionPtr words{
      new po::option_description("words", po::value<std::vector<std::string>>()->multitoken(), "")};

  po::options_description common(bool with_version) const {
    po::options_description d("Common options", line_length, description_length);
    for (const auto& o : {help, profile, network, passphrase_file, log_level})
      d.add(o);
    if (with_version) d.add(version);
    return d;
  }
  po::options_description for_id() const {
    po::options_description d("Options of `nightjar id`", line_length, description_length);
    d.add(force);
    d.add(json);
    return d;
  }
  po::options_description for_send() const {
    po::options_description d("Options of `nightjar send`", line_length, description_length);
    for (const auto& o : {to, group, file, json, timeout})
      d.add(o);
    return d;
  }
  po::options_description for_group() const {
    po::options_description d("Options of `nightjar group`", line_length, description_length);
    for (const auto& o : {json, timeout})
      d.add(o);
    return d;
  }
  po::options_description for_contact() const {
    po::options_description d("Options of `nightjar contact`", line_length, description_length);
    for (const auto& o : {yes, json})
      d.add(o);
    return d;
  }
  po::options_description for_purge() const {
    po::options_description d("Options of `nightjar purge`", line_length, description_length);
    for (const auto& o : {local, yes, json, timeout})
      d.add(o);
    return d;
  }
  po::options_description for_chat() const {
    po::options_description d("Options of `nightjar chat`", line_length, description_length);
    d.add(timeout);
    return d;
  }
  po::options_description for_daemon() const {
    po::options_description d("Options of `nightjar daemon`", line_length, description_length);
    for (const auto& o : {stdio, socket, timeout})
      d.add(o);
    return d;
  }
  po::options_description for_history() const {
    po::options_description d("Options of `nightjar history`", line_length, description_length);
    for (const auto& o : {limit, json})
      d.add(o);
    return d;
  }
  po::options_description for_recv() const {
    po::options_description d("Options of `nightjar recv`", line_length, description_length);
    for (const auto& o : {follow, delete_, json, timeout})
      d.add(o);
    return d;
  }
  po::options_description all() const {
    po::options_description d;
    for (const auto& o : {help, version, profile, network, passphrase_file, log_level, json,
                          timeout, force, to, group, file, follow, delete_, yes, local, limit,
                          stdio, socket, words})
      d.add(o);
    return d;
  }
};

const char* command_name(Command c) {
  switch (c) {
    case Command::id_new:
      return "id new";
    case Command::id_show:
      return "id show";
    case Command::send:
      return "send";
    case Command::recv:
      return "recv";
    case Command::group_create:
      return "group create";
    case Command::group_add:
      return "group add";
    case Command::group_remove:
      return "group remove";
    case Command::group_promote:
      return "group promote";
    case Command::group_rename:
      return "group rename";
    case Command::group_leave:
      return "group leave";
    case Command::group_list:
      return "group list";
    case Command::group_members:
      return "group members";
    case Command::contact_add:
      return "contact add";
    case Command::contact_list:
      return "contact list";
    case Command::contact_remove:
      return "contact remove";
    case Command::contact_rename:
      return "contact rename";
    case Command::contact_verify:
      return "contact verify";
    case Command::contact_requests:
      return "contact requests";
    case Command::contact_block:
      return "contact block";
    case Command::contact_unblock:
      return "contact unblock";
    case Command::purge:
      return "purge";
    case Command::history:
      return "history";
    case Command::daemon:
      return "daemon";
    case Command::chat:
      return "chat";
    case Command::help:
      return "help";
    case Command::version:
      return "version";
  }
  return "?";
}

// What `nightjar help` calls the command.
bool is_group_command(Command c) {
  switch (c) {
    case Command::group_create:
    case Command::group_add:
    case Command::group_remove:
    case Command::group_promote:
    case Command::group_rename:
    case Command::group_leave:
    case Command::group_list:
    case Command::group_members:
      return true;
    default:
      return false;
  }
}

bool is_contact_command(Command c) {
  switch (c) {
    case Command::contact_add:
    case Command::contact_list:
    case Command::contact_remove:
    case Command::contact_rename:
    case Command::contact_verify:
    case Command::contact_requests:
    case Command::contact_block:
    case Command::contact_unblock:
      return true;
    default:
      return false;
  }
}

std::string help_name(Command c) {
  if (is_group_command(c)) return "group";
  if (is_contact_command(c)) return "contact";
  return c == Command::id_new || c == Command::id_show ? "id" : command_name(c);
}

// The options a command accepts besides the common ones.
std::set<std::string> specific_options(Command c) {
  switch (c) {
    case Command::id_new:
      return {"force", "json"};
    case Command::id_show:
      return {"json"};
    case Command::send:
      return {"to", "group", "file", "json", "timeout"};
    case Command::group_list:
    case Command::group_members:
    case Command::contact_add:
    case Command::contact_list:
    case Command::contact_remove:
    case Command::contact_rename:
    case Command::contact_requests:
    case Command::contact_block:
    case Command::contact_unblock:
      return {"json"};
    case Command::contact_verify:
      return {"json", "yes"};
    case Command::purge:
      return {"json", "yes", "timeout", "local"};
    case Command::history:
      return {"json", "limit"};
    case Command::daemon:
      return {"stdio", "socket", "timeout"};
    case Command::chat:
      return {"timeout"};
    case Command::group_create:
    case Command::group_add:
    case Command::group_remove:
    case Command::group_promote:
    case Command::group_rename:
    case Command::group_leave:
      return {"json", "timeout"};
    case Command::recv:
      return {"follow", "delete", "json", "timeout"};
    case Command::help:
    case Command::version:
      return {};
  }
  return {};
}

Result<HelpTopic, UsageError> topic_of(const std::string& word) {
  if (word == "id") return HelpTopic::id;
  if (word == "send") return HelpTopic::send;
  if (word == "recv") return HelpTopic::recv;
  if (word == "group") return HelpTopic::group;
  if (word == "contact") return HelpTopic::contact;
  if (word == "purge") return HelpTopic::purge;
  if (word == "history") return HelpTopic::history;
  if (word == "daemon") return HelpTopic::daemon;
  if (word == "chat") return HelpTopic::chat;
  if (word == "help") return HelpTopic::general;
  return usage("unknown command '" + word +
               "': the commands are id, send, recv, chat, group, contact, history, purge and daemon");
}

bool flag(const po::variables_map& vm, const char* name) {
  return vm.count(name) && vm[name].as<bool>();
}

// The option was written on the command line (a bool_switch always has a
// value; it counts only when set).
bool given(const po::variables_map& vm, const std::string& name) {
  if (!vm.count(name) || vm[name].defaulted()) return false;
  const boost::any& v = vm[name].value();
  if (v.type() == typeid(bool)) return boost::any_cast<bool>(v);
  return true;
}

Result<std::filesystem::path, UsageError> default_profile(const Environment& env) {
  if (!env.nightjar_profile.empty()) return std::filesystem::path(env.nightjar_profile);
  // The XDG base directory spec: a relative XDG_DATA_HOME is to be ignored.
  if (!env.xdg_data_home.empty() && env.xdg_data_home.front() == '/')
    return std::filesystem::path(env.xdg_data_home) / "nightjar";
  if (!env.home.empty()) return std::filesystem::path(env.home) / ".local" / "share" / "nightjar";
  return usage("no profile directory: HOME is not set (use --profile DIR or NIGHTJAR_PROFILE)");
}

bool known_log_level(const std::string& level) {
  static const std::set<std::string> levels{"trace", "debug",    "info", "warn",
                                            "error", "critical", "off"};
  return levels.count(level) != 0;
}

std::string join(const std::vector<std::string>& words, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < words.size(); ++i) {
    if (i > from) out += ' ';
    out += words[i];
  }
  return out;
}

// Which command the words name; the remaining words are the command's
// arguments (only send takes any).
Result<Command, UsageError> command_of(const std::vector<std::string>& words) {
  if (words.empty()) return usage("no command given (see `nightjar --help`)");
  const std::string& w = words[0];
  if (w == "id") {
    if (words.size() < 2) return usage("`nightjar id` needs a subcommand: new or show");
    if (words[1] != "new" && words[1] != "show")
      return usage("unknown subcommand 'id " + words[1] + "': use `id new` or `id show`");
    if (words.size() > 2) return usage("unexpected argument '" + words[2] + "'");
    return words[1] == "new" ? Command::id_new : Command::id_show;
  }
  if (w == "send") return Command::send;
  if (w == "recv") {
    if (words.size() > 1) return usage("unexpected argument '" + words[1] + "'");
    return Command::recv;
  }
  if (w == "group") {
    static const std::vector<std::pair<std::string, Command>> subcommands{
        {"create", Command::group_create}, {"add", Command::group_add},
        {"remove", Command::group_remove}, {"promote", Command::group_promote},
        {"rename", Command::group_rename}, {"leave", Command::group_leave},
        {"list", Command::group_list},     {"members", Command::group_members}};
    if (words.size() < 2)
      return usage("`nightjar group` needs a subcommand: create, add, remove, promote, rename, "
                   "leave, list or members");
    for (const auto& [name, c] : subcommands)
      if (words[1] == name) return c;
    return usage("unknown subcommand 'group " + words[1] +
                 "': use create, add, remove, promote, rename, leave, list or members");
  }
  if (w == "contact") {
    static const std::vector<std::pair<std::string, Command>> subcommands{
        {"add", Command::contact_add},           {"list", Command::contact_list},
        {"remove", Command::contact_remove},     {"rename", Command::contact_rename},
        {"verify", Command::contact_verify},     {"requests", Command::contact_requests},
        {"block", Command::contact_block},       {"unblock", Command::contact_unblock}};
    const std::string all = "add, list, remove, rename, verify, requests, block or unblock";
    if (words.size() < 2) return usage("`nightjar contact` needs a subcommand: " + all);
    for (const auto& [name, c] : subcommands)
      if (words[1] == name) return c;
    return usage("unknown subcommand 'contact " + words[1] + "': use " + all);
  }
  if (w == "chat") {
    if (words.size() > 1) return usage("unexpected argument '" + words[1] + "'");
    return Command::chat;
  }
  if (w == "daemon") {
    if (words.size() > 1) return usage("unexpected argument '" + words[1] + "'");
    return Command::daemon;
  }
  if (w == "history") {
    if (words.size() > 2) return usage("unexpected argument '" + words[2] + "'");
    return Command::history;
  }
  if (w == "purge") {
    if (words.size() > 1) return usage("unexpected argument '" + words[1] + "'");
    return Command::purge;
  }
  if (w == "help") return Command::help;
  auto topic = topic_of(w);
  return topic.failure();
}

// The arguments of a group command: words[2...].
Result<void, UsageError> fill_group(const std::vector<std::string>& words, CliOptions& o) {
  const std::string cmd = std::string("`nightjar ") + command_name(o.command) + "`";
  const std::size_t n = words.size() - 2;  // after "group SUB"
  auto name_from = [&](std::size_t from) -> Result<void, UsageError> {
    o.group_name = join(words, from);
    if (!group::valid_name(o.group_name))
      return usage("bad group name: 1 to " + std::to_string(group::max_name_bytes) +
                   " bytes of text, without control characters");
    return {};
  };
  switch (o.command) {
    case Command::group_list:
      if (n > 0) return usage("unexpected argument '" + words[2] + "'");
      return {};
    case Command::group_create:
      if (n == 0) return usage(cmd + " needs the group's NAME");
      return name_from(2);
    case Command::group_leave:
    case Command::group_members:
      if (n == 0) return usage(cmd + " needs the GROUP (its ID or its name)");
      if (n > 1) return usage("unexpected argument '" + words[3] + "'");
      o.group = words[2];
      return {};
    case Command::group_rename:
      if (n < 2) return usage(cmd + " needs the GROUP and its new NAME");
      o.group = words[2];
      return name_from(3);
    case Command::group_add:
    case Command::group_remove:
    case Command::group_promote: {
      if (n < 2) return usage(cmd + " needs the GROUP and at least one account ID");
      o.group = words[2];
      if (n - 1 > group::max_changes)
        return usage("at most " + std::to_string(group::max_changes) + " accounts at once");
      for (std::size_t i = 3; i < words.size(); ++i) {
        auto id = parse_account_id(words[i]);
        if (!id && !looks_like_id(words[i])) {
          if (std::find(o.names.begin(), o.names.end(), words[i]) != o.names.end())
            return usage("contact \"" + words[i] + "\" is given twice");
          o.names.push_back(words[i]);
          continue;
        }
        if (!id) return usage("account ID " + std::to_string(i - 2) + ": " + to_string(id.error()));
        if (std::find(o.accounts.begin(), o.accounts.end(), *id) != o.accounts.end())
          return usage("account ID " + std::to_string(i - 2) + " is given twice");
        o.accounts.push_back(*id);
      }
      return {};
    }
    default:
      return {};
  }
}

// The arguments of a contact command: words[2...].
Result<void, UsageError> fill_contact(const std::vector<std::string>& words, CliOptions& o) {
  const std::string cmd = std::string("`nightjar ") + command_name(o.command) + "`";
  const std::size_t n = words.size() - 2;
  std::size_t want = 0;
  std::string needs;
  switch (o.command) {
    case Command::contact_list:
    case Command::contact_requests:
      break;
    case Command::contact_add:
      want = 2;
      needs = " needs a NAME and an account ID";
      break;
    case Command::contact_rename:
      want = 2;
      needs = " needs the NAME and the new name";
      break;
    case Command::contact_remove:
    case Command::contact_verify:
      want = 1;
      needs = " needs the contact's NAME";
      break;
    case Command::contact_block:
    case Command::contact_unblock:
      want = 1;
      needs = " needs a contact's NAME or an account ID";
      break;
    default:
      return {};
  }
  if (n < want) return usage(cmd + needs);
  if (n > want) return usage("unexpected argument '" + words[2 + want] + "'");
  if (o.command == Command::contact_block || o.command == Command::contact_unblock) {
    o.contact_arg = words[2];
    return {};
  }
  if (want >= 1) o.contact_name = words[2];
  if (want == 2) o.contact_arg = words[3];
  if (o.command == Command::contact_add) {
    if (auto problem = contact_name_problem(o.contact_name)) return usage(*problem);
    auto id = parse_account_id(o.contact_arg);
    if (!id) return usage("account ID: " + to_string(id.error()));
  }
  if (o.command == Command::contact_rename)
    if (auto problem = contact_name_problem(o.contact_arg)) return usage(*problem);
  return {};
}

Result<void, UsageError> fill_send(const po::variables_map& vm,
                                   const std::vector<std::string>& words, CliOptions& o) {
  if (vm.count("to") && vm.count("group"))
    return usage("send to one account (--to) or one group (--group), not both");
  if (vm.count("group")) {
    o.group = vm["group"].as<std::string>();
    if (o.group.empty()) return usage("--group: the group is empty (its ID or its name)");
  } else {
    if (!vm.count("to")) return usage("`nightjar send` needs the recipient: --to ID or --group GROUP");
    const std::string text = vm["to"].as<std::string>();
    auto to = parse_account_id(text);
    if (to) {
      o.to = *to;
    } else if (looks_like_id(text) || text.find_first_not_of(" \t\r\n") == std::string::npos) {
      return usage("--to: " + to_string(to.error()));
    } else {
      o.to_name = text;
    }
  }
  const bool has_text = words.size() > 1;
  if (vm.count("file")) {
    if (has_text) return usage("give the message as TEXT or with --file, not both");
    const std::string file = vm["file"].as<std::string>();
    if (file.empty()) return usage("--file: the file name is empty ('-' reads standard input)");
    o.file = file;
    return {};
  }
  if (!has_text) return usage("no message: give TEXT or --file FILE ('-' for standard input)");
  o.text = join(words, 1);
  if (o.text.size() > max_message_bytes)
    return usage("message too long: " + std::to_string(o.text.size()) + " bytes, at most " +
                 std::to_string(max_message_bytes));
  return {};
}

// A command's options and the common ones, in aligned columns.
po::options_description with_common(const po::options_description& specific,
                                    const OptionTable& table) {
  po::options_description d(line_length, description_length);
  d.add(specific).add(table.common(false));
  return d;
}

}  // namespace

Result<CliOptions, UsageError> parse_command_line(std::span<const std::string> args,
                                                  const Environment& env) {
  // "words" is how the positional arguments reach Boost; it is not an option.
  for (const std::string& a : args) {
    if (a == "--") break;
    if (a == "--words" || a.starts_with("--words="))
      return usage("unrecognised option '--words' (see `nightjar --help`)");
  }
  const OptionTable table;
  po::positional_options_description positional;
  positional.add("words", -1);
  po::variables_map vm;
  try {
    const std::vector<std::string> argv(args.begin(), args.end());
    const int style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argv)
                  .options(table.all())
                  .positional(positional)
                  .style(style)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage(std::string(e.what()) + " (see `nightjar --help`)");
  }
  const std::vector<std::string> words =
      vm.count("words") ? vm["words"].as<std::vector<std::string>>() : std::vector<std::string>();

  CliOptions o;
  if (flag(vm, "help") || (!words.empty() && words[0] == "help")) {
    o.command = Command::help;
    // `nightjar help send`, `nightjar send --help`, `nightjar id new --help`
    const std::size_t at = !words.empty() && words[0] == "help" ? 1 : 0;
    if (words.size() > at) {
      auto topic = topic_of(words[at]);
      if (!topic) return topic.failure();
      o.help_topic = *topic;
    }
    return o;
  }
  if (flag(vm, "version")) {
    o.command = Command::version;
    return o;
  }
  auto command = command_of(words);
  if (!command) return command.failure();
  o.command = *command;

  const std::set<std::string> allowed = specific_options(o.command);
  for (const auto& [name, value] : vm) {
    static const std::set<std::string> common{"profile", "network", "passphrase-file", "log-level",
                                              "words"};
    if (common.count(name) || allowed.count(name) || !given(vm, name)) continue;
    return usage("--" + name + " is not an option of `nightjar " + command_name(o.command) +
                 "` (see `nightjar help " + help_name(o.command) + "`)");
  }

  if (vm.count("profile")) {
    o.profile_dir = vm["profile"].as<std::string>();
    if (o.profile_dir.empty()) return usage("--profile: the directory name is empty");
  } else {
    auto profile = default_profile(env);
    if (!profile) return profile.failure();
    o.profile_dir = *profile;
  }
  if (vm.count("network")) {
    o.network_file = vm["network"].as<std::string>();
    if (o.network_file.empty()) return usage("--network: the file name is empty");
  } else if (!env.nightjar_network.empty()) {
    o.network_file = env.nightjar_network;
  } else {
    o.network_file = o.profile_dir / network_file_name;
  }
  if (vm.count("passphrase-file")) {
    o.passphrase_source = PassphraseSource::file;
    o.passphrase_file = vm["passphrase-file"].as<std::string>();
    if (o.passphrase_file.empty()) return usage("--passphrase-file: the file name is empty");
  } else if (env.has_nightjar_passphrase) {
    o.passphrase_source = PassphraseSource::environment;
  }
  if (vm.count("log-level")) {
    o.log_level = vm["log-level"].as<std::string>();
    if (!known_log_level(o.log_level))
      return usage("--log-level: unknown level '" + o.log_level +
                   "' (trace, debug, info, warn, error, critical or off)");
  }
  if (vm.count("timeout")) {
    o.timeout_seconds = vm["timeout"].as<std::uint32_t>();
    if (o.timeout_seconds == 0 || o.timeout_seconds > max_timeout_seconds)
      return usage("--timeout: between 1 and " + std::to_string(max_timeout_seconds) + " seconds");
  }
  o.json = flag(vm, "json");
  o.force = flag(vm, "force");
  o.follow = flag(vm, "follow");
  o.delete_after_read = flag(vm, "delete");

  if (o.command == Command::send) {
    if (auto r = fill_send(vm, words, o); !r) return r.failure();
  }
  if (is_group_command(o.command)) {
    if (auto r = fill_group(words, o); !r) return r.failure();
  }
  if (o.command == Command::purge) {
    o.yes = flag(vm, "yes");
    o.local = flag(vm, "local");
  }
  if (o.command == Command::daemon) {
    o.stdio = flag(vm, "stdio");
    if (vm.count("socket")) {
      if (o.stdio) return usage("--stdio or --socket, not both");
      o.socket_path = vm["socket"].as<std::string>();
      if (o.socket_path.empty()) return usage("--socket: the path is empty");
      if (o.socket_path.string().size() > 100) return usage("--socket: a socket path is at most 100 bytes");
    }
  }
  if (o.command == Command::history) {
    if (words.size() > 1) o.conversation = words[1];
    if (vm.count("limit")) {
      o.limit = vm["limit"].as<std::size_t>();
      if (o.limit == 0 || o.limit > 100'000) return usage("--limit: between 1 and 100000 messages");
    }
  }
  if (is_contact_command(o.command)) {
    o.yes = flag(vm, "yes");
    if (auto r = fill_contact(words, o); !r) return r.failure();
  }
  return o;
}

const char* command_label(Command c) {
  return command_name(c);
}

std::string version_text() {
  return std::string("nightjar ") + NIGHTJAR_VERSION + "\n";
}

std::string help_text(HelpTopic topic) {
  const OptionTable table;
  std::ostringstream out;
  switch (topic) {
    case HelpTopic::general:
      out << "Usage: nightjar [OPTIONS] COMMAND [ARGS]\n\n"
             "Sends and receives end-to-end encrypted messages through a Nightjar network.\n\n"
             "Commands:\n"
             "  id new                  create your identity (asks a passphrase twice)\n"
             "  id show                 print your account ID and its fingerprint\n"
             "  send --to ID TEXT       send TEXT to the account ID\n"
             "  send --to ID --file F   send the content of F ('-': standard input)\n"
             "  recv                    print the messages that have arrived, then exit\n"
             "  recv --follow           print messages as they arrive, until Ctrl-C\n"
             "  group create NAME       start a closed group (you are its admin)\n"
             "  group add GROUP ID...   invite accounts (group remove, promote, rename,\n"
             "                          leave, list, members: see `nightjar help group`)\n"
             "  send --group GROUP TEXT send TEXT to every member of GROUP\n"
             "  history [NAME|GROUP]    your conversations, or one with delivery marks\n"
             "  purge                   erase everything the network holds for you\n"
             "  chat                    the interactive terminal client\n"
             "  daemon                  run for programs: JSON-RPC on a socket or stdio\n"
             "  contact add NAME ID     know an account by NAME (contact list, remove,\n"
             "                          rename, verify, requests, block, unblock: see\n"
             "                          `nightjar help contact`); a NAME works wherever\n"
             "                          an account ID does\n"
             "  help [COMMAND]          this text, or a command's options\n\n"
          << table.common(true)
          << "\nEnvironment:\n"
             "  NIGHTJAR_PROFILE       the profile directory (like --profile)\n"
             "  NIGHTJAR_NETWORK       the network file (like --network)\n"
             "  NIGHTJAR_PASSPHRASE    the identity's passphrase, for scripts (the terminal\n"
             "                         is asked when neither it nor --passphrase-file is set)\n"
             "  XDG_DATA_HOME, HOME    where the default profile is\n\n"
             "Exit status: 0 on success, 1 when the command failed (network unreachable,\n"
             "wrong passphrase, no identity, ...), 2 when the command line is wrong.\n"
             "Run `nightjar help COMMAND` for a command's options; docs/CLI.md has examples.\n";
      break;
    case HelpTopic::id:
      out << "Usage: nightjar id new [--force] [--json] [OPTIONS]\n"
             "       nightjar id show [--json] [OPTIONS]\n\n"
             "`id new` creates your identity, an Ed25519 key pair whose public key is your\n"
             "account ID, in PROFILE/identity, encrypted under a passphrase. It refuses to\n"
             "replace an existing identity unless --force is given.\n"
             "`id show` prints the account ID (give it to the people who write to you) and\n"
             "its fingerprint: compare all eight groups with your contact's copy, out of\n"
             "band, to be sure that nobody swapped the ID on the way.\n\n"
          << with_common(table.for_id(), table);
      break;
    case HelpTopic::send:
      out << "Usage: nightjar send --to ID [OPTIONS] TEXT...\n"
             "       nightjar send --to ID --file FILE [OPTIONS]\n"
             "       nightjar send --group GROUP [OPTIONS] TEXT...\n\n"
             "Sends one message of at most 65536 bytes to the account ID, through onion\n"
             "paths into the recipient's swarm, and prints a receipt: the message ID, the\n"
             "number of fragments, the fewest replicas any fragment was stored on, and\n"
             "whether it is forward-secret: sealed in a conversation started from the\n"
             "prekey bundle the recipient publishes (a recipient without one gets a\n"
             "version 1 envelope, signed and sealed to its long-term key).\n"
             "The words of TEXT are joined by single spaces; `--` before TEXT lets it\n"
             "start with '-'.\n\n"
          << with_common(table.for_send(), table);
      break;
    case HelpTopic::group:
      out << "Usage: nightjar group create NAME [OPTIONS]\n"
             "       nightjar group add GROUP ID... [OPTIONS]\n"
             "       nightjar group remove GROUP ID... [OPTIONS]\n"
             "       nightjar group promote GROUP ID... [OPTIONS]\n"
             "       nightjar group rename GROUP NAME [OPTIONS]\n"
             "       nightjar group leave GROUP [OPTIONS]\n"
             "       nightjar group list [--json] [OPTIONS]\n"
             "       nightjar group members GROUP [--json] [OPTIONS]\n\n"
             "Closed groups of up to 1000 members (docs/GROUPS.md). A group has its own ID\n"
             "(60 characters starting with \"ng\"); GROUP is that ID or the group's name.\n"
             "Only admins add, remove, promote and rename; `create` makes you the admin.\n"
             "Invitations and changes go to each member over your forward-secret\n"
             "conversations: a member must have run a client once (to publish its prekey\n"
             "bundle). A change that could not reach a member yet is kept and sent again\n"
             "by every later nightjar command that goes online. Removing a member, or one\n"
             "leaving, makes everyone change keys: the member opens nothing sent after.\n"
             "Send with `nightjar send --group GROUP TEXT`; `nightjar recv` shows group\n"
             "messages with the group's name. `list` and `members` work offline.\n\n"
          << with_common(table.for_group(), table);
      break;
    case HelpTopic::contact:
      out << "Usage: nightjar contact add NAME ID [OPTIONS]\n"
             "       nightjar contact list [--json] [OPTIONS]\n"
             "       nightjar contact remove NAME [OPTIONS]\n"
             "       nightjar contact rename NAME NEW-NAME [OPTIONS]\n"
             "       nightjar contact verify NAME [--yes] [OPTIONS]\n"
             "       nightjar contact requests [--json] [OPTIONS]\n"
             "       nightjar contact block NAME|ID [OPTIONS]\n"
             "       nightjar contact unblock NAME|ID [OPTIONS]\n\n"
             "Your contacts: accounts you know by a name, kept encrypted in the profile.\n"
             "A contact's name works wherever an account ID does (`send --to NAME`,\n"
             "`group add GROUP NAME`), and `recv` shows it instead of the ID.\n"
             "A first message from an account that is not a contact is a message request:\n"
             "`recv` marks it [request], and `contact requests` lists who wrote. Accept one\n"
             "with `contact add NAME ID`, or `contact block ID`: a blocked account's\n"
             "messages are dropped unseen. `verify` shows your fingerprint and the\n"
             "contact's: compare them with the person on a channel you trust, then confirm\n"
             "(or give --yes) to mark the contact verified. These commands work offline.\n\n"
          << with_common(table.for_contact(), table);
      break;
    case HelpTopic::chat:
      out << "Usage: nightjar chat [OPTIONS]\n\n"
             "An interactive terminal client: your conversations on the left with their\n"
             "unread messages, the open one on the right with a mark on each message you\n"
             "sent (\u2026 sending, \u2713 stored, \u2713\u2713 delivered, \u2717 failed), and an input line.\n"
             "Enter sends; Up/Down or Tab open another conversation; Ctrl-C, Ctrl-D or\n"
             "/quit leave. Commands: /open NAME|ID|GROUP, /add NAME ID, /verify NAME\n"
             "[yes], /block and /unblock NAME|ID, /group create NAME, /group add GROUP\n"
             "NAME|ID..., /help. Logs go to PROFILE/chat.log while it runs.\n\n"
          << with_common(table.for_chat(), table);
      break;
    case HelpTopic::daemon:
      out << "Usage: nightjar daemon [--stdio | --socket PATH] [OPTIONS]\n\n"
             "Runs the client until SIGINT or SIGTERM (with --stdio: until standard input\n"
             "ends) for programs to drive with JSON-RPC 2.0, one object per line: send,\n"
             "subscribe (notifications of messages, delivery states and group changes),\n"
             "history, contacts.*, groups.*, id.show (docs/JSONRPC.md). It listens on a\n"
             "Unix socket in the profile (mode 0600) unless --stdio is given. One process\n"
             "per profile: while it runs, other nightjar commands on the profile refuse\n"
             "and say which process holds it.\n\n"
          << with_common(table.for_daemon(), table);
      break;
    case HelpTopic::history:
      out << "Usage: nightjar history [NAME|ID|GROUP] [--limit N] [--json] [OPTIONS]\n\n"
             "Without an argument: your conversations, the most recent first, with their\n"
             "unread messages. With one (a contact's name, an account ID, or a group's\n"
             "name or ID): its last N messages, oldest first, each sent message with its\n"
             "state: sending, stored (a quorum of the recipient's swarm holds it),\n"
             "delivered (the recipient's client sent a receipt: contacts send them) or\n"
             "failed. Showing a conversation marks it read. Works offline; the history\n"
             "is kept encrypted in the profile (a year, 10000 messages per conversation).\n\n"
          << with_common(table.for_history(), table);
      break;
    case HelpTopic::purge:
      out << "Usage: nightjar purge [--local] [--yes] [--json] [OPTIONS]\n\n"
             "Erases every message the network holds for your account: each member of\n"
             "your swarm is asked to delete what it stores for you (messages stored\n"
             "before the request; what others send afterwards arrives as usual). Your\n"
             "prekey bundle stays published. --local also erases the message history\n"
             "kept in the profile. Asks for confirmation on the terminal; --yes\n"
             "confirms in advance (for scripts). This cannot be undone.\n\n"
          << with_common(table.for_purge(), table);
      break;
    case HelpTopic::recv:
      out << "Usage: nightjar recv [--follow] [--delete] [--json] [OPTIONS]\n\n"
             "Prints the messages that have arrived since the last time, each once, and\n"
             "exits; with --follow it keeps waiting for new ones until SIGINT or SIGTERM\n"
             "and then exits with status 0. Lines look like\n"
             "  [2024-05-01 12:34:56] njabcdefghij: text\n"
             "(local time, the first 12 characters of the sender's account ID); --json\n"
             "prints one object per message with the whole sender ID, the time, the\n"
             "message ID and the text (base64 when it is not UTF-8).\n\n"
          << with_common(table.for_recv(), table);
      break;
  }
  return out.str();
}

}  // namespace nightjar::client::cli
