// Public records: small signed records an account publishes in its own swarm
// (the records namespace of the storage API, swarm/storage_messages.hpp) for
// anyone to read through a path, without the owner's signature on the read.
// The first is the prekey bundle (client/x3dh.hpp) that starts a
// forward-secret conversation.
//
// A record names its owner, a type and a version, and is signed by the
// owner's Ed25519 key (its account ID). A mailbox keeps the newest version of
// each type: a node refuses to store an older one (status stale) and deletes,
// with tombstones that replication passes on, the versions a newer one
// replaces; a lookup answers the newest it holds. Versions are the owner's to
// choose (the client uses its clock in milliseconds); a record also carries
// the time it stops being valid, which caps its storage time, so a replayed
// old record cannot outlive what its owner meant.
//
// Layout (docs/STORAGE-FORMAT.md, "Public records"):
//   01 || type (1) || owner (32) || version (8) || expires_ms (8)
//      || var16 payload || signature (64)
// signed: "nightjar record v1" || every byte before the signature.
#pragma once

#include <cstdint>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"

namespace nightjar {

enum class RecordType : std::uint8_t {
  prekey_bundle = 1,  // client/x3dh.hpp, encode_bundle
};

struct PublicRecord {
  static constexpr std::uint8_t format = 1;
  // A record fits one store request in one default onion cell (the request
  // adds 41 bytes), whatever the network's body limit.
  static constexpr std::size_t max_bytes = 480;
  static constexpr std::size_t overhead = 1 + 1 + 32 + 8 + 8 + 2 + 64;
  static constexpr std::size_t max_payload = max_bytes - overhead;

  std::uint8_t type = 0;
  Ed25519PublicKey owner;
  std::uint64_t version = 0;
  std::uint64_t expires_ms = 0;  // unix milliseconds; not valid (nor stored) after this
  std::vector<std::uint8_t> payload;
  Ed25519Signature signature;
};

// The bytes the owner signs.
std::vector<std::uint8_t> record_signed_bytes(const PublicRecord& r);
// Signs `r` with the owner's key (r.owner must be its public half).
void sign_record(PublicRecord& r, const Ed25519SecretKey& key);
bool verify_record(const PublicRecord& r);

// Canonical: decode accepts only what encode produces (format 01, a payload
// of at most max_payload bytes, nothing left over). decode does not verify
// the signature. encode throws std::length_error for a payload over
// max_payload (a programming error, as in WireWriter).
std::vector<std::uint8_t> encode(const PublicRecord& r);
Result<PublicRecord, WireError> decode_record(Bytes bytes);

}  // namespace nightjar
