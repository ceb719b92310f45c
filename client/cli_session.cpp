// send and recv: one Client on a loop of the command's own, from start to
// stop (see cli_commands.hpp).
#include <fcntl.h>
#include <sys/file.h>
#pragma GCC diagnostic ignored "-Wnull-dereference"  // Boost.Program_options, see node/main.cpp
#include <boost/program_options.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <system_error>

#include "client/cli_commands.hpp"
#include "client/cli_session.hpp"
#include "client/cli_output.hpp"
#include "client/client.hpp"
#include "client/envelope.hpp"

namespace nightjar::client::cli {
namespace {

namespace fs = std::filesystem;

}  // namespace

void print_error(std::ostream& err, const std::string& message) {
  err << "nightjar: " << message << "\n" << std::flush;
}

Result<NetworkConfig, std::string> load_network(const CliOptions& o) {
  std::error_code ec;
  if (!fs::exists(o.network_file, ec))
    return fail("no network file at " + o.network_file.string() +
                ": pass --network FILE or set NIGHTJAR_NETWORK (the network's operators "
                "publish it; `nightjar-node --authority` writes one for a new network)");
  return NetworkConfig::load(o.network_file);
}

Result<ProfileLock, std::string> ProfileLock::take(const CliOptions& o) {
  const fs::path file = o.profile_dir / "lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot open " + file.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[128] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    const auto nl = holder.find('\n');
    const std::string pid = holder.substr(0, nl);
    const std::string command = nl == std::string::npos ? std::string() : holder.substr(nl + 1);
    return fail("the profile " + o.profile_dir.string() + " is in use by `nightjar " +
                (command.empty() ? std::string("?") : command.substr(0, command.find('\n'))) + "` (PID " +
                (pid.empty() ? std::string("?") : pid) + ")" +
                (command.rfind("daemon", 0) == 0 ? ": use its API (docs/JSONRPC.md), or stop it" : ""));
  }
  const std::string me = std::to_string(::getpid()) + "\n" + command_label(o.command) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    ::close(fd);
    return fail("cannot write " + file.string() + ": " + std::strerror(errno));
  }
  return ProfileLock(fd);
}

ProfileLock::~ProfileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

Result<ProfileSettings, std::string> load_settings(const CliOptions& o) {
  ProfileSettings s;
  const fs::path file = o.profile_dir / settings_file_name;
  std::error_code ec;
  if (!fs::exists(file, ec)) return s;
  std::ifstream in(file);
  if (!in) return fail("cannot read " + file.string());
  namespace po = boost::program_options;
  po::options_description keys;
  std::uint64_t days = s.history.max_age_ms / (24ull * 3600 * 1000);
  std::size_t messages = s.history.max_per_conversation;
  keys.add_options()("history-days", po::value<std::uint64_t>(&days))(
      "history-messages", po::value<std::size_t>(&messages))("receipts", po::value<bool>(&s.receipts));
  try {
    po::variables_map vm;
    po::store(po::parse_config_file(in, keys), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(file.string() + ": " + e.what());
  }
  if (days < 1 || days > 36500) return fail(file.string() + ": history-days: between 1 and 36500");
  if (messages < 1 || messages > 1'000'000)
    return fail(file.string() + ": history-messages: between 1 and 1000000");
  s.history.max_age_ms = days * 24ull * 3600 * 1000;
  s.history.max_per_conversation = messages;
  return s;
}

namespace {

// Reads at most max_message_bytes from `fd`; one byte more means too long.
Result<std::vector<std::uint8_t>, std::string> read_message(int fd, const std::string& name) {
  std::vector<std::uint8_t> data(max_message_bytes + 1);
  std::size_t size = 0;
  while (size < data.size()) {
    const ssize_t n = ::read(fd, data.data() + size, data.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read " + name + ": " + std::strerror(errno));
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > max_message_bytes)
    return fail("message too long: " + name + " has more than " +
                std::to_string(max_message_bytes) + " bytes");
  data.resize(size);
  return data;
}

Result<std::vector<std::uint8_t>, std::string> message_of(const CliOptions& o) {
  if (!o.file) return std::vector<std::uint8_t>(o.text.begin(), o.text.end());
  if (o.file->string() == "-") return read_message(STDIN_FILENO, "standard input");
  const int fd = ::open(o.file->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot open " + o.file->string() + ": " + std::strerror(errno));
  auto data = read_message(fd, o.file->string());
  ::close(fd);
  return data;
}

}  // namespace

std::shared_ptr<spdlog::logger> stderr_logger(const std::string& level) {
  auto log = std::make_shared<spdlog::logger>(
      "nightjar", std::make_shared<spdlog::sinks::stderr_color_sink_st>());
  log->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(log);
  return log;
}

int run_send(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto network = load_network(o);
  if (!succeeded(network, err)) return exit_failure;
  auto text = message_of(o);
  if (!succeeded(text, err)) return exit_failure;
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  auto resolved = resolve_names(o, *identity);
  if (!succeeded(resolved, err)) return exit_failure;
  Session session(o, std::move(*network), std::move(*identity), err);
  if (!o.group.empty()) return run_send_group(o, *text, session, out);
  const AccountKey to = *resolved->to;
  return session.run([&] {
    session.client().send(to, *text, [&](Result<SendReceipt, SendFailure> r) {
      if (session.finished()) return;
      if (!r) {
        std::string why = std::string("cannot send: ") + to_string(r.error().error);
        if (!r.error().detail.empty()) why += ": " + r.error().detail;
        session.finish(exit_failure, why);
        return;
      }
      out << (o.json ? receipt_json(*r, to) : receipt_line(*r, to)) << "\n" << std::flush;
      session.finish(out ? exit_ok : exit_failure,
                     out ? std::string() : "cannot write the receipt to standard output");
    });
  });
}

int run_recv(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto network = load_network(o);
  if (!succeeded(network, err)) return exit_failure;
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  Session session(o, std::move(*network), std::move(*identity), err);
  auto group_name = [&](const GroupKey& g) {
    for (const auto& info : session.client().groups())
      if (info.id == g) return info.name;
    return std::string();
  };
  auto print = [&](const ReceivedMessage& m) {
    if (session.finished()) return;
    const std::string name = m.group ? group_name(*m.group) : std::string();
    const Contact* c = session.client().contacts().find(m.sender);
    const std::string sender = c ? c->name : std::string();
    out << (o.json ? message_json(m, name, sender) : message_line(m, TimeZone::local, name, sender))
        << "\n" << std::flush;
    if (!out) session.finish(exit_failure, "cannot write to standard output");
  };
  // Changes of the groups' membership are shown where messages are.
  session.on_group_event = [&](const GroupKey& g, const group::GroupEvent& e) {
    if (session.finished()) return;
    const std::string name = group_name(g);
    out << (o.json ? group_event_json(g, name, e) : group_event_line(name, e)) << "\n" << std::flush;
  };
  if (o.follow) session.on_signal = [&] { session.finish(exit_ok); };
  return session.run([&] {
    session.client().receive(print, [&](Result<void, std::string> done) {
      if (session.finished()) return;
      if (!done) {
        session.finish(exit_failure, "cannot receive: " + done.error());
        return;
      }
      if (!o.follow) {
        // The account's prekey bundle is published, and what the messages
        // asked of it in its groups (its keys for a group it joined, for
        // instance) leaves, before the command ends; what cannot yet stays
        // queued in the profile.
        session.client().settle([&] {
          if (!session.finished()) session.finish(exit_ok);
        });
        return;
      }
      session.client().subscribe(print);
    });
  });
}

int run_purge(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto network = load_network(o);
  if (!succeeded(network, err)) return exit_failure;
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  if (!o.yes) {
    if (!::isatty(STDIN_FILENO)) {
      print_error(err, "purge erases every message the network holds for this account: give --yes "
                       "to confirm (there is no terminal to ask on)");
      return exit_failure;
    }
    out << "This erases every message the network holds for " << format_account_id(identity->account())
        << (o.local ? ", and the message history in " + o.profile_dir.string() : std::string())
        << ".\nIt cannot be undone. Type \"yes\" to go on: " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || answer != "yes") {
      out << "nothing erased\n" << std::flush;
      return exit_failure;
    }
  }
  Session session(o, std::move(*network), std::move(*identity), err);
  return session.run([&] {
    session.client().delete_all([&](Result<DeleteAllReport, std::string> r) {
      if (session.finished()) return;
      if (!r) return session.finish(exit_failure, "cannot purge: " + r.error());
      for (const auto& p : r->problems) spdlog::warn("purge: {}", p);
      std::optional<std::string> local_error;
      if (o.local)
        if (auto erased = session.client().erase_history(); !erased) local_error = erased.error();
      if (o.json) {
        nlohmann::ordered_json j;
        j["members"] = r->members;
        j["reached"] = r->reached;
        j["deleted"] = r->deleted;
        j["problems"] = r->problems;
        if (o.local) j["history_erased"] = !local_error;
        out << j.dump() << "\n";
      } else {
        out << "erased what " << r->reached << " of " << r->members
            << " members of your swarm held for you (" << r->deleted << " message"
            << (r->deleted == 1 ? "" : "s") << ")";
        if (r->reached < r->members) out << "; run it again to reach the others";
        if (o.local && !local_error) out << "; the local history is erased";
        out << "\n";
      }
      out << std::flush;
      if (local_error) return session.finish(exit_failure, "cannot erase the local history: " + *local_error);
      session.finish(r->reached == r->members ? exit_ok : exit_failure,
                     r->reached == r->members ? std::string() : "not every member was reached");
    });
  });
}

}  // namespace nightjar::client::cli
