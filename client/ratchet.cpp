#include "client/ratchet.hpp"
#include "client/x3dh.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "routing/wire.hpp"

namespace nightjar::client {

using namespace ratchet;

const char* to_string(RatchetError e) {
  switch (e) {
    case RatchetError::too_short: return "message too short";
    case RatchetError::unknown_header: return "header opens under no key of the conversation";
    case RatchetError::too_many_skipped: return "too many messages skipped";
    case RatchetError::bad_ciphertext: return "message body does not open";
    case RatchetError::not_ready: return "no sending chain yet";
    case RatchetError::already_opened: return "message already opened";
  }
  return "unknown ratchet error";
}

namespace {

constexpr std::string_view root_label = "nightjar ratchet root v2";
constexpr char kdf_context[9] = "njratch2";

SymmetricKey copy(const SymmetricKey& k) { return SymmetricKey::from(k.view()); }
std::optional<SymmetricKey> copy(const std::optional<SymmetricKey>& k) {
  if (!k) return std::nullopt;
  return copy(*k);
}

// KDF_RK_HE: (root key, DH output) -> (root key, chain key, next header key).
struct RootStep {
  SymmetricKey root, chain, next_header;
};
RootStep kdf_root(const SymmetricKey& root, const SharedSecret& dh) {
  std::vector<std::uint8_t> input(root_label.begin(), root_label.end());
  input.insert(input.end(), dh.view().begin(), dh.view().end());
  SymmetricKey master;
  crypto::blake2b(master.mutable_view(), input, root.view());
  sodium_memzero(input.data(), input.size());
  return {crypto::kdf_derive(master, 1, kdf_context), crypto::kdf_derive(master, 2, kdf_context),
          crypto::kdf_derive(master, 3, kdf_context)};
}


std::array<std::uint8_t, 32> index_of(const SymmetricKey& k) {
  std::array<std::uint8_t, 32> out;
  std::memcpy(out.data(), k.data(), 32);
  return out;
}

std::vector<std::uint8_t> header_plain(const RatchetHeader& h) {
  WireWriter w(header_bytes);
  w.fixed(h.dh).u32(h.pn).u32(h.n);
  return w.take();
}

// The body's key is used for this one message: a zero nonce is safe.
const AeadNonce zero_nonce{};

std::vector<std::uint8_t> body_ad(Bytes ad, Bytes encrypted_header) {
  std::vector<std::uint8_t> out(ad.begin(), ad.end());
  out.insert(out.end(), encrypted_header.begin(), encrypted_header.end());
  return out;
}

}  // namespace

SymmetricKey ratchet::kdf_chain(SymmetricKey& chain) {
  static constexpr std::uint8_t message_byte[1] = {0x01};
  static constexpr std::uint8_t chain_byte[1] = {0x02};
  SymmetricKey message, next;
  crypto::blake2b(message.mutable_view(), message_byte, chain.view());
  crypto::blake2b(next.mutable_view(), chain_byte, chain.view());
  chain = std::move(next);
  return message;
}

Ratchet Ratchet::initiator(const SymmetricKey& shared, const SymmetricKey& header_key_a,
                           const SymmetricKey& next_header_key_b,
                           const X25519PublicKey& their_ratchet, RandomSource* rng) {
  Ratchet r;
  r.dhs_ = generate_x25519(rng);
  r.dhr_ = their_ratchet;
  auto dh = crypto::x25519(r.dhs_.sec, their_ratchet);
  // A low-order key from the handshake was refused there; a zero result here
  // would mean a broken handshake, and the chain is then useless, not unsafe.
  SharedSecret zero;
  auto step = kdf_root(shared, dh ? *dh : zero);
  r.root_ = std::move(step.root);
  r.sending_chain_ = std::move(step.chain);
  r.next_sending_header_ = std::move(step.next_header);
  r.sending_header_ = copy(header_key_a);
  r.next_receiving_header_ = copy(next_header_key_b);
  return r;
}

Ratchet Ratchet::responder(const SymmetricKey& shared, const SymmetricKey& header_key_a,
                           const SymmetricKey& next_header_key_b, X25519KeyPair own_ratchet) {
  Ratchet r;
  r.dhs_ = std::move(own_ratchet);
  r.root_ = copy(shared);
  r.next_sending_header_ = copy(next_header_key_b);
  r.next_receiving_header_ = copy(header_key_a);
  return r;
}

Ratchet Ratchet::clone() const {
  Ratchet r;
  r.dhs_.pub = dhs_.pub;
  r.dhs_.sec = X25519SecretKey::from(dhs_.sec.view());
  r.dhr_ = dhr_;
  r.root_ = copy(root_);
  r.sending_chain_ = copy(sending_chain_);
  r.receiving_chain_ = copy(receiving_chain_);
  r.sending_header_ = copy(sending_header_);
  r.receiving_header_ = copy(receiving_header_);
  r.next_sending_header_ = copy(next_sending_header_);
  r.next_receiving_header_ = copy(next_receiving_header_);
  r.ns_ = ns_;
  r.nr_ = nr_;
  r.pn_ = pn_;
  for (const auto& [k, v] : skipped_) r.skipped_.emplace(k, SkippedKey{copy(v.message_key), v.stamped_ms, v.order});
  r.skip_order_ = skip_order_;
  return r;
}

Result<std::vector<std::uint8_t>, RatchetError> Ratchet::encrypt(Bytes plaintext, Bytes ad,
                                                                RandomSource* rng) {
  if (!sending_chain_ || !sending_header_) return fail(RatchetError::not_ready);
  SymmetricKey mk = kdf_chain(*sending_chain_);
  const RatchetHeader h{dhs_.pub, pn_, ns_};
  ++ns_;
  AeadNonce nonce;
  if (rng)
    rng->fill(nonce.mutable_view());
  else
    crypto::random_bytes(nonce.mutable_view());
  std::vector<std::uint8_t> out(nonce.bytes.begin(), nonce.bytes.end());
  const auto sealed_header = crypto::aead_encrypt(*sending_header_, nonce, ad, header_plain(h));
  out.insert(out.end(), sealed_header.begin(), sealed_header.end());
  const auto body = crypto::aead_encrypt(mk, zero_nonce, body_ad(ad, out), plaintext);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::optional<RatchetHeader> Ratchet::open_header(const SymmetricKey& key, Bytes encrypted,
                                                  Bytes ad) const {
  const auto nonce = AeadNonce::from(encrypted.first<24>());
  auto plain = crypto::aead_decrypt(key, nonce, ad, encrypted.subspan(24));
  if (!plain || plain->size() != header_bytes) return std::nullopt;
  WireReader r(*plain);
  RatchetHeader h;
  h.dh = *r.fixed<X25519PublicKey>();
  h.pn = *r.u32();
  h.n = *r.u32();
  return h;
}

Result<void, RatchetError> Ratchet::skip_to(std::uint32_t until, std::uint64_t now_ms) {
  if (!receiving_chain_) return {};
  if (until > nr_ && until - nr_ > max_skip) return fail(RatchetError::too_many_skipped);
  while (nr_ < until) {
    SymmetricKey mk = kdf_chain(*receiving_chain_);
    skipped_.insert_or_assign(SkippedIndex{index_of(*receiving_header_), nr_},
                              SkippedKey{std::move(mk), now_ms, skip_order_++});
    ++nr_;
  }
  while (skipped_.size() > max_skipped_keys) {
    auto oldest = std::min_element(skipped_.begin(), skipped_.end(), [](const auto& a, const auto& b) {
      return a.second.order < b.second.order;
    });
    skipped_.erase(oldest);
  }
  return {};
}

void Ratchet::dh_step(const RatchetHeader& header, RandomSource* rng) {
  pn_ = ns_;
  ns_ = 0;
  nr_ = 0;
  sending_header_ = std::move(next_sending_header_);
  receiving_header_ = std::move(next_receiving_header_);
  dhr_ = header.dh;
  SharedSecret zero;
  {
    auto dh = crypto::x25519(dhs_.sec, *dhr_);
    auto step = kdf_root(root_, dh ? *dh : zero);
    root_ = std::move(step.root);
    receiving_chain_ = std::move(step.chain);
    next_receiving_header_ = std::move(step.next_header);
  }
  dhs_ = generate_x25519(rng);
  {
    auto dh = crypto::x25519(dhs_.sec, *dhr_);
    auto step = kdf_root(root_, dh ? *dh : zero);
    root_ = std::move(step.root);
    sending_chain_ = std::move(step.chain);
    next_sending_header_ = std::move(step.next_header);
  }
}

Result<std::vector<std::uint8_t>, RatchetError> Ratchet::decrypt(Bytes message, Bytes ad,
                                                                std::uint64_t now_ms,
                                                                RandomSource* rng) {
  if (message.size() < overhead) return fail(RatchetError::too_short);
  const Bytes encrypted_header = message.first(encrypted_header_bytes);
  const Bytes body = message.subspan(encrypted_header_bytes);
  const auto bad = body_ad(ad, encrypted_header);

  // A key kept for a message skipped over.
  for (auto it = skipped_.begin(); it != skipped_.end(); ++it) {
    // Skipped keys are grouped by header key: try each header key once.
    if (it != skipped_.begin() && std::prev(it)->first.first == it->first.first) continue;
    const auto hk = SymmetricKey::from(std::span<const std::uint8_t, 32>(it->first.first));
    auto h = open_header(hk, encrypted_header, ad);
    if (!h) continue;
    auto found = skipped_.find(SkippedIndex{it->first.first, h->n});
    // Not a skipped one: the current chain's header key (which its skipped
    // keys share), or a message already opened. The checks below decide.
    if (found == skipped_.end()) break;
    auto plain = crypto::aead_decrypt(found->second.message_key, zero_nonce, bad, body);
    if (!plain) return fail(RatchetError::bad_ciphertext);
    skipped_.erase(found);
    return std::move(*plain);
  }

  // The current receiving chain, or the next one (a DH step). Work on a
  // copy: a message that does not open must leave no trace.
  Ratchet next = clone();
  std::optional<RatchetHeader> h;
  if (next.receiving_header_) h = open_header(*next.receiving_header_, encrypted_header, ad);
  if (!h) {
    h = open_header(next.next_receiving_header_, encrypted_header, ad);
    if (!h) return fail(RatchetError::unknown_header);
    if (auto s = next.skip_to(h->pn, now_ms); !s) return s.failure();
    next.dh_step(*h, rng);
  }
  if (h->n < next.nr_) return fail(RatchetError::already_opened);
  if (auto s = next.skip_to(h->n, now_ms); !s) return s.failure();
  SymmetricKey mk = kdf_chain(*next.receiving_chain_);
  ++next.nr_;
  auto plain = crypto::aead_decrypt(mk, zero_nonce, bad, body);
  if (!plain) return fail(RatchetError::bad_ciphertext);
  *this = std::move(next);
  return std::move(*plain);
}

std::size_t Ratchet::expire_skipped(std::uint64_t cutoff_ms) {
  return std::erase_if(skipped_, [&](const auto& kv) { return kv.second.stamped_ms < cutoff_ms; });
}

// --- Encoding --------------------------------------------------------------------

namespace {
constexpr std::uint8_t has_dhr = 1, has_cks = 2, has_ckr = 4, has_hks = 8, has_hkr = 16;
}

std::vector<std::uint8_t> Ratchet::encode() const {
  WireWriter w(512 + skipped_.size() * 84);
  std::uint8_t flags = 0;
  if (dhr_) flags |= has_dhr;
  if (sending_chain_) flags |= has_cks;
  if (receiving_chain_) flags |= has_ckr;
  if (sending_header_) flags |= has_hks;
  if (receiving_header_) flags |= has_hkr;
  w.u8(state_version).u8(flags);
  w.fixed(dhs_.pub).raw(dhs_.sec.view());
  if (dhr_) w.fixed(*dhr_);
  w.raw(root_.view());
  if (sending_chain_) w.raw(sending_chain_->view());
  if (receiving_chain_) w.raw(receiving_chain_->view());
  if (sending_header_) w.raw(sending_header_->view());
  if (receiving_header_) w.raw(receiving_header_->view());
  w.raw(next_sending_header_.view()).raw(next_receiving_header_.view());
  w.u32(ns_).u32(nr_).u32(pn_).u64(skip_order_);
  w.u32(static_cast<std::uint32_t>(skipped_.size()));
  for (const auto& [k, v] : skipped_)
    w.raw(k.first).u32(k.second).raw(v.message_key.view()).u64(v.stamped_ms).u64(v.order);
  return w.take();
}

Result<Ratchet, std::string> Ratchet::decode(Bytes bytes) {
  WireReader r(bytes);
  auto secret = [&](SymmetricKey& out) -> bool {
    auto b = r.raw(32);
    if (!b) return false;
    out = SymmetricKey::from(b->first<32>());
    return true;
  };
  auto version = r.u8();
  if (!version || *version != state_version) return fail(std::string("unknown ratchet state version"));
  auto flags = r.u8();
  if (!flags || (*flags & ~0x1f) != 0) return fail(std::string("bad ratchet state flags"));
  Ratchet out;
  auto pub = r.fixed<X25519PublicKey>();
  auto sec = r.raw(32);
  if (!pub || !sec) return fail(std::string("truncated ratchet state"));
  out.dhs_.pub = *pub;
  out.dhs_.sec = X25519SecretKey::from(sec->first<32>());
  if (*flags & has_dhr) {
    auto dhr = r.fixed<X25519PublicKey>();
    if (!dhr) return fail(std::string("truncated ratchet state"));
    out.dhr_ = *dhr;
  }
  bool ok = secret(out.root_);
  for (auto [bit, slot] : {std::pair{has_cks, &out.sending_chain_}, std::pair{has_ckr, &out.receiving_chain_},
                           std::pair{has_hks, &out.sending_header_}, std::pair{has_hkr, &out.receiving_header_}}) {
    if (!(*flags & bit)) continue;
    SymmetricKey k;
    ok = ok && secret(k);
    *slot = std::move(k);
  }
  ok = ok && secret(out.next_sending_header_) && secret(out.next_receiving_header_);
  auto ns = r.u32(), nr = r.u32(), pn = r.u32();
  auto order = r.u64();
  auto count = r.u32();
  if (!ok || !ns || !nr || !pn || !order || !count) return fail(std::string("truncated ratchet state"));
  if (*count > max_skipped_keys) return fail(std::string("too many skipped keys in ratchet state"));
  out.ns_ = *ns;
  out.nr_ = *nr;
  out.pn_ = *pn;
  out.skip_order_ = *order;
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto hk = r.raw(32);
    auto n = r.u32();
    SymmetricKey mk;
    const bool key_ok = secret(mk);
    auto stamped = r.u64();
    auto ord = r.u64();
    if (!hk || !n || !key_ok || !stamped || !ord) return fail(std::string("truncated ratchet state"));
    SkippedIndex idx;
    std::memcpy(idx.first.data(), hk->data(), 32);
    idx.second = *n;
    if (!out.skipped_.empty() && !(out.skipped_.rbegin()->first < idx))
      return fail(std::string("ratchet state's skipped keys out of order"));
    out.skipped_.emplace(idx, SkippedKey{std::move(mk), *stamped, *ord});
  }
  if (!r.finish()) return fail(std::string("trailing bytes after ratchet state"));
  return out;
}

}  // namespace nightjar::client
