// Directory: the signed list of the network's nodes for one epoch, with their
// swarms and the network parameters. Authorities build it (node/authority),
// every node and client checks it (check_directory) and then routes and
// places messages by it alone.
//
// Canonical binary encoding (docs/PROTOCOL.md, "Directory"): the body
// (all fields but the signatures) is what each authority signs; the signatures
// follow it. Entries are sorted by node ID and unique, signatures by authority
// key and unique, so a directory has exactly one encoding. decode() checks
// the format but no signature (check_directory does the authorities'; nobody
// needs to verify the nodes' own descriptor signatures again, since the
// authorities did before signing).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "swarm/descriptor.hpp"
#include "swarm/network_config.hpp"
#include "swarm/network_params.hpp"
#include "swarm/swarm_ring.hpp"

namespace nightjar {

struct DirectoryEntry {
  NodeDescriptor node;
  SwarmId swarm = 0;
  friend bool operator==(const DirectoryEntry&, const DirectoryEntry&) = default;
};

struct AuthoritySignature {
  Ed25519PublicKey authority;
  Ed25519Signature signature;
  friend bool operator==(const AuthoritySignature&, const AuthoritySignature&) = default;
};

enum class DirectoryError {
  malformed,           // does not decode (garbage, truncated, trailing bytes)
  bad_format,          // unknown format byte
  bad_params,          // network parameters out of range
  bad_validity,        // valid_after is not before valid_until
  bad_entry,           // a descriptor that does not decode, or entries unsorted/duplicated
  wrong_network,       // another network's directory
  not_newer,           // not newer than the directory already held
  bad_signature,       // a configured authority's signature does not verify
  too_few_signatures,  // fewer valid signatures than the network requires
};
const char* to_string(DirectoryError e);

struct Directory {
  static constexpr std::uint8_t format = 2;  // 2: network parameters carry the defences
  static constexpr std::size_t max_entries = 20'000;
  static constexpr std::size_t max_signatures = 32;
  static constexpr std::size_t max_encoded_bytes = 16u << 20;
  static constexpr char digest_label[] = "nightjar directory v1";

  NetworkId network_id;
  std::uint64_t epoch = 0;
  std::uint64_t valid_after = 0;  // unix seconds
  std::uint64_t valid_until = 0;  // unix seconds
  NetworkParams params;
  std::vector<DirectoryEntry> entries;         // sorted by node ID
  std::vector<AuthoritySignature> signatures;  // sorted by authority key

  // BLAKE2b-256 of digest_label || the encoded body.
  Hash256 digest() const;
  // Encoding a directory that decode() would reject (unsorted or duplicate
  // entries or signatures, a descriptor that fails check(), bad params or
  // window, too many entries or signatures) is a programming error and throws
  // std::invalid_argument.
  std::vector<std::uint8_t> encode_body() const;
  std::vector<std::uint8_t> encode() const;
  static Result<Directory, DirectoryError> decode(Bytes bytes);

  // Adds (or replaces) this authority's signature over digest().
  void sign(const Ed25519KeyPair& authority);
  // Adds (or replaces) a signature made elsewhere, keeping the order; an
  // authority collecting its peers' signatures calls this.
  void add_signature(const AuthoritySignature& s);
  // Sorts entries by node ID (builders call this before signing).
  void sort_entries();

  const DirectoryEntry* find(const NodeId& id) const;
  SwarmAssignment assignment() const;
  std::vector<SwarmId> swarms() const;  // sorted, distinct
  std::vector<const DirectoryEntry*> members(SwarmId swarm) const;
  // The swarm that holds this recipient's messages; nullopt when empty. This
  // sorts the swarm IDs on every call: to place many recipients, call swarms()
  // once and nearest_swarm(swarms, ring_position(recipient)) for each.
  std::optional<SwarmId> swarm_for(const Ed25519PublicKey& recipient) const;

  friend bool operator==(const Directory&, const Directory&) = default;
};

// Whether a node or client should accept `d`: it belongs to this network, is
// newer than `held_epoch` (when one is held), has valid_after < valid_until,
// and carries valid signatures of at least config.signatures_needed()
// distinct configured authorities. Unknown signers are ignored, and an
// authority that signs twice counts once. A configured authority's bad
// signature is reported as bad_signature when the threshold is not met
// without it; when the threshold is met, bad signatures are ignored, so that
// one faulty or compromised authority cannot veto a directory the others
// agree on (it cannot forge one either, short of the threshold).
//
// The window is deliberately not compared with the local clock: a node or
// client with a wrong clock must still accept the newest directory (the
// caller may warn when now is outside [valid_after, valid_until)).
Result<void, DirectoryError> check_directory(const Directory& d, const NetworkConfig& config,
                                             std::optional<std::uint64_t> held_epoch);

}  // namespace nightjar
