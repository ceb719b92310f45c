// NetworkConfig: the one file that names a network. Nodes and clients load
// the same file: the network ID (also the link prologue, so nodes of two
// networks never link) and the directory authorities (signing key, link key,
// address). `nightjar-node --authority` writes it for a new network.
//
// Text format (docs/PROTOCOL.md, "Network config file"), one
// setting per line, '#' starts a comment (anywhere on a line), blank lines and
// CRLF line ends are fine:
//   network_id = <64 hex digits>
//   name = <free text, optional>
//   threshold = <signatures a directory needs; optional, default a majority>
//   authority = <name> <ed25519 key hex> <x25519 link key hex> <HOST:PORT>
// (one authority line per authority, at least one, at most max_authorities).
// network_id, name and threshold may appear once each; unknown settings,
// duplicate authority names or keys, and a threshold above the number of
// authorities are errors. Errors name the file and line: parse problems are
// configuration errors, so they are written for the operator who has to fix
// the file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/endpoint.hpp"
#include "routing/result.hpp"

namespace nightjar {

using NetworkId = Hash256;

struct AuthorityInfo {
  static constexpr std::size_t max_name_bytes = 32;

  std::string name;  // 1..32 of A-Z a-z 0-9 . _ -
  Ed25519PublicKey id;
  X25519PublicKey link_key;
  Endpoint address;  // IPv4 or IPv6 literal with a port, no IPv6 scope
  friend bool operator==(const AuthorityInfo&, const AuthorityInfo&) = default;
};

struct NetworkConfig {
  static constexpr std::size_t max_authorities = 16;
  static constexpr std::size_t max_name_bytes = 100;
  static constexpr std::size_t max_file_bytes = 64 * 1024;

  NetworkId network_id;
  std::string name;  // printable, no '#', no leading or trailing blanks
  std::vector<AuthorityInfo> authorities;
  std::uint32_t threshold = 0;  // 0: a majority of the authorities

  // Signatures a directory needs: `threshold`, or a majority.
  std::uint32_t signatures_needed() const;
  const AuthorityInfo* find_authority(const Ed25519PublicKey& id) const;

  // Empty when the config could be written and read back, else what is
  // wrong: the rules parse() enforces, for a config built in code.
  std::string check() const;

  // `source` names the text in error messages ("network.conf:3: ...").
  static Result<NetworkConfig, std::string> parse(std::string_view text,
                                                  std::string_view source = "network.conf");
  // Reads and parses a file of at most max_file_bytes.
  static Result<NetworkConfig, std::string> load(const std::filesystem::path& path);
  // A commented file that parse() reads back to an equal config. Throws
  // std::invalid_argument when check() fails.
  std::string to_text() const;
  // Writes to_text() atomically (temporary file, fsync, rename), mode 0644.
  Result<void, std::string> save(const std::filesystem::path& path) const;

  friend bool operator==(const NetworkConfig&, const NetworkConfig&) = default;
};

}  // namespace nightjar
