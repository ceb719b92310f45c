// Re-sealing an onion cell for one hop, with the per-hop keys derived straight
// from docs/PROTOCOL.md ("Per-hop keys"), independently of
// routing/onion_cell.cpp. A test holding the hop's onion secret can open the
// hop's routing bytes and payload, change them, and seal them again under a
// fresh header MAC: the cells a client that breaks the builder's rules could
// send, which build_cell never makes. Used by tests/unit/test_onion_cell.cpp
// and the vector generator (tests/vectors/gen_onion_vectors.cpp); header-only,
// so it needs nothing but the routing library.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "routing/crypto.hpp"
#include "routing/lioness.hpp"
#include "routing/onion_cell.hpp"

namespace nightjar::test {

// The hop's view of a cell, in plaintext: B[0..440) (its slot first) and the
// payload after its LIONESS layer is removed.
struct OpenedLayer {
  MutableBytes routing;
  MutableBytes payload;
};

// Opens the layer of `cell` for the hop whose onion secret is `onion_secret`,
// calls edit(OpenedLayer), then seals the layer again: beta re-encrypted with
// rho, the payload LIONESS-encrypted, gamma recomputed over alpha || beta.
// With an edit that changes nothing, the cell comes back byte for byte. False
// (cell unchanged) if the cell has an invalid size or alpha is a low-order point.
template <class Edit>
bool reseal_layer(const X25519SecretKey& onion_secret, MutableBytes cell, Edit edit) {
  using namespace onion;
  if (!valid_cell_size(cell.size())) return false;
  std::uint8_t* alpha = cell.data();
  std::uint8_t* beta = alpha + alpha_bytes;
  std::uint8_t* gamma = beta + beta_bytes;
  X25519PublicKey point = X25519PublicKey::from(std::span<const std::uint8_t, 32>(alpha, 32));
  point.bytes[31] &= 0x7f;
  auto s = crypto::x25519(onion_secret, point);
  if (!s) return false;

  // master = HChaCha20(key = s, input = alpha[0..16), constant = "nightjar-onion-1");
  // K = ChaCha20-IETF(key = master, nonce = 0, initial block counter 0).
  static constexpr unsigned char label[16] = {'n', 'i', 'g', 'h', 't', 'j', 'a', 'r',
                                              '-', 'o', 'n', 'i', 'o', 'n', '-', '1'};
  static constexpr unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
  Secret<32, SymmetricTag> master;
  crypto_core_hchacha20(master.data(), alpha, s->data(), label);
  Secret<768, SymmetricTag> k;
  crypto_stream_chacha20_ietf_xor_ic(k.data(), k.data(), k.size(), nonce, 0, master.data());
  const std::uint8_t* mac_key = k.data();
  const LionessKey payload_key =
      LionessKey::from(std::span<const std::uint8_t, 128>(k.data() + 32, 128));
  const std::uint8_t* rho = k.data() + 200;

  MutableBytes payload = cell.subspan(header_bytes);
  for (std::size_t i = 0; i < beta_bytes; ++i) beta[i] ^= rho[i];
  lioness::decrypt(payload_key, payload);
  edit(OpenedLayer{MutableBytes(beta, beta_bytes), payload});
  for (std::size_t i = 0; i < beta_bytes; ++i) beta[i] ^= rho[i];
  lioness::encrypt(payload_key, payload);
  std::uint8_t full[crypto_onetimeauth_BYTES];
  crypto_onetimeauth(full, alpha, alpha_bytes + beta_bytes, mac_key);
  std::memcpy(gamma, full, mac_bytes);
  return true;
}

}  // namespace nightjar::test
