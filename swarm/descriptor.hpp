// NodeDescriptor: what a node tells the directory authorities about itself,
// signed with its Ed25519 identity key: its link key (for the link handshake),
// its onion keys for the current and the next onion epoch, its address and the
// protocol version it speaks. Authorities check the signature and that the node
// is reachable, then copy the descriptor into the directory they sign.
//
// Canonical binary encoding (docs/PROTOCOL.md, "Node descriptor"):
// one byte string per descriptor, at most max_encoded_bytes long; decode()
// rejects anything that encode() would not produce, so a descriptor has
// exactly one encoding and a decoded one re-encodes to the same bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/endpoint.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"
#include "swarm/swarm_ring.hpp"

namespace nightjar {

struct OnionKeyInfo {
  std::uint64_t epoch = 0;
  X25519PublicKey key;
  std::uint64_t valid_from = 0;   // unix seconds, inclusive
  std::uint64_t valid_until = 0;  // unix seconds, exclusive
  friend bool operator==(const OnionKeyInfo&, const OnionKeyInfo&) = default;
};

enum class DescriptorError {
  malformed,       // truncated, trailing bytes, or a length out of range
  bad_format,      // unknown format byte, or protocol version 0
  bad_address,     // unknown address family, or port 0
  bad_onion_keys,  // none, more than two, or validity windows out of order
  bad_signature,   // the identity key's signature does not verify
};
const char* to_string(DescriptorError e);

struct NodeDescriptor {
  static constexpr std::uint8_t format = 1;
  static constexpr std::size_t max_encoded_bytes = 512;
  static constexpr std::size_t max_onion_keys = 2;
  // IPv4 and one onion key; IPv6 and two onion keys.
  static constexpr std::size_t min_encoded_bytes = 203;
  static constexpr std::size_t largest_encoded_bytes = 271;
  // Prepended to the encoded fields to form what the identity key signs, so
  // a descriptor signature can never be mistaken for any other signature.
  static constexpr char signature_label[] = "nightjar descriptor v1";

  std::uint16_t protocol_version = 1;
  NodeId id;
  X25519PublicKey link_key;
  Endpoint address;                      // where other nodes and clients connect
  std::uint64_t published = 0;           // unix seconds, when the node signed it
  std::vector<OnionKeyInfo> onion_keys;  // current, then next; by epoch
  Ed25519Signature signature;

  // Signs with the identity key; `id` must be its public key.
  void sign(const Ed25519SecretKey& identity);
  // The signature verifies under `id`.
  bool verify() const;

  // Everything decode() checks but the signature: protocol version not 0, an
  // IPv4 or IPv6 address with a port, 1..max_onion_keys onion keys in
  // increasing epoch order, each with valid_from < valid_until.
  Result<void, DescriptorError> check() const;

  // Canonical bytes, signature last. Encoding a descriptor that fails check()
  // is a programming error and throws std::invalid_argument.
  std::vector<std::uint8_t> encode() const;
  void encode(WireWriter& w) const;
  std::size_t encoded_size() const;
  // What the identity key signs: signature_label || the encoding without the
  // signature.
  std::vector<std::uint8_t> signed_bytes() const;
  // Parses and checks everything but the signature (call verify() for that).
  static Result<NodeDescriptor, DescriptorError> decode(Bytes bytes);
  static Result<NodeDescriptor, DescriptorError> decode(WireReader& r);

  // The onion key a client should build for at `now` (the one whose window
  // holds now with the latest epoch), or null.
  const OnionKeyInfo* onion_key_at(std::uint64_t now) const;

  friend bool operator==(const NodeDescriptor&, const NodeDescriptor&) = default;
};

}  // namespace nightjar
