// The peel bound: the raw libsodium calls one relay peel makes (X25519, the
// hop's key derivation, the header MAC, the header keystream, LIONESS over the
// payload), in a bare loop with none of peel_cell's bookkeeping. A relay
// cannot peel faster than this on one core, so onion_bench (peel_cell alone)
// and relay_bench (a whole relay process forwarding over TCP) report their
// rates as a ratio to it.
//
// The constants below are private to routing/onion_cell.cpp (docs/PROTOCOL.md,
// "Onion cells"); they are repeated here so that the bound makes exactly the
// calls a peel makes. PeelBound::odd checks that it does: it counts results
// that a real cell under its real key never gives.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "bench_util.hpp"
#include "routing/onion_cell.hpp"

namespace nightjar::bench {

namespace raw {
using namespace onion;
constexpr std::size_t rho_bytes = (max_hops + 1) * slot_bytes;  // 528
constexpr std::size_t off_mac = 0;                              // 32: Poly1305 key
constexpr std::size_t off_payload = off_mac + 32;               // 128: LIONESS key
constexpr std::size_t off_reply = off_payload + 128;            // 32: reply key
constexpr std::size_t off_tag = off_reply + 32;                 // 8: replay tag
constexpr std::size_t off_rho = off_tag + 8;                    // 528: header keystream
constexpr std::size_t hop_stream_bytes = 768;  // 728 used; 12 whole ChaCha20 blocks
constexpr std::size_t mac_input_bytes = alpha_bytes + beta_bytes;  // 472
constexpr std::size_t lioness_half = 32;
constexpr unsigned char kdf_label[16] = {'n', 'i', 'g', 'h', 't', 'j', 'a', 'r',
                                         '-', 'o', 'n', 'i', 'o', 'n', '-', '1'};
constexpr unsigned char zero_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
constexpr unsigned char reply_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {
    'r', 'e', 'p', 'l', 'y', 0, 0, 0, 0, 0, 0, 0};
static_assert(off_rho + rho_bytes == 728 && rho_bytes == 528 && mac_input_bytes == 472);
static_assert(header_bytes == 488);

// The same byte loop as onion_cell.cpp's xor_into.
inline void xor_into(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    dst[i] ^= src[i];
}

// LIONESS's two kinds of round, as routing/lioness.cpp makes them (minus its
// 32-byte L ^ K key mixing): R ^= ChaCha20(k), and h = BLAKE2b-256(key = k, R).
inline void stream_round(const std::uint8_t* k, std::uint8_t* r, std::size_t n) {
  crypto_stream_chacha20_ietf_xor(r, r, n, zero_nonce, k);
}
inline void hash_round(const std::uint8_t* k, std::uint8_t* h, const std::uint8_t* r,
                       std::size_t n) {
  crypto_generichash(h, lioness_half, r, n, k, lioness_half);
}
}  // namespace raw

// One relay peel's libsodium calls, with none of peel_cell's bookkeeping (key
// selection, Secret wiping, replay cache, slot checks, header shift).
struct PeelBound {
  std::array<std::uint8_t, 32> sec{}, point{}, shared{}, alpha{}, master{}, h{};
  std::array<std::uint8_t, raw::hop_stream_bytes> stream{};
  std::array<std::uint8_t, raw::mac_input_bytes> alpha_beta{};
  std::array<std::uint8_t, onion::mac_bytes> gamma{};
  std::array<std::uint8_t, raw::rho_bytes> b{};
  std::vector<std::uint8_t> payload;
  // Low-order results or MAC mismatches: none, since the inputs come from a
  // real cell and the node's real key; checked after the run, it shows that
  // these calls derive exactly the keys peel_cell derives.
  std::uint64_t odd = 0;

  // Works on the node's real onion secret key and a real cell built for its
  // public key (the cell's first hop), so the scalar multiplication is the
  // very one peel_cell does and the MAC verifies.
  void load(std::span<const std::uint8_t, 32> onion_secret, const std::vector<std::uint8_t>& cell) {
    std::memcpy(sec.data(), onion_secret.data(), 32);
    std::memcpy(alpha.data(), cell.data(), 32);
    point = alpha;
    point[31] &= 0x7f;  // the top bit carries the key-epoch parity
    std::memcpy(alpha_beta.data(), cell.data(), raw::mac_input_bytes);
    std::memcpy(gamma.data(), cell.data() + raw::mac_input_bytes, onion::mac_bytes);
    payload.assign(cell.begin() + onion::header_bytes, cell.end());
  }

  void operator()() {
    if (crypto_scalarmult(shared.data(), sec.data(), point.data()) != 0) ++odd;
    // derive_hop: master = HChaCha20(key = s, alpha[0..16), label); stream = ChaCha20(master)
    crypto_core_hchacha20(master.data(), alpha.data(), shared.data(), raw::kdf_label);
    crypto_stream_chacha20_ietf(stream.data(), stream.size(), raw::zero_nonce, master.data());
    if (crypto_onetimeauth_verify(gamma.data(), alpha_beta.data(), alpha_beta.size(),
                                  stream.data() + raw::off_mac) != 0)
      ++odd;
    raw::xor_into(b.data(), stream.data() + raw::off_rho, raw::rho_bytes);
    // lioness::decrypt over the payload: H(K4), S(K3), H(K2), S(K1) on R.
    const std::uint8_t* k = stream.data() + raw::off_payload;
    std::uint8_t* r = payload.data() + raw::lioness_half;
    const std::size_t n = payload.size() - raw::lioness_half;
    raw::hash_round(k + 96, h.data(), r, n);
    raw::stream_round(k + 64, r, n);
    raw::hash_round(k + 32, h.data(), r, n);
    raw::stream_round(k, r, n);
    keep(b);
    keep(h);
  }
};

}  // namespace nightjar::bench
