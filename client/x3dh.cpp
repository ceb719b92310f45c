#include "client/x3dh.hpp"

#include <sodium.h>

#include <stdexcept>
#include <string_view>

namespace nightjar::client {

using namespace x3dh;

namespace {
constexpr std::string_view prekey_label = "nightjar signed prekey v1";
// The BLAKE2b key of the agreement's KDF: 16 ASCII bytes.
constexpr std::string_view agreement_label = "nightjar x3dh v2";
constexpr char kdf_context[9] = "njx3dh02";

// KDF(DH1 || DH2 || DH3 [|| DH4]) with X3DH's 32 bytes of 0xFF first.
X3dhKeys derive(const std::vector<const SharedSecret*>& dhs, const Ed25519PublicKey& initiator,
                const Ed25519PublicKey& responder) {
  std::vector<std::uint8_t> ikm(32, 0xff);
  for (const SharedSecret* dh : dhs) ikm.insert(ikm.end(), dh->view().begin(), dh->view().end());
  SymmetricKey master;
  crypto::blake2b(master.mutable_view(), ikm, as_bytes(agreement_label));
  sodium_memzero(ikm.data(), ikm.size());
  X3dhKeys k{crypto::kdf_derive(master, 1, kdf_context), crypto::kdf_derive(master, 2, kdf_context),
             crypto::kdf_derive(master, 3, kdf_context), {}};
  k.ad.assign(initiator.bytes.begin(), initiator.bytes.end());
  k.ad.insert(k.ad.end(), responder.bytes.begin(), responder.bytes.end());
  return k;
}
}  // namespace

const char* to_string(X3dhError e) {
  switch (e) {
    case X3dhError::bad_signature: return "the signed prekey's signature does not verify";
    case X3dhError::bad_key: return "a key that cannot be used for DH";
    case X3dhError::no_prekey: return "no such one-time prekey in the bundle";
  }
  return "unknown X3DH error";
}

std::vector<std::uint8_t> signed_prekey_bytes(const Ed25519PublicKey& account, const SignedPrekey& p) {
  WireWriter w(prekey_label.size() + 76);
  w.raw(as_bytes(prekey_label)).fixed(account).u32(p.id).fixed(p.key).u64(p.created_ms);
  return w.take();
}

SignedPrekey sign_prekey(const Ed25519PublicKey& account, const Ed25519SecretKey& signing_key,
                         std::uint32_t id, const X25519PublicKey& key, std::uint64_t created_ms) {
  SignedPrekey p{id, key, created_ms, {}};
  p.signature = crypto::sign(signing_key, signed_prekey_bytes(account, p));
  return p;
}

bool verify(const PrekeyBundle& b) {
  return crypto::verify(b.account, signed_prekey_bytes(b.account, b.signed_prekey), b.signed_prekey.signature);
}

std::vector<std::uint8_t> encode(const PrekeyBundle& b) {
  if (b.one_time.size() > max_one_time_prekeys)
    throw std::length_error("x3dh::encode: more one-time prekeys than max_one_time_prekeys");
  WireWriter w(143 + 36 * b.one_time.size());
  w.u8(bundle_version)
      .fixed(b.account)
      .u32(b.signed_prekey.id)
      .fixed(b.signed_prekey.key)
      .u64(b.signed_prekey.created_ms)
      .fixed(b.signed_prekey.signature)
      .u16(static_cast<std::uint16_t>(b.one_time.size()));
  for (const auto& k : b.one_time) w.u32(k.id).fixed(k.key);
  return w.take();
}

Result<PrekeyBundle, WireError> decode_bundle(Bytes bytes) {
  FieldReader f(bytes);
  std::uint8_t version = 0;
  std::uint16_t count = 0;
  PrekeyBundle b;
  f.u8(version)
      .check(version == bundle_version)
      .fixed(b.account)
      .u32(b.signed_prekey.id)
      .fixed(b.signed_prekey.key)
      .u64(b.signed_prekey.created_ms)
      .fixed(b.signed_prekey.signature)
      .u16(count)
      .check(count <= max_one_time_prekeys, WireError::too_long);
  if (!f.ok()) return f.finish(std::move(b)).failure();
  b.one_time.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    f.u32(b.one_time[i].id).fixed(b.one_time[i].key);
    if (i > 0) f.check(b.one_time[i - 1].id < b.one_time[i].id);
  }
  return f.finish(std::move(b));
}

X25519KeyPair generate_x25519(RandomSource* rng) {
  if (!rng) return crypto::x25519_generate();
  X25519KeyPair kp;
  rng->fill(kp.sec.mutable_view());
  kp.pub = crypto::x25519_public(kp.sec);
  return kp;
}

Result<X3dhStart, X3dhError> x3dh_initiate(const Ed25519PublicKey& own_account,
                                           const X25519SecretKey& own_dh, const PrekeyBundle& bundle,
                                           std::optional<std::size_t> one_time,
                                           RandomSource* rng) {
  if (!verify(bundle)) return fail(X3dhError::bad_signature);
  if (one_time && *one_time >= bundle.one_time.size()) return fail(X3dhError::no_prekey);
  auto their_dh = crypto::ed25519_to_x25519(bundle.account);
  if (!their_dh) return fail(X3dhError::bad_key);
  const X25519KeyPair eph = generate_x25519(rng);
  const X25519PublicKey& spk = bundle.signed_prekey.key;
  auto dh1 = crypto::x25519(own_dh, spk);
  auto dh2 = crypto::x25519(eph.sec, *their_dh);
  auto dh3 = crypto::x25519(eph.sec, spk);
  if (!dh1 || !dh2 || !dh3) return fail(X3dhError::bad_key);
  std::vector<const SharedSecret*> dhs{&*dh1, &*dh2, &*dh3};
  std::optional<SharedSecret> dh4;
  X3dhStart out;
  if (one_time) {
    auto d = crypto::x25519(eph.sec, bundle.one_time[*one_time].key);
    if (!d) return fail(X3dhError::bad_key);
    dh4 = std::move(*d);
    dhs.push_back(&*dh4);
    out.one_time_prekey_id = bundle.one_time[*one_time].id;
  }
  out.keys = derive(dhs, own_account, bundle.account);
  out.ephemeral = eph.pub;
  out.signed_prekey_id = bundle.signed_prekey.id;
  return out;
}

Result<X3dhKeys, X3dhError> x3dh_respond(const Ed25519PublicKey& own_account,
                                         const X25519SecretKey& own_dh,
                                         const X25519SecretKey& signed_prekey,
                                         const X25519SecretKey* one_time_prekey,
                                         const Ed25519PublicKey& their_account,
                                         const X25519PublicKey& their_ephemeral) {
  auto their_dh = crypto::ed25519_to_x25519(their_account);
  if (!their_dh) return fail(X3dhError::bad_key);
  auto dh1 = crypto::x25519(signed_prekey, *their_dh);
  auto dh2 = crypto::x25519(own_dh, their_ephemeral);
  auto dh3 = crypto::x25519(signed_prekey, their_ephemeral);
  if (!dh1 || !dh2 || !dh3) return fail(X3dhError::bad_key);
  std::vector<const SharedSecret*> dhs{&*dh1, &*dh2, &*dh3};
  std::optional<SharedSecret> dh4;
  if (one_time_prekey) {
    auto d = crypto::x25519(*one_time_prekey, their_ephemeral);
    if (!d) return fail(X3dhError::bad_key);
    dh4 = std::move(*d);
    dhs.push_back(&*dh4);
  }
  return derive(dhs, their_account, own_account);
}

}  // namespace nightjar::client
