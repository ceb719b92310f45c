// Getting the identity's passphrase into the nightjar CLI: from the first
// line of a file (--passphrase-file, for scripts), from NIGHTJAR_PASSPHRASE,
// or typed on the controlling terminal with echo off (asked twice when a new
// identity is created). The passphrase goes straight into a Passphrase
// (client/identity.hpp), which wipes it; the buffers used on the way are
// wiped too. Called by client/cli_commands.cpp before it loads or saves the
// identity file.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "client/cli_options.hpp"
#include "client/identity.hpp"
#include "routing/result.hpp"

namespace nightjar::client::cli {

// Longer lines are refused rather than cut, so that a passphrase is never
// silently shortened.
inline constexpr std::size_t max_passphrase_bytes = 1024;

// The first line of `path`, without its "\n" or "\r\n". Errors (one line,
// naming the file): missing or unreadable file, empty first line, a first
// line over max_passphrase_bytes.
Result<std::unique_ptr<Passphrase>, std::string> read_passphrase_file(
    const std::filesystem::path& path);

// Prints `prompt` on the controlling terminal and reads a line with echo
// off; the terminal's settings come back also when SIGINT, SIGTERM, SIGHUP or
// SIGQUIT arrives meanwhile. Fails when there is no terminal.
Result<std::unique_ptr<Passphrase>, std::string> read_passphrase_terminal(std::string_view prompt);

enum class PassphrasePurpose {
  unlock,  // the passphrase of an existing identity file
  create,  // a new one: asked twice on the terminal, must match
};

// From the source `options` names (PassphraseSource); the environment
// variable is read here, not kept in CliOptions.
Result<std::unique_ptr<Passphrase>, std::string> obtain_passphrase(const CliOptions& options,
                                                                   PassphrasePurpose purpose);

}  // namespace nightjar::client::cli
