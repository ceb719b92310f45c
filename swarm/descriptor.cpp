#include "swarm/descriptor.hpp"

#include <stdexcept>

namespace nightjar {
namespace {

// Address family bytes of the encoding (not the platform's AF_* values).
constexpr std::uint8_t family_ipv4 = 4;
constexpr std::uint8_t family_ipv6 = 6;

void encode_fields(const NodeDescriptor& d, WireWriter& w) {
  if (auto ok = d.check(); !ok)
    throw std::invalid_argument(std::string("NodeDescriptor::encode: ") + to_string(ok.error()));
  w.u8(NodeDescriptor::format).u16(d.protocol_version).fixed(d.id).fixed(d.link_key);
  const Bytes ip = d.address.ip_bytes();
  w.u8(ip.size() == 4 ? family_ipv4 : family_ipv6).raw(ip).u16(d.address.port());
  w.u64(d.published);
  w.u8(static_cast<std::uint8_t>(d.onion_keys.size()));
  for (const OnionKeyInfo& k : d.onion_keys)
    w.u64(k.epoch).fixed(k.key).u64(k.valid_from).u64(k.valid_until);
}

// Unpacks a read or returns `malformed` from the enclosing decoder: every
// WireError there means the bytes end early or run on.
#define NJ_READ(var, expr) \
  auto var = (expr);       \
  if (!var) return fail(DescriptorError::malformed)

}  // namespace

const char* to_string(DescriptorError e) {
  switch (e) {
    case DescriptorError::malformed:
      return "malformed descriptor";
    case DescriptorError::bad_format:
      return "unknown descriptor format or protocol version";
    case DescriptorError::bad_address:
      return "bad descriptor address";
    case DescriptorError::bad_onion_keys:
      return "bad descriptor onion keys";
    case DescriptorError::bad_signature:
      return "bad descriptor signature";
  }
  return "unknown descriptor error";
}

Result<void, DescriptorError> NodeDescriptor::check() const {
  if (protocol_version == 0) return fail(DescriptorError::bad_format);
  if (address.ip_bytes().empty() || address.port() == 0) return fail(DescriptorError::bad_address);
  if (onion_keys.empty() || onion_keys.size() > max_onion_keys)
    return fail(DescriptorError::bad_onion_keys);
  for (std::size_t i = 0; i < onion_keys.size(); ++i) {
    const OnionKeyInfo& k = onion_keys[i];
    if (k.valid_from >= k.valid_until) return fail(DescriptorError::bad_onion_keys);
    if (i > 0 && k.epoch <= onion_keys[i - 1].epoch) return fail(DescriptorError::bad_onion_keys);
  }
  return {};
}

void NodeDescriptor::encode(WireWriter& w) const {
  encode_fields(*this, w);
  w.fixed(signature);
}

std::vector<std::uint8_t> NodeDescriptor::encode() const {
  WireWriter w(max_encoded_bytes);
  encode(w);
  return w.take();
}

std::size_t NodeDescriptor::encoded_size() const {
  return 1 + 2 + 32 + 32 + 1 + address.ip_bytes().size() + 2 + 8 + 1 + onion_keys.size() * 56 + 64;
}

std::vector<std::uint8_t> NodeDescriptor::signed_bytes() const {
  WireWriter w(max_encoded_bytes);
  w.raw(as_bytes(signature_label));
  encode_fields(*this, w);
  return w.take();
}

void NodeDescriptor::sign(const Ed25519SecretKey& identity) {
  signature = crypto::sign(identity, signed_bytes());
}

bool NodeDescriptor::verify() const {
  if (!check()) return false;
  return crypto::verify(id, signed_bytes(), signature);
}

Result<NodeDescriptor, DescriptorError> NodeDescriptor::decode(Bytes bytes) {
  if (bytes.size() > max_encoded_bytes) return fail(DescriptorError::malformed);
  WireReader r(bytes);
  auto d = decode(r);
  if (!d) return d;
  if (!r.finish()) return fail(DescriptorError::malformed);
  return d;
}

Result<NodeDescriptor, DescriptorError> NodeDescriptor::decode(WireReader& r) {
  NodeDescriptor d;
  NJ_READ(fmt, r.u8());
  if (*fmt != format) return fail(DescriptorError::bad_format);
  NJ_READ(version, r.u16());
  if (*version == 0) return fail(DescriptorError::bad_format);
  d.protocol_version = *version;
  NJ_READ(id, r.fixed<NodeId>());
  d.id = *id;
  NJ_READ(link_key, r.fixed<X25519PublicKey>());
  d.link_key = *link_key;

  NJ_READ(family, r.u8());
  if (*family != family_ipv4 && *family != family_ipv6) return fail(DescriptorError::bad_address);
  NJ_READ(ip, r.raw(*family == family_ipv4 ? 4 : 16));
  NJ_READ(port, r.u16());
  if (*port == 0) return fail(DescriptorError::bad_address);
  d.address = Endpoint::from_ip(*ip, *port);

  NJ_READ(published, r.u64());
  d.published = *published;

  NJ_READ(count, r.u8());
  if (*count == 0 || *count > max_onion_keys) return fail(DescriptorError::bad_onion_keys);
  d.onion_keys.reserve(*count);
  for (std::uint8_t i = 0; i < *count; ++i) {
    OnionKeyInfo k;
    NJ_READ(epoch, r.u64());
    k.epoch = *epoch;
    NJ_READ(key, r.fixed<X25519PublicKey>());
    k.key = *key;
    NJ_READ(from, r.u64());
    k.valid_from = *from;
    NJ_READ(until, r.u64());
    k.valid_until = *until;
    if (k.valid_from >= k.valid_until) return fail(DescriptorError::bad_onion_keys);
    if (i > 0 && k.epoch <= d.onion_keys.back().epoch) return fail(DescriptorError::bad_onion_keys);
    d.onion_keys.push_back(k);
  }

  NJ_READ(sig, r.fixed<Ed25519Signature>());
  d.signature = *sig;
  return d;
}

const OnionKeyInfo* NodeDescriptor::onion_key_at(std::uint64_t now) const {
  const OnionKeyInfo* best = nullptr;
  for (const OnionKeyInfo& k : onion_keys)
    if (k.valid_from <= now && now < k.valid_until && (!best || k.epoch > best->epoch)) best = &k;
  return best;
}

#undef NJ_READ

}  // namespace nightjar
