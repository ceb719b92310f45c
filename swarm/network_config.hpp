// NetworkConfig: the one file that names a network. Nodes and clients load
// the same file: the network ID (also the link prologue, so nodes of two
// networks never link) and the directory authorities (signing key, link key,
// address). `nightjar-node --authority` writes it for a new network.
//
// Text format, one setting per line, '#' starts a comment:
//   network_id = <64 hex digits>
//   name = <free text, optional>
//   threshold = <signatures a directory needs; optional, default a majority>
//   authority = <name> <ed25519 key hex> <x25519 link key hex> <HOST:PORT>
// (one authority line per authority, at least one). Errors name the line.
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
  std::string name;
  Ed25519PublicKey id;
  X25519PublicKey link_key;
  Endpoint address;
};

struct NetworkConfig {
  static constexpr std::size_t max_authorities = 16;

  NetworkId network_id;
  std::string name;
  std::vector<AuthorityInfo> authorities;
  std::uint32_t threshold = 0;  // 0: a majority of the authorities

  // Signatures a directory needs: `threshold`, or a majority.
  std::uint32_t signatures_needed() const;
  const AuthorityInfo* find_authority(const Ed25519PublicKey& id) const;

  static Result<NetworkConfig, std::string> parse(std::string_view text);
  static Result<NetworkConfig, std::string> load(const std::filesystem::path& path);
  std::string to_text() const;
  // Writes atomically (temporary file and rename), mode 0644.
  Result<void, std::string> save(const std::filesystem::path& path) const;
};

}  // namespace nightjar
