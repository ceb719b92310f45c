// Fuzzes the opening of closed groups' envelopes (client/group.hpp
// Group::open, client/group_messages.hpp open_outer and decode_inner): what
// anyone who can store into a group's mailbox puts in front of its members.
//
// A group is fixed at start-up (fixed identities, a deterministic random
// source): A created it and added B; the controls went between them through
// their codec (encode_controls, decode_controls), B joined on the welcome and
// A got B's sender key. B was also given a sender key of A's, generation 7,
// whose chain key and signing key the target knows. A sealed two messages
// (a short one, a fragment in the largest bucket). B's state is saved then,
// and every input is opened by B's group decoded from it afresh (open
// advances the chains, and a Group cannot be copied), from the mailbox of
// A's head epoch.
//
// Input layout: byte 0 mode, the rest the data.
//   mode % 3 == 0  raw: the data is the envelope; decode_inner also runs on it
//   mode % 3 == 1  forged: the data is the inner layer, which the target seals
//                  with the epoch's envelope key (the welcome gave it), so the
//                  inner parser and the checks after it are reached;
//                  decode_inner also runs on it
//   mode % 3 == 2  re-signed: the data is index (2, modulo 1100) || content;
//                  the target encrypts the content with that index's message
//                  key of A's generation 7 chain, signs the inner with that
//                  chain's key and seals it, so the skipping of message keys
//                  and the content parser are reached
//
// Invariants (trap on violation):
//   - nothing crashes or reads out of bounds; decode_inner re-encodes to
//     exactly its input
//   - raw: an envelope opens if and only if it is one A sealed, to what A
//     sealed (forging needs the epoch's keys); an empty or short one is
//     malformed
//   - forged: an inner opens only if it is the inner of one A sealed
//   - re-signed: opens if and only if the index is at most Group::max_skip,
//     the content decodes with no flags and the envelope is not too long; the message is then A's, and
//     its content re-encodes to the data's content
//   - an open that neither opens nor waits leaves B's state as it was; in
//     every case the state after it decodes and re-encodes to itself.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/group_envelope bin/fuzz_group_envelope
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "client/envelope.hpp"
#include "client/envelope_v2.hpp"
#include "client/group.hpp"
#include "client/group_messages.hpp"
#include "client/identity.hpp"
#include "routing/crypto.hpp"
#include "routing/random_source.hpp"
#include "routing/wire.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;
using namespace nightjar::client::group;

namespace {

enum Mode : std::uint8_t { raw = 0, forged = 1, resigned = 2 };

constexpr std::uint64_t now_ms = 1'800'000'000'000;
constexpr std::uint32_t max_body = 440;
constexpr std::uint32_t injected_generation = 7;
constexpr std::uint32_t index_modulus = 1100;  // past Group::max_skip

Identity identity_from(std::uint8_t b) {
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i) seed.data()[i] = static_cast<std::uint8_t>(b + i);
  return Identity::from_seed(seed);
}

DeterministicRandom rng_from(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(b);
  return DeterministicRandom(seed);
}

struct Fixture {
  DeterministicRandom rng = rng_from(0x65);
  Identity a = identity_from(0xa0);
  Identity b = identity_from(0xb0);
  std::optional<Group> at_a, at_b;
  Ed25519PublicKey mailbox;              // A's head epoch's
  std::optional<EpochKeys> keys;         // that epoch's, from the welcome's secret
  SymmetricKey injected_chain;           // A's generation 7 at B, index 0
  Ed25519KeyPair injected_signing;
  std::vector<std::vector<std::uint8_t>> sealed;  // A's genuine envelopes
  std::vector<std::vector<std::uint8_t>> inners;  // and their inner layers
  std::vector<v2::Content> contents;              // and what they hold
  std::vector<std::uint8_t> saved_b;              // B's state before opening any

  // Hands the controls of `actions` (sent by `from`) to their recipients,
  // through the codec, until nothing more is sent.
  void deliver(const Identity& from, Actions& actions) {
    for (auto& [to, list] : actions.send) {
      const auto bytes = encode_controls(list);
      auto decoded = decode_controls(bytes);
      CHECK(decoded.ok());
      const bool to_b = to == b.account();
      CHECK(to_b || to == a.account());
      Actions next;
      for (Control& c : *decoded) {
        if (to_b && !at_b) {
          auto* w = std::get_if<Welcome>(&c);
          CHECK(w != nullptr);
          keys = derive_epoch_keys(w->epoch_secret);
          auto g = Group::join(b, from.account(), std::move(*w), now_ms, rng, next);
          CHECK(g.ok());
          at_b.emplace(std::move(*g));
          continue;
        }
        (to_b ? *at_b : *at_a).receive(from.account(), std::move(c), now_ms, rng, next);
      }
      deliver(to_b ? b : a, next);
    }
  }

  Fixture() {
    Actions created;
    auto g = Group::create(a, "fuzz group", now_ms, rng, created);
    CHECK(g.ok());
    at_a.emplace(std::move(*g));
    deliver(a, created);
    Actions added;
    CHECK(at_a->change({Change{ChangeType::add, b.account(), Role::member, {}}}, now_ms, rng, added)
              .ok());
    deliver(a, added);
    CHECK(at_b.has_value() && at_b->member() && keys.has_value());
    mailbox = *at_a->head_mailbox();
    CHECK(at_b->head_mailbox() == mailbox && keys->mailbox.pub == mailbox);

    rng.fill(injected_chain.mutable_view());
    Ed25519Seed seed;
    rng.fill(seed.mutable_view());
    injected_signing = crypto::ed25519_from_seed(seed);
    Actions injected;
    at_b->receive(a.account(),
                  Control{SenderKeyControl{at_a->key(), injected_generation, 0,
                                           SymmetricKey::from(injected_chain.view()),
                                           injected_signing.pub}},
                  now_ms, rng, injected);
    CHECK(injected.send.empty());

    for (int k = 0; k < 2; ++k) {
      v2::Content c;
      c.timestamp_ms = now_ms;
      rng.fill(c.message_id.mutable_view());
      if (k == 0) {
        c.body = {'h', 'e', 'l', 'l', 'o'};
      } else {
        c.count = 2;  // a fragment: the largest bucket
        c.body.assign(capacity(max_body), 0x42);
      }
      auto e = at_a->seal(c, max_body, rng);
      CHECK(e.ok());
      auto inner = open_outer(*keys, *e);
      CHECK(inner.ok());
      sealed.push_back(std::move(*e));
      inners.push_back(std::move(*inner));
      contents.push_back(std::move(c));
    }
    saved_b = at_b->encode();
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture();  // never destroyed: used until exit
  return *f;
}

// The re-signed mode's envelope: `content` as message `index` of A's
// injected chain.
std::vector<std::uint8_t> resign(Fixture& f, std::uint32_t index, Bytes content) {
  SymmetricKey chain = SymmetricKey::from(f.injected_chain.view());
  for (std::uint32_t i = 0; i < index; ++i) (void)chain_step(chain);
  const SymmetricKey mk = chain_step(chain);
  Inner inner;
  inner.sender = f.a.account();
  inner.generation = injected_generation;
  inner.index = index;
  inner.ciphertext = crypto::aead_encrypt(
      mk, AeadNonce{}, content_ad(f.at_a->key(), f.mailbox, inner.sender, inner.generation, index),
      content);
  inner.signature =
      crypto::sign(f.injected_signing.sec, inner_signed_bytes(f.at_a->key(), f.mailbox, inner));
  auto rng = rng_from(0x72);
  return seal_outer(*f.keys, encode_inner(inner), rng);
}

std::vector<std::uint8_t> resigned_seed(std::uint16_t index, Bytes content) {
  std::vector<std::uint8_t> out(2);
  store_u16(out.data(), index);
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

void write_seeds(const std::string& dir) {
  Fixture& f = fixture();
  auto seed = [&dir](const std::string& name, Mode mode, Bytes data) {
    fuzz::write_seed(dir + "/" + name, mode, data);
  };
  // raw
  seed("raw-genuine", raw, f.sealed[0]);
  seed("raw-genuine-fragment", raw, f.sealed[1]);
  const Bytes genuine(f.sealed[0]);
  seed("raw-truncated", raw, genuine.first(genuine.size() - 1));
  seed("raw-short", raw, genuine.first(group::envelope_overhead - 1));
  seed("raw-empty", raw, Bytes{});
  for (std::size_t at : {std::size_t{0}, std::size_t{5}, std::size_t{40}, genuine.size() - 1}) {
    auto flipped = f.sealed[0];
    flipped[at] ^= 0x01;
    seed("raw-flipped-" + std::to_string(at), raw, flipped);
  }
  auto longer = f.sealed[0];
  longer.push_back(0);
  seed("raw-trailing", raw, longer);
  // forged
  seed("forged-genuine", forged, f.inners[0]);
  seed("forged-genuine-fragment", forged, f.inners[1]);
  {
    auto i = decode_inner(f.inners[0]);
    CHECK(i.ok());
    Inner other = *i;
    other.index = 1;
    seed("forged-index", forged, encode_inner(other));
    other = *i;
    other.generation = injected_generation;
    seed("forged-generation", forged, encode_inner(other));
    other = *i;
    other.sender = f.b.account();
    seed("forged-own", forged, encode_inner(other));
    other = *i;
    other.sender = identity_from(0xd0).account();
    seed("forged-stranger", forged, encode_inner(other));
    other = *i;
    other.ciphertext.back() ^= 0x80;
    seed("forged-ciphertext", forged, encode_inner(other));
  }
  seed("forged-short", forged, Bytes(f.inners[0]).first(150));
  // re-signed
  const auto content = v2::encode_content(f.contents[0], 100);
  seed("resigned-first", resigned, resigned_seed(0, content));
  seed("resigned-skip", resigned, resigned_seed(5, content));
  seed("resigned-too-far", resigned, resigned_seed(static_cast<std::uint16_t>(Group::max_skip + 1), content));
  seed("resigned-fragment", resigned, resigned_seed(1, v2::encode_content(f.contents[1], 300)));
  auto padded = content;
  padded.back() = 1;
  seed("resigned-bad-padding", resigned, resigned_seed(0, padded));
  auto flagged = content;
  flagged[0] = 1;
  seed("resigned-flags", resigned, resigned_seed(0, flagged));
  seed("resigned-short", resigned, resigned_seed(0, Bytes(content).first(v2::content_fixed_bytes - 1)));
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] % 3;
  // A copy of the data, so that ASan catches any read past its end.
  const std::vector<std::uint8_t> rest(data + 1, data + size);
  const Bytes input{rest.data(), rest.size()};
  Fixture& f = fixture();

  if (mode != resigned) {
    auto inner = decode_inner(input);
    if (inner) CHECK(encode_inner(*inner) == rest);
  }

  std::vector<std::uint8_t> envelope;
  std::optional<std::size_t> genuine;  // which of A's messages the data is
  std::vector<std::uint8_t> content;   // re-signed
  std::uint32_t index = 0;             // re-signed
  switch (mode) {
    case raw:
      envelope = rest;
      for (std::size_t k = 0; k < f.sealed.size(); ++k)
        if (rest == f.sealed[k]) genuine = k;
      break;
    case forged: {
      auto rng = rng_from(0x66);
      envelope = seal_outer(*f.keys, input, rng);
      for (std::size_t k = 0; k < f.inners.size(); ++k)
        if (rest == f.inners[k]) genuine = k;
      break;
    }
    default:
      if (rest.size() < 2) return 0;
      index = load_u16(rest.data()) % index_modulus;
      content.assign(rest.begin() + 2, rest.end());
      envelope = resign(f, index, content);
      break;
  }

  auto b = Group::decode(f.b, f.saved_b);
  CHECK(b.ok());
  const OpenResult r = b->open(f.mailbox, envelope, now_ms);
  CHECK((r.status == OpenStatus::opened) == r.message.has_value());
  if (r.status == OpenStatus::failed) CHECK(!r.why.empty());
  CHECK(r.status != OpenStatus::unknown_mailbox);

  switch (mode) {
    case raw:
      if (rest.size() < group::envelope_overhead) CHECK(r.status == OpenStatus::failed);
      [[fallthrough]];
    case forged:
      // Forging needs the epoch's keys and A's chain: only A's own opens.
      CHECK((r.status == OpenStatus::opened) == genuine.has_value());
      if (genuine) {
        const v2::Content& sent = f.contents[*genuine];
        CHECK(r.message->sender == f.a.account());
        CHECK(r.message->content.body == sent.body);
        CHECK(r.message->content.message_id == sent.message_id);
        CHECK(r.message->content.count == sent.count);
      }
      break;
    default: {
      auto decoded = v2::decode_content(content);
      const bool opens = envelope.size() <= client::max_envelope_bytes && index <= Group::max_skip &&
                         decoded.ok() && decoded->flags == 0;
      CHECK((r.status == OpenStatus::opened) == opens);
      if (!opens) CHECK(r.status == OpenStatus::failed);
      if (opens) {
        CHECK(r.message->sender == f.a.account());
        CHECK(v2::encode_content(r.message->content, content.size()) == content);
      }
      break;
    }
  }

  const auto after = b->encode();
  if (r.status != OpenStatus::opened && r.status != OpenStatus::waiting) CHECK(after == f.saved_b);
  auto again = Group::decode(f.b, after);
  CHECK(again.ok());
  CHECK(again->encode() == after);
  return 0;
}
