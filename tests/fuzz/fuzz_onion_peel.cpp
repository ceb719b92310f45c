// Fuzzes peel_cell, the node's cell processor. The node's onion keys are fixed
// (derived from constant bytes) in an OnionKeyring with a fixed EpochSchedule,
// and `now` is fixed in the middle of epoch `live_epoch`: only that key (odd
// parity) is live, and the keys of the epochs before and after it (even
// parity) are in the ring but out of their windows. Each input gets a fresh
// ReplayCache with room for one or two tags.
//
// Input layout:
//   byte 0  flags: bit 0  cell size: min_cell_bytes (else default_cell_bytes)
//                  bit 1  raw: the rest is the cell as is, unpadded and
//                         untruncated (wrong_size unless exactly the cell size)
//                  bit 2  set alpha's top bit to the live epoch's parity
//                  bit 3  forge the payload: the rest's payload bytes are the
//                         plaintext, which the target LIONESS-encrypts under
//                         this hop's payload key, as a (malicious) client can
//                  bit 4  forge the header: the rest's beta is the plaintext
//                         B[0..440), which the target encrypts with rho, and
//                         gamma is recomputed, so any slot gets past the MAC
//                  bit 5  the cache holds at most one tag and already holds an
//                         unrelated one: a cell past the MAC is refused as
//                         replay_cache_full
//                  bit 6  the cache already holds this cell's replay tag: a
//                         cell past the MAC is a replay
//                  bit 7  with bit 1: the cell size is the rest's own length
//                         (any size in [min_cell_bytes, max_cell_bytes] works)
//   rest    the cell, padded with zeros or truncated to the cell size unless raw
//
// Forging needs the hop's keys, which the target derives from the node's
// secret key as docs/PROTOCOL.md ("Per-hop keys") specifies. The same
// derivation gives an exact model of peel_cell ("Processing at a node"), and
// every result is checked against it (trap on violation):
//   - the drop reason is a known PeelDrop, and the one the model predicts
//   - relay: the cell keeps exactly cell_bytes and becomes next alpha ||
//     B[S..(r+1)S) || next gamma || decrypted payload; next hop, reply key
//     and epoch are the model's
//   - deliver: `data` is the request inside the cell buffer (at header +
//     18), no larger than max_request_data, and exactly the model's (a
//     deliver slot must be zero after its type, and the payload after the
//     request: otherwise bad_slot, bad_payload)
//   - peeling the same bytes again with the same cache gives `replay` if the
//     first attempt stored or found the tag (success, bad_slot, bad_payload,
//     replay), replay_cache_full again if the full cache refused it, and the
//     first attempt's drop otherwise (wrong_size .. bad_mac)
//   - forged cells are also checked against the fuzzer's own plaintext: a
//     forged header never fails the MAC, its slot decides bad_slot and the
//     relayed header; a forged payload decides bad_payload and the request.
//
// The seed corpus holds genuine cells made by build_cell (DeterministicRandom)
// on paths whose hop 0 is the fuzzed node, plus forged ones. To regenerate it:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/onion_peel bin/fuzz_onion_peel
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/lioness.hpp"
#include "routing/onion_cell.hpp"
#include "routing/onion_keys.hpp"
#include "routing/random_source.hpp"
#include "routing/wire.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

using namespace nightjar::onion;

const EpochSchedule schedule{3600, 600};
constexpr std::uint64_t live_epoch = 277;
// The middle of the live epoch: the neighbours' windows (grace 600 s) are shut.
constexpr std::uint64_t now = live_epoch * 3600 + 1800;
constexpr unsigned live_parity = live_epoch & 1u;
constexpr std::uint64_t unrelated_tag = 0x0123456789abcdefu;

// Per-hop key material, as docs/PROTOCOL.md lays it out.
constexpr std::size_t rho_bytes = (max_hops + 1) * slot_bytes;  // 528
constexpr std::size_t k_mac = 0;
constexpr std::size_t k_payload = 32;
constexpr std::size_t k_reply = 160;
constexpr std::size_t k_tag = 192;
constexpr std::size_t k_rho = 200;
constexpr std::size_t k_bytes = 768;  // 728 used; drawn as 12 whole ChaCha20 blocks

X25519KeyPair fixed_x25519(std::uint8_t first) {
  std::array<std::uint8_t, 32> sec{};
  for (std::size_t i = 0; i < sec.size(); ++i) sec[i] = static_cast<std::uint8_t>(first + 3 * i);
  X25519KeyPair kp;
  kp.sec = X25519SecretKey::from(sec);
  kp.pub = crypto::x25519_public(kp.sec);
  return kp;
}

NodeId fixed_id(std::uint8_t first) {
  NodeId id;
  for (std::size_t i = 0; i < id.size(); ++i) id.bytes[i] = static_cast<std::uint8_t>(first ^ (7 * i));
  return id;
}

struct Node {
  NodeId id = fixed_id(0x5a);
  OnionKeyring ring{schedule};
  X25519KeyPair live = fixed_x25519(0x11);  // the key of live_epoch

  Node() {
    const std::uint8_t firsts[3] = {0x10, 0x11, 0x12};
    for (std::uint64_t e = live_epoch - 1; e <= live_epoch + 1; ++e) {
      OnionKey k;
      k.epoch = e;
      k.keys = fixed_x25519(firsts[e - (live_epoch - 1)]);
      k.valid_from = schedule.valid_from(e);
      k.valid_until = schedule.valid_until(e);
      ring.add(std::move(k));
    }
  }
};

const Node& node() {
  static const Node* n = [] {
    CHECK(crypto::init());
    return new Node();
  }();
  return *n;
}

// --- The model ----------------------------------------------------------------

struct HopKeys {
  std::array<std::uint8_t, k_bytes> k{};
  const std::uint8_t* mac_key() const { return k.data() + k_mac; }
  const std::uint8_t* rho() const { return k.data() + k_rho; }
  std::uint64_t tag() const { return load_u64(k.data() + k_tag); }
  LionessKey payload_key() const {
    return LionessKey::from(std::span<const std::uint8_t, 128>(k.data() + k_payload, 128));
  }
  Bytes reply_key() const { return {k.data() + k_reply, 32}; }
};

// The hop's keys for `alpha` under the live key; nullopt for a low-order point.
std::optional<HopKeys> hop_keys(const std::uint8_t* alpha) {
  X25519PublicKey point = X25519PublicKey::from(std::span<const std::uint8_t, 32>(alpha, 32));
  point.bytes[31] &= 0x7f;
  auto s = crypto::x25519(node().live.sec, point);
  if (!s) return std::nullopt;
  static constexpr unsigned char label[16] = {'n', 'i', 'g', 'h', 't', 'j', 'a', 'r',
                                              '-', 'o', 'n', 'i', 'o', 'n', '-', '1'};
  std::uint8_t master[32];
  crypto_core_hchacha20(master, alpha, s->data(), label);
  HopKeys h;
  const unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
  crypto_stream_chacha20_ietf(h.k.data(), h.k.size(), nonce, master);
  return h;
}

void poly1305(const HopKeys& h, const std::uint8_t* alpha_beta, std::uint8_t* gamma) {
  static_assert(crypto_onetimeauth_BYTES == mac_bytes);
  crypto_onetimeauth(gamma, alpha_beta, alpha_bytes + beta_bytes, h.mac_key());
}

struct Expected {
  std::optional<PeelDrop> drop;
  SlotType action = SlotType::relay;
  std::vector<std::uint8_t> cell;      // the buffer after a successful peel
  NodeId next_hop;                     // relay
  std::size_t data_len = 0;            // deliver: data at header_bytes + request_prefix
  std::array<std::uint8_t, 32> reply_key{};
  bool past_mac = false;
};

Expected model(Bytes cell, std::size_t cell_bytes, const std::optional<HopKeys>& keys,
               bool own_tag_cached, bool cache_full) {
  Expected x;
  if (cell.size() != cell_bytes || !valid_cell_size(cell_bytes)) {
    x.drop = PeelDrop::wrong_size;
    return x;
  }
  if ((cell[31] >> 7) != live_parity) {
    x.drop = PeelDrop::expired_key;
    return x;
  }
  if (!keys) {
    x.drop = PeelDrop::low_order_key;
    return x;
  }
  if (crypto_onetimeauth_verify(cell.data() + alpha_bytes + beta_bytes, cell.data(),
                                alpha_bytes + beta_bytes, keys->mac_key()) != 0) {
    x.drop = PeelDrop::bad_mac;
    return x;
  }
  x.past_mac = true;
  if (own_tag_cached) {
    x.drop = PeelDrop::replay;
    return x;
  }
  if (cache_full) {
    x.drop = PeelDrop::replay_cache_full;
    return x;
  }
  std::array<std::uint8_t, rho_bytes> b{};
  std::memcpy(b.data(), cell.data() + alpha_bytes, beta_bytes);
  for (std::size_t i = 0; i < rho_bytes; ++i) b[i] ^= keys->rho()[i];
  const bool reserved_zero = std::all_of(b.begin() + 1, b.begin() + 8, [](std::uint8_t v) { return v == 0; });
  // A deliver slot is all zeros after its type byte.
  const bool deliver_zero =
      b[0] != 2 || std::all_of(b.begin() + 8, b.begin() + slot_bytes, [](std::uint8_t v) { return v == 0; });
  if (!reserved_zero || (b[0] != 1 && b[0] != 2) || !deliver_zero) {
    x.drop = PeelDrop::bad_slot;
    return x;
  }
  x.cell.assign(cell.begin(), cell.end());
  lioness::decrypt(keys->payload_key(), MutableBytes(x.cell).subspan(header_bytes));
  std::copy(keys->reply_key().begin(), keys->reply_key().end(), x.reply_key.begin());
  if (b[0] == 1) {
    x.action = SlotType::relay;
    std::memcpy(x.next_hop.data(), b.data() + 8, 32);
    std::memcpy(x.cell.data(), b.data() + 40, alpha_bytes);
    std::memcpy(x.cell.data() + alpha_bytes, b.data() + slot_bytes, beta_bytes);
    std::memcpy(x.cell.data() + alpha_bytes + beta_bytes, b.data() + 72, mac_bytes);
    return x;
  }
  x.action = SlotType::deliver;
  const std::uint8_t* plain = x.cell.data() + header_bytes;
  const bool prefix_zero = std::all_of(plain, plain + zero_prefix, [](std::uint8_t v) { return v == 0; });
  const std::size_t len = (std::size_t{plain[zero_prefix]} << 8) | plain[zero_prefix + 1];
  if (!prefix_zero || len > max_request_data(cell_bytes) ||
      !std::all_of(plain + request_prefix + len, plain + payload_bytes(cell_bytes),
                   [](std::uint8_t v) { return v == 0; })) {
    x.drop = PeelDrop::bad_payload;
    return x;
  }
  x.data_len = len;
  return x;
}

bool known_drop(PeelDrop d) {
  switch (d) {
    case PeelDrop::wrong_size:
    case PeelDrop::expired_key:
    case PeelDrop::low_order_key:
    case PeelDrop::bad_mac:
    case PeelDrop::replay:
    case PeelDrop::replay_cache_full:
    case PeelDrop::bad_slot:
    case PeelDrop::bad_payload:
      return true;
  }
  return false;
}

// Forged cells, checked against the fuzzer's own plaintext rather than the
// model (and, since these branches only run for forged cells, their coverage
// keeps forged inputs in the corpus).
void check_forged(const Result<Peeled, PeelDrop>& got, const std::vector<std::uint8_t>& cell,
                  std::size_t cell_bytes, const std::vector<std::uint8_t>& beta_in,
                  const std::vector<std::uint8_t>& plain_in) {
  if (!beta_in.empty()) {
    // The MAC was made for this header: it must get past the MAC check.
    CHECK(got.ok() || got.error() != PeelDrop::bad_mac);
    const bool reserved_zero =
        std::all_of(beta_in.begin() + 1, beta_in.begin() + 8, [](std::uint8_t v) { return v == 0; });
    const bool known_type = beta_in[0] == 1 || beta_in[0] == 2;
    // A deliver slot is all zeros after its type byte.
    const bool deliver_zero =
        beta_in[0] != 2 || std::all_of(beta_in.begin() + 8, beta_in.begin() + slot_bytes,
                                       [](std::uint8_t v) { return v == 0; });
    if (!got.ok() && got.error() == PeelDrop::bad_slot)
      CHECK(!reserved_zero || !known_type || !deliver_zero);
    if (got.ok())
      CHECK(reserved_zero && known_type && deliver_zero &&
            beta_in[0] == static_cast<std::uint8_t>(got->action));
    if (got.ok() && got->action == SlotType::relay) {
      CHECK(std::equal(beta_in.begin() + 8, beta_in.begin() + 40, got->next_hop.bytes.begin()));
      CHECK(std::equal(beta_in.begin() + 40, beta_in.begin() + 72, cell.begin()));
      CHECK(std::equal(beta_in.begin() + slot_bytes, beta_in.end(), cell.begin() + alpha_bytes));
      CHECK(std::equal(beta_in.begin() + 72, beta_in.begin() + 88, cell.begin() + alpha_bytes + beta_bytes));
    }
  }
  if (!plain_in.empty()) {
    const bool prefix_zero =
        std::all_of(plain_in.begin(), plain_in.begin() + zero_prefix, [](std::uint8_t v) { return v == 0; });
    const std::size_t len = load_u16(plain_in.data() + zero_prefix);
    // Zeros after the request (vacuously true when the length is out of range).
    const bool tail_zero =
        len > max_request_data(cell_bytes) ||
        std::all_of(plain_in.begin() + static_cast<std::ptrdiff_t>(request_prefix + len),
                    plain_in.end(), [](std::uint8_t v) { return v == 0; });
    if (!got.ok() && got.error() == PeelDrop::bad_payload)
      CHECK(!prefix_zero || len > max_request_data(cell_bytes) || !tail_zero);
    if (got.ok() && got->action == SlotType::relay)
      CHECK(std::equal(plain_in.begin(), plain_in.end(), cell.begin() + header_bytes));
    if (got.ok() && got->action == SlotType::deliver) {
      CHECK(prefix_zero && len <= max_request_data(cell_bytes) && tail_zero);
      CHECK(got->data.size() == len);
      CHECK(std::equal(got->data.begin(), got->data.end(), plain_in.begin() + request_prefix));
    }
  }
}

// --- Seed generation ---------------------------------------------------------

std::vector<std::uint8_t> with_flags(std::uint8_t flags, const std::vector<std::uint8_t>& cell) {
  std::vector<std::uint8_t> seed{flags};
  seed.insert(seed.end(), cell.begin(), cell.end());
  return seed;
}

// A genuine cell for a path of `hops` whose hop 0 is the fuzzed node; the other
// hops are fixed nodes of their own.
std::vector<std::uint8_t> genuine(std::size_t cell_bytes, std::size_t hops, std::size_t data_len,
                                  std::uint8_t seed_byte) {
  std::vector<X25519KeyPair> others;
  std::vector<OnionHop> path;
  path.push_back(OnionHop{node().id, node().live.pub, live_epoch});
  for (std::size_t i = 1; i < hops; ++i) {
    others.push_back(fixed_x25519(static_cast<std::uint8_t>(0x40 + i)));
    path.push_back(OnionHop{fixed_id(static_cast<std::uint8_t>(0x60 + i)), others.back().pub,
                            live_epoch + i});
  }
  std::vector<std::uint8_t> data(data_len);
  for (std::size_t i = 0; i < data_len; ++i) data[i] = static_cast<std::uint8_t>('a' + i % 26);
  std::array<std::uint8_t, 32> seed{};
  seed.fill(seed_byte);
  DeterministicRandom rng(seed);
  auto built = build_cell(cell_bytes, path, data, rng);
  CHECK(built.ok());
  return std::move(built->cell);
}

// A forged cell (flags: parity, forge header, forge payload): alpha a fixed
// point, beta the plaintext slot, payload the plaintext request.
std::vector<std::uint8_t> forged(const std::uint8_t (&slot)[slot_bytes], std::uint16_t len_field,
                                 std::size_t data_len) {
  std::vector<std::uint8_t> cell(min_cell_bytes, 0);
  const X25519KeyPair eph = fixed_x25519(0x77);
  std::memcpy(cell.data(), eph.pub.data(), alpha_bytes);
  std::memcpy(cell.data() + alpha_bytes, slot, slot_bytes);
  std::uint8_t* payload = cell.data() + header_bytes;
  store_u16(payload + zero_prefix, len_field);
  for (std::size_t i = 0; i < data_len; ++i) payload[request_prefix + i] = static_cast<std::uint8_t>('A' + i % 26);
  return with_flags(0x01 | 0x04 | 0x08 | 0x10, cell);
}

void write_seeds(const std::string& dir) {
  constexpr std::uint8_t size_min = 0x01, raw = 0x02, parity = 0x04, foreign_full = 0x20,
                         own_tag = 0x40, own_size = 0x80;
  fuzz::write_seed(dir + "/deliver-1hop", with_flags(0, genuine(default_cell_bytes, 1, 11, 1)));
  fuzz::write_seed(dir + "/deliver-1hop-min-full",
                   with_flags(size_min, genuine(min_cell_bytes, 1, max_request_data(min_cell_bytes), 2)));
  fuzz::write_seed(dir + "/deliver-1hop-700-own-size",
                   with_flags(raw | own_size, genuine(700, 1, 100, 3)));
  fuzz::write_seed(dir + "/relay-4hop", with_flags(0, genuine(default_cell_bytes, 4, 300, 4)));
  fuzz::write_seed(dir + "/relay-5hop-min-raw",
                   with_flags(size_min | raw, genuine(min_cell_bytes, 5, 0, 5)));
  fuzz::write_seed(dir + "/relay-2hop-cache-full",
                   with_flags(size_min | foreign_full, genuine(min_cell_bytes, 2, 20, 6)));
  fuzz::write_seed(dir + "/deliver-1hop-own-tag-cached",
                   with_flags(size_min | own_tag, genuine(min_cell_bytes, 1, 20, 7)));
  auto flipped = genuine(min_cell_bytes, 1, 5, 8);
  flipped[31] ^= 0x80;
  fuzz::write_seed(dir + "/wrong-parity", with_flags(size_min, flipped));
  std::vector<std::uint8_t> low_order(alpha_bytes, 0);  // the zero point, with live parity
  fuzz::write_seed(dir + "/low-order", with_flags(size_min | parity, low_order));
  fuzz::write_seed(dir + "/raw-short", with_flags(raw, {1, 2, 3, 4, 5, 6, 7, 8}));

  std::uint8_t slot[slot_bytes] = {0};
  slot[0] = static_cast<std::uint8_t>(SlotType::deliver);
  fuzz::write_seed(dir + "/forged-deliver", forged(slot, 10, 10));
  fuzz::write_seed(dir + "/forged-deliver-long-length",
                   forged(slot, static_cast<std::uint16_t>(max_request_data(min_cell_bytes) + 1), 46));
  // Not canonical: a byte after the request, a non-zero deliver slot.
  auto stray = forged(slot, 10, 10);
  stray[1 + header_bytes + request_prefix + 10] = 1;
  fuzz::write_seed(dir + "/forged-deliver-byte-after-request", stray);
  slot[slot_bytes - 1] = 1;
  fuzz::write_seed(dir + "/forged-deliver-slot-not-zero", forged(slot, 10, 10));
  slot[slot_bytes - 1] = 0;
  slot[3] = 1;
  fuzz::write_seed(dir + "/forged-bad-slot", forged(slot, 10, 10));
  slot[3] = 0;
  slot[0] = static_cast<std::uint8_t>(SlotType::relay);
  for (std::size_t i = 8; i < slot_bytes; ++i) slot[i] = static_cast<std::uint8_t>(i);
  fuzz::write_seed(dir + "/forged-relay", forged(slot, 0, 0));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  CHECK(crypto::init());
  CHECK(schedule.valid());
  // Only the live epoch's key is selectable at `now`, by its parity only.
  CHECK(node().ring.select(live_parity, now) == node().ring.find(live_epoch));
  CHECK(node().ring.select(live_parity ^ 1u, now) == nullptr);
  fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const Bytes rest{data + 1, size - 1};
  const bool raw = (flags & 0x02) != 0;
  const bool set_parity = (flags & 0x04) != 0;
  const bool forge_payload = (flags & 0x08) != 0;
  const bool forge_header = (flags & 0x10) != 0;
  const bool foreign_full = (flags & 0x20) != 0;
  const bool own_tag = (flags & 0x40) != 0;
  std::size_t cell_bytes = (flags & 0x01) ? min_cell_bytes : default_cell_bytes;
  if (raw && (flags & 0x80)) cell_bytes = rest.size();

  std::vector<std::uint8_t> cell;
  if (raw) {
    cell.assign(rest.begin(), rest.end());
  } else {
    cell.assign(cell_bytes, 0);
    std::copy_n(rest.begin(), std::min(rest.size(), cell_bytes), cell.begin());
  }

  std::optional<HopKeys> keys;
  std::vector<std::uint8_t> beta_in, plain_in;  // what forging started from
  if (cell.size() == cell_bytes && valid_cell_size(cell_bytes)) {
    if (set_parity) cell[31] = static_cast<std::uint8_t>((cell[31] & 0x7f) | (live_parity << 7));
    if ((cell[31] >> 7) == live_parity) keys = hop_keys(cell.data());
    if (keys && forge_header) {
      beta_in.assign(cell.begin() + alpha_bytes, cell.begin() + alpha_bytes + beta_bytes);
      for (std::size_t i = 0; i < beta_bytes; ++i) cell[alpha_bytes + i] ^= keys->rho()[i];
      poly1305(*keys, cell.data(), cell.data() + alpha_bytes + beta_bytes);
    }
    if (keys && forge_payload) {
      plain_in.assign(cell.begin() + header_bytes, cell.end());
      lioness::encrypt(keys->payload_key(), MutableBytes(cell).subspan(header_bytes));
    }
  }
  const std::vector<std::uint8_t> original = cell;

  ReplayCache replay(foreign_full ? 1 : 2);
  if (own_tag && keys) CHECK(replay.insert(live_epoch, keys->tag()) == ReplayCache::Outcome::fresh);
  if (foreign_full) (void)replay.insert(live_epoch, unrelated_tag);
  const Expected want = model(original, cell_bytes, keys, own_tag && keys, foreign_full);

  auto got = peel_cell(node().ring, replay, cell, cell_bytes, now);
  if (!got.ok()) {
    CHECK(known_drop(got.error()));
    CHECK(want.drop.has_value() && *want.drop == got.error());
  } else {
    CHECK(!want.drop.has_value());
    const Peeled& p = *got;
    CHECK(p.action == SlotType::relay || p.action == SlotType::deliver);
    CHECK(p.action == want.action);
    CHECK(p.epoch == live_epoch);
    CHECK(crypto::equal(p.reply_key.view(), want.reply_key));
    if (p.action == SlotType::relay) {
      CHECK(cell.size() == cell_bytes);
      CHECK(p.next_hop == want.next_hop);
      CHECK(p.data.empty());
      CHECK(cell == want.cell);
    } else {
      // `data` lies inside the cell buffer, right after the request prefix.
      const std::uint8_t* lo = cell.data();
      const std::uint8_t* hi = cell.data() + cell.size();
      CHECK(p.data.size() <= max_request_data(cell_bytes));
      CHECK(p.data.data() >= lo && p.data.data() <= hi);
      CHECK(p.data.size() <= static_cast<std::size_t>(hi - p.data.data()));
      CHECK(p.data.data() == lo + header_bytes + request_prefix);
      CHECK(p.data.size() == want.data_len);
      CHECK(std::equal(cell.begin() + header_bytes, cell.end(), want.cell.begin() + header_bytes));
    }
  }

  if (!beta_in.empty() || !plain_in.empty()) check_forged(got, cell, cell_bytes, beta_in, plain_in);

  // The same bytes again, with the same cache.
  std::vector<std::uint8_t> again = original;
  auto second = peel_cell(node().ring, replay, again, cell_bytes, now);
  CHECK(!second.ok());
  if (want.past_mac) {
    const bool stored = got.ok() || got.error() == PeelDrop::bad_slot ||
                        got.error() == PeelDrop::bad_payload || got.error() == PeelDrop::replay;
    CHECK(second.error() == (stored ? PeelDrop::replay : PeelDrop::replay_cache_full));
  } else {
    CHECK(second.error() == got.error());
  }
  return 0;
}
