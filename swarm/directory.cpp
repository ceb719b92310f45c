#include "swarm/directory.hpp"

#include <algorithm>
#include <stdexcept>

namespace nightjar {
namespace {

// The smallest encoded entry: swarm ID, length prefix, and the smallest
// descriptor. Bounds how much a claimed entry count may make decode() reserve.
constexpr std::size_t min_entry_bytes = 8 + 2 + NodeDescriptor::min_encoded_bytes;
constexpr std::size_t signature_bytes = 32 + 64;

bool id_less(const NodeId& a, const NodeId& b) {
  return a.bytes < b.bytes;
}

// Why decode() would reject the body of `d`, or nullopt. Directories from
// decode() always pass; check_directory() calls this too, so that a
// hand-built directory is refused with a reason instead of an exception.
std::optional<DirectoryError> body_error(const Directory& d) {
  if (!d.params.check().empty()) return DirectoryError::bad_params;
  if (d.valid_after >= d.valid_until) return DirectoryError::bad_validity;
  if (d.entries.size() > Directory::max_entries) return DirectoryError::malformed;
  for (std::size_t i = 0; i < d.entries.size(); ++i) {
    if (!d.entries[i].node.check()) return DirectoryError::bad_entry;
    if (i > 0 && !id_less(d.entries[i - 1].node.id, d.entries[i].node.id))
      return DirectoryError::bad_entry;
  }
  return std::nullopt;
}

void write_body(const Directory& d, WireWriter& w) {
  if (auto e = body_error(d))
    throw std::invalid_argument(std::string("Directory::encode: ") + to_string(*e));
  w.u8(Directory::format).fixed(d.network_id).u64(d.epoch).u64(d.valid_after).u64(d.valid_until);
  d.params.encode(w);
  w.u32(static_cast<std::uint32_t>(d.entries.size()));
  for (const DirectoryEntry& e : d.entries) {
    w.u64(e.swarm).u16(static_cast<std::uint16_t>(e.node.encoded_size()));
    e.node.encode(w);
  }
}

// Enough for any body, so that encoding never reallocates.
std::size_t body_size_hint(const Directory& d) {
  return 128 + d.entries.size() * (8 + 2 + NodeDescriptor::largest_encoded_bytes);
}

Result<DirectoryEntry, DirectoryError> decode_entry(WireReader& r) {
  DirectoryEntry e;
  auto swarm = r.u64();
  if (!swarm) return fail(DirectoryError::malformed);
  e.swarm = *swarm;
  auto bytes = r.var16(NodeDescriptor::max_encoded_bytes);
  if (!bytes)
    return fail(bytes.error() == WireError::too_long ? DirectoryError::bad_entry
                                                     : DirectoryError::malformed);
  auto node = NodeDescriptor::decode(*bytes);
  if (!node) return fail(DirectoryError::bad_entry);
  e.node = std::move(*node);
  return e;
}

}  // namespace

const char* to_string(DirectoryError e) {
  switch (e) {
    case DirectoryError::malformed:
      return "malformed directory";
    case DirectoryError::bad_format:
      return "unknown directory format";
    case DirectoryError::bad_params:
      return "directory network parameters out of range";
    case DirectoryError::bad_validity:
      return "directory valid_after is not before valid_until";
    case DirectoryError::bad_entry:
      return "bad directory entry";
    case DirectoryError::wrong_network:
      return "directory of another network";
    case DirectoryError::not_newer:
      return "directory not newer than the one held";
    case DirectoryError::bad_signature:
      return "bad directory authority signature";
    case DirectoryError::too_few_signatures:
      return "too few directory authority signatures";
  }
  return "unknown directory error";
}

Hash256 Directory::digest() const {
  WireWriter w(sizeof digest_label - 1 + body_size_hint(*this));
  w.raw(as_bytes(digest_label));
  write_body(*this, w);
  return crypto::blake2b_256(w.bytes());
}

std::vector<std::uint8_t> Directory::encode_body() const {
  WireWriter w(body_size_hint(*this));
  write_body(*this, w);
  return w.take();
}

std::vector<std::uint8_t> Directory::encode() const {
  if (signatures.size() > max_signatures)
    throw std::invalid_argument("Directory::encode: too many signatures");
  for (std::size_t i = 1; i < signatures.size(); ++i)
    if (!(signatures[i - 1].authority.bytes < signatures[i].authority.bytes))
      throw std::invalid_argument("Directory::encode: signatures not sorted or not unique");
  WireWriter w(body_size_hint(*this) + 1 + signatures.size() * signature_bytes);
  write_body(*this, w);
  w.u8(static_cast<std::uint8_t>(signatures.size()));
  for (const AuthoritySignature& s : signatures)
    w.fixed(s.authority).fixed(s.signature);
  return w.take();
}

Result<Directory, DirectoryError> Directory::decode(Bytes bytes) {
  if (bytes.size() > max_encoded_bytes) return fail(DirectoryError::malformed);
  WireReader r(bytes);
  Directory d;

  auto fmt = r.u8();
  if (!fmt) return fail(DirectoryError::malformed);
  if (*fmt != format) return fail(DirectoryError::bad_format);
  auto network = r.fixed<NetworkId>();
  auto epoch = r.u64();
  auto after = r.u64();
  auto until = r.u64();
  if (!network || !epoch || !after || !until) return fail(DirectoryError::malformed);
  d.network_id = *network;
  d.epoch = *epoch;
  d.valid_after = *after;
  d.valid_until = *until;

  auto params = NetworkParams::decode(r);
  if (!params)
    return fail(params.error() == WireError::bad_value ? DirectoryError::bad_params
                                                       : DirectoryError::malformed);
  d.params = *params;
  if (d.valid_after >= d.valid_until) return fail(DirectoryError::bad_validity);

  auto count = r.u32();
  if (!count) return fail(DirectoryError::malformed);
  if (*count > max_entries || *count > r.remaining() / min_entry_bytes)
    return fail(DirectoryError::malformed);
  d.entries.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto e = decode_entry(r);
    if (!e) return e.failure();
    if (i > 0 && !id_less(d.entries.back().node.id, e->node.id))
      return fail(DirectoryError::bad_entry);
    d.entries.push_back(std::move(*e));
  }

  auto sig_count = r.u8();
  if (!sig_count) return fail(DirectoryError::malformed);
  if (*sig_count > max_signatures) return fail(DirectoryError::malformed);
  d.signatures.reserve(*sig_count);
  for (std::uint8_t i = 0; i < *sig_count; ++i) {
    auto authority = r.fixed<Ed25519PublicKey>();
    auto signature = r.fixed<Ed25519Signature>();
    if (!authority || !signature) return fail(DirectoryError::malformed);
    if (i > 0 && !(d.signatures.back().authority.bytes < authority->bytes))
      return fail(DirectoryError::malformed);
    d.signatures.push_back({*authority, *signature});
  }
  if (!r.finish()) return fail(DirectoryError::malformed);
  return d;
}

void Directory::sign(const Ed25519KeyPair& authority) {
  const Hash256 h = digest();
  add_signature({authority.pub, crypto::sign(authority.sec, h)});
}

void Directory::add_signature(const AuthoritySignature& s) {
  auto it = std::lower_bound(signatures.begin(), signatures.end(), s.authority,
                             [](const AuthoritySignature& a, const Ed25519PublicKey& k) {
                               return a.authority.bytes < k.bytes;
                             });
  if (it != signatures.end() && it->authority == s.authority)
    it->signature = s.signature;
  else
    signatures.insert(it, s);
}

void Directory::sort_entries() {
  std::sort(entries.begin(), entries.end(), [](const DirectoryEntry& a, const DirectoryEntry& b) {
    return id_less(a.node.id, b.node.id);
  });
}

const DirectoryEntry* Directory::find(const NodeId& id) const {
  auto it = std::lower_bound(
      entries.begin(), entries.end(), id,
      [](const DirectoryEntry& e, const NodeId& key) { return id_less(e.node.id, key); });
  if (it == entries.end() || !(it->node.id == id)) return nullptr;
  return &*it;
}

SwarmAssignment Directory::assignment() const {
  SwarmAssignment a;
  for (const DirectoryEntry& e : entries)
    a.emplace_hint(a.end(), e.node.id, e.swarm);
  return a;
}

std::vector<SwarmId> Directory::swarms() const {
  std::vector<SwarmId> ids;
  ids.reserve(entries.size());
  for (const DirectoryEntry& e : entries)
    ids.push_back(e.swarm);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<const DirectoryEntry*> Directory::members(SwarmId swarm) const {
  std::vector<const DirectoryEntry*> out;
  for (const DirectoryEntry& e : entries)
    if (e.swarm == swarm) out.push_back(&e);
  return out;
}

std::optional<SwarmId> Directory::swarm_for(const Ed25519PublicKey& recipient) const {
  const std::vector<SwarmId> ids = swarms();
  if (ids.empty()) return std::nullopt;
  return nearest_swarm(ids, ring_position(recipient));
}

Result<void, DirectoryError> check_directory(const Directory& d, const NetworkConfig& config,
                                             std::optional<std::uint64_t> held_epoch) {
  if (!(d.network_id == config.network_id)) return fail(DirectoryError::wrong_network);
  if (auto e = body_error(d)) return fail(*e);
  if (held_epoch && d.epoch <= *held_epoch) return fail(DirectoryError::not_newer);

  const std::uint32_t needed = config.signatures_needed();
  const Hash256 h = d.digest();
  std::vector<const AuthorityInfo*> counted;  // at most max_authorities
  bool bad_seen = false;
  for (const AuthoritySignature& s : d.signatures) {
    const AuthorityInfo* authority = config.find_authority(s.authority);
    if (!authority) continue;
    if (std::find(counted.begin(), counted.end(), authority) != counted.end()) continue;
    if (crypto::verify(s.authority, h, s.signature))
      counted.push_back(authority);
    else
      bad_seen = true;
  }
  if (counted.size() >= needed) return {};
  return fail(bad_seen ? DirectoryError::bad_signature : DirectoryError::too_few_signatures);
}

}  // namespace nightjar
