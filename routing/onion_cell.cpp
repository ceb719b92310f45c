#include "routing/onion_cell.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "routing/wire.hpp"

namespace nightjar {

const char* to_string(OnionError e) {
  switch (e) {
    case OnionError::bad_path_length: return "path must have 1 to 5 hops";
    case OnionError::bad_cell_size: return "bad cell size";
    case OnionError::data_too_large: return "data too large for one cell";
    case OnionError::low_order_key: return "low-order onion key in path";
  }
  return "unknown onion error";
}

const char* to_string(ReplyError e) {
  switch (e) {
    case ReplyError::bad_size: return "reply cell has the wrong size";
    case ReplyError::unreadable: return "reply cell did not open under any hop's key";
    case ReplyError::bad_length: return "reply length field out of range";
  }
  return "unknown reply error";
}

const char* to_string(PeelDrop d) {
  switch (d) {
    case PeelDrop::wrong_size: return "wrong cell size";
    case PeelDrop::expired_key: return "no live onion key for the cell's epoch";
    case PeelDrop::low_order_key: return "low-order ephemeral key";
    case PeelDrop::bad_mac: return "header MAC mismatch";
    case PeelDrop::replay: return "replayed cell";
    case PeelDrop::replay_cache_full: return "replay cache full";
    case PeelDrop::bad_slot: return "malformed routing slot";
    case PeelDrop::bad_payload: return "payload failed its integrity check";
  }
  return "unknown drop reason";
}

namespace {

using namespace onion;

constexpr std::size_t rho_bytes = (max_hops + 1) * slot_bytes;  // 528
// Per-hop key material, all from one ChaCha20 keystream:
constexpr std::size_t off_mac = 0;                             // 32: Poly1305 key
constexpr std::size_t off_payload = off_mac + 32;              // 128: LIONESS key
constexpr std::size_t off_reply = off_payload + 128;           // 32: reply key
constexpr std::size_t off_tag = off_reply + 32;                // 8: replay tag
constexpr std::size_t off_rho = off_tag + 8;                   // 528: header keystream
constexpr std::size_t hop_key_bytes = off_rho + rho_bytes;     // 728 used
// The keystream is drawn as 768 bytes (12 whole ChaCha20 blocks): libsodium's
// vectorised ChaCha20 handles 256- and 512-byte runs, and a 728-byte request
// would leave a 216-byte tail to its slow one-block path (about 2x the time).
constexpr std::size_t hop_stream_bytes = 768;
static_assert(hop_key_bytes <= hop_stream_bytes);

// HChaCha20's 16-byte constant: exactly the ASCII of this label.
constexpr unsigned char kdf_label[16] = {'n', 'i', 'g', 'h', 't', 'j', 'a', 'r',
                                         '-', 'o', 'n', 'i', 'o', 'n', '-', '1'};
constexpr unsigned char zero_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
constexpr unsigned char reply_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {'r', 'e', 'p', 'l',
                                                                               'y', 0,   0,   0,
                                                                               0,   0,   0,   0};

// Slot layout.
constexpr std::size_t slot_type = 0;
constexpr std::size_t slot_reserved = 1;  // 7 bytes, zero
constexpr std::size_t slot_next = 8;      // 32: next node ID
constexpr std::size_t slot_alpha = 40;    // 32: next hop's alpha
constexpr std::size_t slot_gamma = 72;    // 16: next hop's gamma

struct HopSecrets {
  Secret<hop_stream_bytes, SymmetricTag> stream;
  const std::uint8_t* mac_key() const { return stream.data() + off_mac; }
  const std::uint8_t* rho() const { return stream.data() + off_rho; }
  std::uint64_t replay_tag() const { return load_u64(stream.data() + off_tag); }
  LionessKey payload_key() const {
    return LionessKey::from(std::span<const std::uint8_t, 128>(stream.data() + off_payload, 128));
  }
  ReplyKey reply_key() const {
    return ReplyKey::from(std::span<const std::uint8_t, 32>(stream.data() + off_reply, 32));
  }
};

// master = HChaCha20(key = s, input = alpha[0..16), constant = kdf_label);
// stream = ChaCha20-IETF(key = master, nonce = 0). HChaCha20 is the same
// key-derivation step crypto_box applies (as HSalsa20) to a raw X25519 output,
// at a tenth of the cost of a keyed BLAKE2b call. The rest of alpha is bound
// by the header MAC, and the replay tag depends only on s, so two encodings
// of the same point are one cell to the replay cache.
void derive_hop(const SharedSecret& s, const std::uint8_t* alpha, HopSecrets& out) {
  Secret<32, SymmetricTag> master;
  crypto_core_hchacha20(master.data(), alpha, s.data(), kdf_label);
  crypto_stream_chacha20_ietf(out.stream.data(), hop_stream_bytes, zero_nonce, master.data());
}

void xor_into(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] ^= src[i];
}

void header_mac(const std::uint8_t* key, const std::uint8_t* alpha_beta, std::uint8_t* gamma) {
  std::uint8_t full[crypto_onetimeauth_BYTES];
  crypto_onetimeauth(full, alpha_beta, alpha_bytes + beta_bytes, key);
  static_assert(crypto_onetimeauth_BYTES == mac_bytes);
  std::memcpy(gamma, full, mac_bytes);
}

LionessKey expand_reply_key(const ReplyKey& k) {
  LionessKey out;
  crypto_stream_chacha20_ietf(out.data(), out.size(), reply_nonce, k.data());
  return out;
}

X25519PublicKey alpha_point(const std::uint8_t* alpha) {
  X25519PublicKey p = X25519PublicKey::from(std::span<const std::uint8_t, 32>(alpha, 32));
  p.bytes[31] &= 0x7f;  // the parity bit is not part of the point
  return p;
}

}  // namespace

// --- Building ------------------------------------------------------------------

Result<BuiltCell, OnionError> build_cell(std::size_t cell_bytes, std::span<const OnionHop> path,
                                         Bytes data, RandomSource& rng) {
  const std::size_t n = path.size();
  if (n == 0 || n > max_hops) return fail(OnionError::bad_path_length);
  if (!valid_cell_size(cell_bytes)) return fail(OnionError::bad_cell_size);
  if (data.size() > max_request_data(cell_bytes)) return fail(OnionError::data_too_large);

  std::vector<HopSecrets> hops(n);
  std::vector<std::array<std::uint8_t, alpha_bytes>> alphas(n);
  for (std::size_t i = 0; i < n; ++i) {
    X25519SecretKey e;
    rng.fill(e.mutable_view());
    X25519PublicKey pub = crypto::x25519_public(e);
    auto s = crypto::x25519(e, path[i].onion_key);
    if (!s) return fail(OnionError::low_order_key);
    std::memcpy(alphas[i].data(), pub.data(), alpha_bytes);
    alphas[i][31] = static_cast<std::uint8_t>((alphas[i][31] & 0x7f) | ((path[i].key_epoch & 1) << 7));
    derive_hop(*s, alphas[i].data(), hops[i]);
  }

  // Filler: what the shifts of hops 0..n-2 append to the header, so the last
  // hop's MAC can cover it.
  std::uint8_t filler[(max_hops - 1) * slot_bytes] = {0};
  std::size_t filler_len = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    filler_len += slot_bytes;  // the new tail block starts as zeros
    xor_into(filler, hops[i].rho() + rho_bytes - filler_len, filler_len);
  }

  // alpha || beta, contiguous for the MAC.
  std::uint8_t ab[alpha_bytes + beta_bytes];
  std::uint8_t* beta = ab + alpha_bytes;
  std::uint8_t gamma[mac_bytes];

  // The destination's beta: its slot, random padding, then the filler.
  const std::size_t head = (max_hops - n + 1) * slot_bytes;
  std::memset(beta, 0, slot_bytes);
  beta[slot_type] = static_cast<std::uint8_t>(SlotType::deliver);
  if (head > slot_bytes) rng.fill({beta + slot_bytes, head - slot_bytes});
  xor_into(beta, hops[n - 1].rho(), head);
  std::memcpy(beta + head, filler, filler_len);
  std::memcpy(ab, alphas[n - 1].data(), alpha_bytes);
  header_mac(hops[n - 1].mac_key(), ab, gamma);

  for (std::size_t i = n - 1; i-- > 0;) {
    // beta_i = (slot_i || beta_{i+1} minus its last slot) ^ rho_i
    std::memmove(beta + slot_bytes, beta, beta_bytes - slot_bytes);
    std::uint8_t* slot = beta;
    std::memset(slot, 0, slot_bytes);
    slot[slot_type] = static_cast<std::uint8_t>(SlotType::relay);
    std::memcpy(slot + slot_next, path[i + 1].node.data(), 32);
    std::memcpy(slot + slot_alpha, alphas[i + 1].data(), alpha_bytes);
    std::memcpy(slot + slot_gamma, gamma, mac_bytes);
    xor_into(beta, hops[i].rho(), beta_bytes);
    std::memcpy(ab, alphas[i].data(), alpha_bytes);
    header_mac(hops[i].mac_key(), ab, gamma);
  }

  BuiltCell out;
  out.cell.assign(cell_bytes, 0);
  std::memcpy(out.cell.data(), ab, alpha_bytes + beta_bytes);
  std::memcpy(out.cell.data() + alpha_bytes + beta_bytes, gamma, mac_bytes);
  MutableBytes payload{out.cell.data() + header_bytes, payload_bytes(cell_bytes)};
  store_u16(payload.data() + zero_prefix, static_cast<std::uint16_t>(data.size()));
  if (!data.empty()) std::memcpy(payload.data() + request_prefix, data.data(), data.size());
  for (std::size_t i = n; i-- > 0;) lioness::encrypt(hops[i].payload_key(), payload);

  out.first_hop = path[0].node;
  out.reply_keys.reserve(n);
  for (const auto& h : hops) out.reply_keys.push_back(h.reply_key());
  return out;
}

// --- Peeling -------------------------------------------------------------------

Result<Peeled, PeelDrop> peel_cell(const OnionKeyring& keys, ReplayCache& replay, MutableBytes cell,
                                   std::size_t cell_bytes, std::uint64_t now) {
  if (cell.size() != cell_bytes || !valid_cell_size(cell_bytes)) return fail(PeelDrop::wrong_size);
  std::uint8_t* alpha = cell.data();
  std::uint8_t* beta = alpha + alpha_bytes;
  std::uint8_t* gamma = beta + beta_bytes;
  MutableBytes payload = cell.subspan(header_bytes);

  const OnionKey* key = keys.select(alpha[31] >> 7, now);
  if (!key) return fail(PeelDrop::expired_key);
  auto s = crypto::x25519(key->keys.sec, alpha_point(alpha));
  if (!s) return fail(PeelDrop::low_order_key);
  HopSecrets hop;
  derive_hop(*s, alpha, hop);

  if (crypto_onetimeauth_verify(gamma, alpha, alpha_bytes + beta_bytes, hop.mac_key()) != 0) {
    // A 16-byte tag: crypto_onetimeauth_verify compares all 16 in constant time.
    return fail(PeelDrop::bad_mac);
  }
  switch (replay.insert(key->epoch, hop.replay_tag())) {
    case ReplayCache::Outcome::fresh: break;
    case ReplayCache::Outcome::replay: return fail(PeelDrop::replay);
    case ReplayCache::Outcome::full: return fail(PeelDrop::replay_cache_full);
  }

  // B = (beta || zero slot) ^ rho; our slot is B's first slot.
  std::uint8_t b[rho_bytes];
  std::memcpy(b, beta, beta_bytes);
  std::memset(b + beta_bytes, 0, slot_bytes);
  xor_into(b, hop.rho(), rho_bytes);
  const std::uint8_t type = b[slot_type];
  static constexpr std::uint8_t zero7[7] = {0};
  if (std::memcmp(b + slot_reserved, zero7, 7) != 0 ||
      (type != static_cast<std::uint8_t>(SlotType::relay) &&
       type != static_cast<std::uint8_t>(SlotType::deliver)))
    return fail(PeelDrop::bad_slot);
  // A deliver slot names no next hop: everything after its type byte is zero,
  // so a cell has one encoding (docs/PROTOCOL.md: formats are canonical).
  if (type == static_cast<std::uint8_t>(SlotType::deliver) &&
      !sodium_is_zero(b + slot_next, slot_bytes - slot_next))
    return fail(PeelDrop::bad_slot);

  lioness::decrypt(hop.payload_key(), payload);

  Peeled out;
  out.epoch = key->epoch;
  out.reply_key = hop.reply_key();
  if (type == static_cast<std::uint8_t>(SlotType::relay)) {
    out.action = SlotType::relay;
    out.next_hop = NodeId::from(std::span<const std::uint8_t, 32>(b + slot_next, 32));
    std::memcpy(alpha, b + slot_alpha, alpha_bytes);
    std::memcpy(beta, b + slot_bytes, beta_bytes);
    std::memcpy(gamma, b + slot_gamma, mac_bytes);
    return out;
  }
  out.action = SlotType::deliver;
  if (!sodium_is_zero(payload.data(), zero_prefix)) return fail(PeelDrop::bad_payload);
  const std::size_t len = load_u16(payload.data() + zero_prefix);
  if (len > max_request_data(cell_bytes)) return fail(PeelDrop::bad_payload);
  const Bytes after = payload.subspan(request_prefix + len);
  if (!sodium_is_zero(after.data(), after.size())) return fail(PeelDrop::bad_payload);
  out.data = payload.subspan(request_prefix, len);
  return out;
}

// --- Replies -------------------------------------------------------------------

Result<std::vector<std::uint8_t>, OnionError> make_reply(std::size_t cell_bytes,
                                                         const ReplyKey& reply_key, ReplyKind kind,
                                                         std::uint8_t code, Bytes data) {
  if (!valid_cell_size(cell_bytes)) return fail(OnionError::bad_cell_size);
  if (data.size() > max_reply_data(cell_bytes)) return fail(OnionError::data_too_large);
  std::vector<std::uint8_t> cell(cell_bytes, 0);
  cell[zero_prefix] = static_cast<std::uint8_t>(kind);
  cell[zero_prefix + 1] = code;
  store_u16(cell.data() + zero_prefix + 2, static_cast<std::uint16_t>(data.size()));
  if (!data.empty()) std::memcpy(cell.data() + reply_prefix, data.data(), data.size());
  lioness::encrypt(expand_reply_key(reply_key), cell);
  return cell;
}

void wrap_reply(const ReplyKey& reply_key, MutableBytes cell) {
  lioness::encrypt(expand_reply_key(reply_key), cell);
}

Result<OpenedReply, ReplyError> open_reply(std::span<const ReplyKey> reply_keys, MutableBytes cell) {
  if (!valid_cell_size(cell.size())) return fail(ReplyError::bad_size);
  for (std::size_t i = 0; i < reply_keys.size(); ++i) {
    lioness::decrypt(expand_reply_key(reply_keys[i]), cell);
    if (!sodium_is_zero(cell.data(), zero_prefix)) continue;
    OpenedReply out;
    out.hop = i;
    const std::uint8_t kind = cell[zero_prefix];
    if (kind > static_cast<std::uint8_t>(ReplyKind::relay_error)) return fail(ReplyError::unreadable);
    out.kind = static_cast<ReplyKind>(kind);
    out.code = cell[zero_prefix + 1];
    const std::size_t len = load_u16(cell.data() + zero_prefix + 2);
    if (len > max_reply_data(cell.size())) return fail(ReplyError::bad_length);
    out.data.assign(cell.begin() + static_cast<std::ptrdiff_t>(reply_prefix),
                    cell.begin() + static_cast<std::ptrdiff_t>(reply_prefix + len));
    return out;
  }
  return fail(ReplyError::unreadable);
}

void write_onion_frame_header(MutableBytes frame, FrameType type, std::uint64_t request_id) {
  if (frame.size() < onion_frame_header)
    throw std::length_error("write_onion_frame_header: buffer shorter than the header");
  frame[0] = static_cast<std::uint8_t>(type);
  store_u64(frame.data() + 1, request_id);
}

std::vector<std::uint8_t> make_onion_frame(FrameType type, std::uint64_t request_id, Bytes cell) {
  std::vector<std::uint8_t> frame(onion_frame_header + cell.size());
  write_onion_frame_header(frame, type, request_id);
  std::copy(cell.begin(), cell.end(), frame.data() + onion_frame_header);
  return frame;
}

}  // namespace nightjar
