// Fuzzes the Double Ratchet (client/ratchet.hpp) on the bytes it reads: a
// stored message (what the network hands a recipient) and an encoded state
// (what the profile holds).
//
// The conversation is fixed at start-up: constant shared keys and Bob's
// ratchet key from constant bytes; Alice has sent three messages, and Bob has
// opened the third (two skipped keys kept). Alice's ratchet keys and the
// nonces are random, so genuine messages differ between runs.
//
// Input layout: byte 0 mode, the rest the data.
//   mode % 3 == 0  decrypt: a copy of Bob's state opens the data
//   mode % 3 == 1  tamper: the data is XORed into a genuine message of
//                  Alice's (the first one, whose key Bob kept), which a copy
//                  of Bob's state then opens
//   mode % 3 == 2  decode: Ratchet::decode on the data
//
// Invariants (trap on violation):
//   - decrypt never throws or reads out of bounds; a failure leaves the state's
//     encoding unchanged; a success of arbitrary data is impossible in
//     practice (it needs a header key), so decrypt and tamper with a nonzero
//     XOR must fail
//   - tamper with an all-zero XOR opens to the genuine plaintext
//   - decode: a state that decodes re-encodes to exactly the input
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/ratchet bin/fuzz_ratchet
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "client/ratchet.hpp"
#include "routing/crypto.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;

namespace {

SymmetricKey constant_key(std::uint8_t base) {
  std::array<std::uint8_t, 32> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(base + i);
  return SymmetricKey::from(b);
}

const std::vector<std::uint8_t> ad = {'a', '|', 'b'};
const std::vector<std::uint8_t> first_text = {'f', 'i', 'r', 's', 't'};

struct Conversation {
  Ratchet bob;
  std::vector<std::uint8_t> first;  // Alice's first message, not yet opened by Bob
};

Conversation& conversation() {
  static Conversation* c = [] {
    const auto shared = constant_key(0x10), hka = constant_key(0x30), nhkb = constant_key(0x50);
    X25519KeyPair spk;
    spk.sec = X25519SecretKey::from(constant_key(0x70).view());
    spk.pub = crypto::x25519_public(spk.sec);
    auto alice = Ratchet::initiator(shared, hka, nhkb, spk.pub);
    auto bob = Ratchet::responder(shared, hka, nhkb, std::move(spk));
    auto first = alice.encrypt(first_text, ad);
    CHECK(first.ok());
    CHECK(alice.encrypt(first_text, ad).ok());
    auto third = alice.encrypt(first_text, ad);
    CHECK(third.ok());
    CHECK(bob.decrypt(*third, ad, 1).ok());
    return new Conversation{std::move(bob), *first};
  }();
  return *c;
}

void write_seeds(const std::string& dir) {
  auto& c = conversation();
  fuzz::write_seed(dir + "/decrypt-genuine", 0, c.first);
  fuzz::write_seed(dir + "/decrypt-short", 0, Bytes(c.first).first(ratchet::overhead - 1));
  fuzz::write_seed(dir + "/tamper-none", 1, std::vector<std::uint8_t>(c.first.size(), 0));
  std::vector<std::uint8_t> flip(c.first.size(), 0);
  flip[30] = 1;
  fuzz::write_seed(dir + "/tamper-header", 1, flip);
  fuzz::write_seed(dir + "/decode-state", 2, c.bob.encode());
  fuzz::write_seed(dir + "/decode-empty", 2, Bytes{});
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::vector<std::uint8_t> rest(data + 1, data + size);
  auto& c = conversation();
  switch (data[0] % 3) {
    case 0: {
      Ratchet bob = c.bob.clone();
      const auto before = bob.encode();
      auto r = bob.decrypt(rest, ad, 2);
      // Opening arbitrary bytes needs one of the conversation's keys; the
      // genuine first message is the one input that opens.
      if (r) {
        CHECK(rest == c.first);
        CHECK(*r == first_text);
      } else {
        CHECK(bob.encode() == before);
      }
      break;
    }
    case 1: {
      std::vector<std::uint8_t> m = c.first;
      const bool zero = std::all_of(rest.begin(), rest.end(), [](std::uint8_t b) { return b == 0; });
      for (std::size_t i = 0; i < std::min(m.size(), rest.size()); ++i) m[i] ^= rest[i];
      const bool changed = !zero && std::any_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(
                                                                     std::min(m.size(), rest.size())),
                                                 [](std::uint8_t b) { return b != 0; });
      Ratchet bob = c.bob.clone();
      auto r = bob.decrypt(m, ad, 2);
      if (changed) {
        CHECK(!r.ok());
      } else {
        CHECK(r.ok() && *r == first_text);
      }
      break;
    }
    default: {
      auto s = Ratchet::decode(rest);
      if (s) CHECK(s->encode() == rest);
      break;
    }
  }
  return 0;
}
