// Fuzzes the version 2 envelope's parsers (client/envelope_v2.hpp) and the
// conversation that reads them (client/conversation.hpp): the inner layer a
// recipient decrypts, the content a ratchet message opens to, an encoded
// conversation state (what the profile holds), and a whole receive.
//
// A conversation is fixed at start-up: Alice started one with Bob from his
// bundle, Bob opened her first message and answered, Alice opened that (the
// keys are random, so genuine messages differ between runs).
//
// Input layout: byte 0 mode, the rest the data.
//   mode % 4 == 0  decode_inner on the data
//   mode % 4 == 1  decode_content on the data
//   mode % 4 == 2  Conversation::decode on the data
//   mode % 4 == 3  receive: the data as an inner, opened by a copy of Bob's
//                  conversation (with Alice's account as the sender whatever
//                  the data says)
//
// Invariants (trap on violation):
//   - what decodes re-encodes to exactly the input (inner; content at the
//     input's size; conversation state of the current version, while an
//     older one re-encodes as the current version and decodes back to it)
//   - receive never throws; forging is impossible in practice, so it fails,
//     and a failed receive leaves the conversation's encoding unchanged.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/envelope_v2 bin/fuzz_envelope_v2
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/conversation.hpp"
#include "client/envelope_v2.hpp"
#include "routing/crypto.hpp"
#include "routing/random_source.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;

namespace {

struct Fixture {
  SystemRandom rng;
  Identity alice = Identity::generate(rng);
  Identity bob = Identity::generate(rng);
  Prekeys bob_prekeys{bob};
  Conversation at_alice{bob.account()};
  Conversation at_bob{alice.account()};
  std::vector<std::uint8_t> first_inner;  // Alice's first message, decrypted by Bob

  Fixture() {
    const std::uint64_t now = 1'700'000'000'000;
    bob_prekeys.maintain(now);
    (void)at_alice.initiate(alice, *bob_prekeys.bundle(prekeys::published_one_time), rng, now);
    v2::Content c;
    c.timestamp_ms = now;
    c.body = {'h', 'i'};
    auto e = at_alice.seal(alice, *seal_key(bob.account()), c, 440, rng);
    first_inner = *v2::open_outer(bob, *e);
    (void)at_bob.receive(bob, bob_prekeys, *v2::decode_inner(first_inner), now);
    auto reply = at_bob.seal(bob, *seal_key(alice.account()), c, 440, rng);
    Prekeys none{alice};
    (void)at_alice.receive(alice, none, *v2::decode_inner(*v2::open_outer(alice, *reply)), now);
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture();  // never destroyed: used until exit
  return *f;
}

void write_seeds(const std::string& dir) {
  Fixture& f = fixture();
  std::vector<std::uint8_t> seed{0};
  seed.insert(seed.end(), f.first_inner.begin(), f.first_inner.end());
  fuzz::write_seed(dir + "/inner-prekey", seed);
  v2::Content c;
  c.timestamp_ms = 1'700'000'000'000;
  c.count = 3;
  c.index = 2;
  c.body = {1, 2, 3, 4};
  auto content = v2::encode_content(c, 60);
  content.insert(content.begin(), 1);
  fuzz::write_seed(dir + "/content", content);
  auto state = f.at_bob.encode();
  state.insert(state.begin(), 2);
  fuzz::write_seed(dir + "/state", state);
  seed[0] = 3;
  fuzz::write_seed(dir + "/receive-replay", seed);
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] % 4;
  const std::vector<std::uint8_t> rest(data + 1, data + size);
  const Bytes input{rest.data(), rest.size()};
  switch (mode) {
    case 0: {
      auto inner = v2::decode_inner(input);
      if (inner) CHECK(v2::encode_inner(*inner) == rest);
      break;
    }
    case 1: {
      auto content = v2::decode_content(input);
      if (content) CHECK(v2::encode_content(*content, rest.size()) == rest);
      break;
    }
    case 2: {
      auto state = Conversation::decode(input);
      if (!state) break;
      // The current version re-encodes to the input; an older one (without
      // the journal) re-encodes as the current one, which decodes back to it.
      if (rest[0] == Conversation::state_version) {
        CHECK(state->encode() == rest);
      } else {
        auto again = Conversation::decode(state->encode());
        CHECK(again.ok() && again->encode() == state->encode());
      }
      break;
    }
    default: {
      Fixture& f = fixture();
      auto inner = v2::decode_inner(input);
      if (!inner) break;
      inner->sender = f.alice.account();
      Conversation copy = f.at_bob.clone();
      Prekeys prekeys{f.bob};
      CHECK(prekeys.decode(f.bob_prekeys.encode()).ok());
      const auto before = copy.encode();
      auto r = copy.receive(f.bob, prekeys, *inner, 1'700'000'000'000);
      CHECK(!r.ok());
      CHECK(copy.encode() == before);
      break;
    }
  }
  return 0;
}
