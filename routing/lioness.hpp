// LIONESS (Anderson & Biham, 1996): a wide-block cipher built from a stream
// cipher (ChaCha20) and a keyed hash (BLAKE2b-256). The whole block is one
// permutation, so flipping any bit of a ciphertext turns the entire
// decryption into noise: onion payloads cannot be tagged hop to hop.
//
// Block = L (32 bytes) || R (the rest, at least 1 byte).
//   encrypt: R ^= S(L^K1); L ^= H_K2(R); R ^= S(L^K3); L ^= H_K4(R)
//   decrypt: the same steps in reverse order.
// S(k) is the ChaCha20 (IETF) keystream under key k and a zero nonce;
// H_k is BLAKE2b with a 32-byte output keyed with k.
// Used by the onion cells (routing/onion_cell.hpp) for payloads and replies.
#pragma once

#include "routing/bytes.hpp"

namespace nightjar {

struct LionessKeyTag;
// K1..K4, 32 bytes each.
using LionessKey = Secret<128, LionessKeyTag>;

namespace lioness {
inline constexpr std::size_t min_block = 33;
// Both work in place; `block` must be at least min_block bytes.
void encrypt(const LionessKey& key, MutableBytes block);
void decrypt(const LionessKey& key, MutableBytes block);
}  // namespace lioness

}  // namespace nightjar
