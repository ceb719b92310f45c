// Both sides of a fresh Double Ratchet conversation (client/ratchet.hpp),
// started from what a handshake would hand them: a random shared secret,
// the two initial header keys and Bob's first ratchet key pair.
#pragma once

#include "client/ratchet.hpp"

namespace nightjar::test {

struct RatchetPair {
  client::Ratchet alice;
  client::Ratchet bob;
};

inline RatchetPair start_ratchets() {
  const auto shared = crypto::random_secret<SymmetricKey>();
  const auto hka = crypto::random_secret<SymmetricKey>();
  const auto nhkb = crypto::random_secret<SymmetricKey>();
  auto bob_spk = crypto::x25519_generate();
  const X25519PublicKey bob_pub = bob_spk.pub;
  return RatchetPair{client::Ratchet::initiator(shared, hka, nhkb, bob_pub),
                     client::Ratchet::responder(shared, hka, nhkb, std::move(bob_spk))};
}

}  // namespace nightjar::test
