#include "client/cli_commands.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ostream>
#include <system_error>

#include "client/cli_output.hpp"
#include "client/cli_passphrase.hpp"

namespace nightjar::client::cli {
namespace {

namespace fs = std::filesystem;

int failure(std::ostream& err, const std::string& message) {
  err << "nightjar: " << message << "\n" << std::flush;
  return exit_failure;
}

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(p, ec));
}

// Creates the profile directory (mode 0700: it will hold the identity and
// who one talks to) and any missing parents (the usual mode).
Result<void, std::string> make_profile_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (dir.has_parent_path()) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) return fail("cannot create " + dir.parent_path().string() + ": " + ec.message());
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail("cannot create the profile directory " + dir.string() + ": " +
                std::strerror(errno));
  return {};
}

int id_new(const CliOptions& o, std::ostream& out, std::ostream& err) {
  const fs::path file = o.identity_file();
  const bool replacing = path_exists(file);
  if (replacing && !o.force)
    return failure(err, "an identity already exists in " + o.profile_dir.string() +
                            " (`nightjar id show` shows it; `nightjar id new --force` replaces "
                            "it, and the old account is lost)");
  if (auto r = make_profile_dir(o.profile_dir); !r) return failure(err, r.error());
  auto passphrase = obtain_passphrase(o, PassphrasePurpose::create);
  if (!passphrase) return failure(err, passphrase.error());
  SystemRandom rng;
  const Identity identity = Identity::generate(rng);
  auto saved = save_identity(file, identity, **passphrase, rng, KdfLimits{},
                             replacing ? SaveMode::replace : SaveMode::create_new);
  if (!saved) return failure(err, saved.error().message);
  if (o.json) {
    out << identity_json(identity.account()) << "\n";
  } else {
    out << "created a new identity in " << file.string() << "\n"
        << identity_text(identity.account())
        << "Give the account ID to the people who will write to you, and compare all\n"
           "eight groups of the fingerprint with them on a channel you trust.\n";
  }
  out << std::flush;
  return exit_ok;
}

int id_show(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto identity = unlock_identity(o);
  if (!identity) return failure(err, identity.error());
  if (o.json)
    out << identity_json(identity->account()) << "\n";
  else
    out << identity_text(identity->account());
  out << std::flush;
  return exit_ok;
}

}  // namespace

Result<Identity, std::string> unlock_identity(const CliOptions& options) {
  const fs::path file = options.identity_file();
  if (!path_exists(file))
    return fail("no identity in " + options.profile_dir.string() + ": run `nightjar id new`");
  auto passphrase = obtain_passphrase(options, PassphrasePurpose::unlock);
  if (!passphrase) return passphrase.failure();
  auto identity = load_identity(file, **passphrase);
  if (!identity) return fail(identity.error().message);
  return std::move(*identity);
}

int run_command(const CliOptions& options, std::ostream& out, std::ostream& err) {
  switch (options.command) {
    case Command::help:
      out << help_text(options.help_topic) << std::flush;
      return exit_ok;
    case Command::version:
      out << version_text() << std::flush;
      return exit_ok;
    case Command::id_new:
      return id_new(options, out, err);
    case Command::id_show:
      return id_show(options, out, err);
    case Command::send:
      return run_send(options, out, err);
    case Command::recv:
      return run_recv(options, out, err);
    case Command::group_create:
    case Command::group_add:
    case Command::group_remove:
    case Command::group_promote:
    case Command::group_rename:
    case Command::group_leave:
    case Command::group_list:
    case Command::group_members:
      return run_group(options, out, err);
    case Command::contact_add:
    case Command::contact_list:
    case Command::contact_remove:
    case Command::contact_rename:
    case Command::contact_verify:
    case Command::contact_requests:
    case Command::contact_block:
    case Command::contact_unblock:
      return run_contact(options, out, err);
    case Command::purge:
      return run_purge(options, out, err);
    case Command::history:
      return run_history(options, out, err);
    case Command::daemon:
      return run_daemon(options, out, err);
    case Command::chat:
      return run_chat(options, out, err);
  }
  return failure(err, "unknown command");
}

}  // namespace nightjar::client::cli
