// The nightjar CLI's commands, run on a parsed command line: `id new` and
// `id show` work on the profile's identity file alone; `send` and `recv`
// load the network file and the identity, then run a Client
// (client/client.hpp) on a libuv loop of their own: start it, do the work,
// stop it and run the loop to its end. client/main.cpp calls run_command().
//
// Results go to `out` (one line each, flushed, so `recv --follow` can feed
// a pipe); every failure is one line "nightjar: ..." on `err`, and the
// return value is the exit status (cli_options.hpp: 0, 1 or 2).
#pragma once

#include <iosfwd>
#include <string>

#include "client/cli_options.hpp"
#include "client/identity.hpp"
#include "routing/result.hpp"

namespace nightjar::client::cli {

int run_command(const CliOptions& options, std::ostream& out, std::ostream& err);

// Checks that the profile has an identity file (before asking for a
// passphrase in vain), gets the passphrase and unlocks the file. The error is
// the line to print.
Result<Identity, std::string> unlock_identity(const CliOptions& options);

// The send and recv commands (client/cli_session.cpp).
int run_send(const CliOptions& options, std::ostream& out, std::ostream& err);
int run_recv(const CliOptions& options, std::ostream& out, std::ostream& err);
// The group commands (client/cli_groups.cpp).
int run_group(const CliOptions& options, std::ostream& out, std::ostream& err);
// The contact commands, and the lookup of contacts' names given where
// account IDs go (`send --to NAME`, `group add GROUP NAME`): the options
// with every name replaced by its account (client/cli_contacts.cpp).
int run_contact(const CliOptions& options, std::ostream& out, std::ostream& err);
Result<CliOptions, std::string> resolve_names(const CliOptions& options, const Identity& me);
// `purge`: the storage API's delete_all on every member of the own swarm
// (client/cli_session.cpp).
int run_purge(const CliOptions& options, std::ostream& out, std::ostream& err);
// `history` (client/cli_history.cpp): offline, from the profile.
int run_history(const CliOptions& options, std::ostream& out, std::ostream& err);
// `daemon` (client/cli_daemon.cpp): JSON-RPC 2.0 until a signal.
int run_daemon(const CliOptions& options, std::ostream& out, std::ostream& err);
// `chat` (client/cli_chat.cpp): the interactive terminal client.
int run_chat(const CliOptions& options, std::ostream& out, std::ostream& err);

}  // namespace nightjar::client::cli
