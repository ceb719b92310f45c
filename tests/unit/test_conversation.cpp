// Version 2 conversations (client/conversation.hpp, client/envelope_v2.hpp)
// with real keys: the first messages carry the handshake until the peer
// answers; any order of arrival opens; sizes are the shared buckets; replays
// are refused; simultaneous starts converge on one session; a side that lost
// its state recovers with a new start; one-time prekeys are used once;
// forward secrecy and post-compromise security of a stolen state; and no
// byte string in an envelope verifies as the sender's signature.
#include <sodium.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>

#include "tests/support/conversation_pair.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::ConversationPair;

namespace {

v2::Kind kind_of(const Identity& me, const std::vector<std::uint8_t>& envelope) {
  auto inner = v2::decode_inner(*v2::open_outer(me, envelope));
  REQUIRE(inner.ok());
  return inner->kind;
}

}  // namespace

TEST_CASE("v2: first messages carry the handshake until the peer answers, in any order",
          "[conversation]") {
  ConversationPair p;
  CHECK(p.at_alice.next_kind() == v2::Kind::prekey);
  auto m1 = p.alice_sends("one");
  auto m2 = p.alice_sends("two");
  auto m3 = p.alice_sends("three");
  REQUIRE((m1 && m2 && m3));
  for (const auto* m : {&*m1, &*m2, &*m3}) CHECK(kind_of(p.bob, *m) == v2::Kind::prekey);

  // The swarm hands them over in another order: the third starts the session.
  auto r3 = p.bob_opens(*m3);
  REQUIRE(r3.ok());
  CHECK(ConversationPair::text_of(*r3) == "three");
  CHECK(r3->new_session);
  CHECK(r3->prekeys_changed);  // Alice used one of Bob's one-time prekeys
  auto r1 = p.bob_opens(*m1);
  REQUIRE(r1.ok());
  CHECK_FALSE(r1->new_session);
  CHECK(ConversationPair::text_of(*r1) == "one");
  REQUIRE(p.bob_opens(*m2).ok());
  CHECK(p.at_bob.session_count() == 1);

  // Bob answers; once Alice opens it, her messages are ratchet messages.
  auto reply = p.bob_sends("hello Alice");
  REQUIRE(reply.ok());
  CHECK(kind_of(p.alice, *reply) == v2::Kind::ratchet);
  auto got = p.alice_opens(*reply);
  REQUIRE(got.ok());
  CHECK(ConversationPair::text_of(*got) == "hello Alice");
  CHECK(p.at_alice.next_kind() == v2::Kind::ratchet);
  auto m4 = p.alice_sends("four");
  REQUIRE(m4.ok());
  CHECK(kind_of(p.bob, *m4) == v2::Kind::ratchet);
  CHECK(ConversationPair::text_of(*p.bob_opens(*m4)) == "four");
}

TEST_CASE("v2: both kinds are sealed to the same three sizes", "[conversation]") {
  ConversationPair p;
  const auto sizes = v2::buckets(p.max_body);
  CHECK(sizes == std::array<std::size_t, 3>{296, 344, 440});
  CHECK(v2::capacity(v2::Kind::prekey, p.max_body) == 191);
  CHECK(v2::capacity(v2::Kind::ratchet, p.max_body) == 231);
  for (std::size_t n : {std::size_t{0}, std::size_t{47}, std::size_t{48}, std::size_t{95},
                        std::size_t{96}, std::size_t{191}}) {
    auto e = p.alice_sends(std::string(n, 'x'));
    REQUIRE(e.ok());
    CHECK(std::find(sizes.begin(), sizes.end(), e->size()) != sizes.end());
  }
  CHECK(p.alice_sends(std::string(192, 'x')).error() == SealError::body_too_large);
  REQUIRE(p.bob_opens(*p.alice_sends("start")).ok());
  REQUIRE(p.alice_opens(*p.bob_sends("ok")).ok());
  for (std::size_t n : {std::size_t{0}, std::size_t{87}, std::size_t{88}, std::size_t{231}}) {
    auto e = p.alice_sends(std::string(n, 'y'));
    REQUIRE(e.ok());
    CHECK(std::find(sizes.begin(), sizes.end(), e->size()) != sizes.end());
  }
  CHECK(p.alice_sends(std::string(232, 'y')).error() == SealError::body_too_large);
}

TEST_CASE("v2: a replayed envelope is refused, and a failed open changes nothing", "[conversation]") {
  ConversationPair p;
  auto m1 = p.alice_sends("once");
  REQUIRE(p.bob_opens(*m1).ok());
  CHECK(p.bob_opens(*m1).error() == ConversationError::replay);
  REQUIRE(p.alice_opens(*p.bob_sends("ack")).ok());
  auto m2 = p.alice_sends("ratchet once");
  REQUIRE(p.bob_opens(*m2).ok());
  const auto before = p.at_bob.encode();
  CHECK(p.bob_opens(*m2).error() == ConversationError::replay);
  auto tampered = *p.alice_sends("tampered");
  tampered[tampered.size() / 2] ^= 1;
  CHECK_FALSE(p.bob_opens(tampered).ok());
  CHECK(p.at_bob.encode() == before);
}

TEST_CASE("v2: messages lost or late within the bound open, and past it they are refused, not followed",
          "[conversation]") {
  ConversationPair p;
  REQUIRE(p.bob_opens(*p.alice_sends("start")).ok());
  REQUIRE(p.alice_opens(*p.bob_sends("ack")).ok());
  // 1,000 messages lost, then the next one: opens (keys of the lost kept).
  std::vector<std::vector<std::uint8_t>> kept;
  for (std::uint32_t i = 0; i < ratchet::max_skip; ++i) {
    auto m = p.alice_sends("lost " + std::to_string(i));
    if (i % 250 == 0) kept.push_back(*m);
  }
  REQUIRE(p.bob_opens(*p.alice_sends("after 1,000 lost")).ok());
  for (const auto& late : kept) CHECK(p.bob_opens(late).ok());  // late ones still open
  // 1,001 ahead in one chain: refused as such, and nothing changes.
  for (std::uint32_t i = 0; i <= ratchet::max_skip; ++i) (void)p.alice_sends("gap");
  const auto before = p.at_bob.encode();
  CHECK(p.bob_opens(*p.alice_sends("too far")).error() == ConversationError::too_far_ahead);
  CHECK(p.at_bob.encode() == before);
}

TEST_CASE("v2: a message opened but not yet handed over opens again from the journal, across a save",
          "[conversation]") {
  ConversationPair p;
  auto m1 = *p.alice_sends("kept until handed over");
  auto inner = *v2::decode_inner(*v2::open_outer(p.bob, m1));
  auto first = p.at_bob.receive(p.bob, p.bob_prekeys, inner, p.now);
  REQUIRE(first.ok());
  CHECK_FALSE(first->from_journal);
  CHECK(p.at_bob.journal_size() == 1);
  // The process dies here, before the message was shown; the saved state
  // comes back and the envelope is asked for again.
  auto restored = Conversation::decode(p.at_bob.encode());
  REQUIRE(restored.ok());
  auto again = restored->receive(p.bob, p.bob_prekeys, inner, p.now);
  REQUIRE(again.ok());
  CHECK(again->from_journal);
  CHECK(std::string(again->content.body.begin(), again->content.body.end()) == "kept until handed over");
  CHECK(again->journal_key == first->journal_key);
  // Handed over: forgotten, and the same envelope is a replay from then on.
  restored->forget(again->journal_key);
  CHECK(restored->journal_size() == 0);
  CHECK(restored->receive(p.bob, p.bob_prekeys, inner, p.now).error() == ConversationError::replay);
  // The journal is bounded.
  for (std::size_t i = 0; i < Conversation::max_journal + 5; ++i) {
    auto e = *p.alice_sends("m" + std::to_string(i));
    REQUIRE(restored->receive(p.bob, p.bob_prekeys, *v2::decode_inner(*v2::open_outer(p.bob, e)), p.now).ok());
  }
  CHECK(restored->journal_size() == Conversation::max_journal);
}

TEST_CASE("v2: two sides that start at once converge on one session", "[conversation]") {
  ConversationPair p(false);
  REQUIRE(p.at_alice.initiate(p.alice, *p.bob_prekeys.bundle(6), p.rng, p.now).ok());
  REQUIRE(p.at_bob.initiate(p.bob, *p.alice_prekeys.bundle(6), p.rng, p.now).ok());
  auto from_alice = p.alice_sends("hi Bob");
  auto from_bob = p.bob_sends("hi Alice");
  // Both arrive after both were sent.
  REQUIRE(p.bob_opens(*from_alice).ok());
  REQUIRE(p.alice_opens(*from_bob).ok());
  REQUIRE(p.at_alice.active());
  REQUIRE(p.at_bob.active());
  CHECK(p.at_alice.active()->id == p.at_bob.active()->id);
  // And they go on in it, both ways, many times.
  for (int i = 0; i < 5; ++i) {
    auto a = p.alice_sends("a" + std::to_string(i));
    auto b = p.bob_sends("b" + std::to_string(i));
    REQUIRE(p.bob_opens(*a).ok());
    REQUIRE(p.alice_opens(*b).ok());
  }
  CHECK(p.at_alice.active()->id == p.at_bob.active()->id);
  CHECK(p.at_alice.next_kind() == v2::Kind::ratchet);
  CHECK(p.at_bob.next_kind() == v2::Kind::ratchet);
}

TEST_CASE("v2: a side that lost its state starts again and the other adopts the new session",
          "[conversation]") {
  ConversationPair p;
  REQUIRE(p.bob_opens(*p.alice_sends("before")).ok());
  REQUIRE(p.alice_opens(*p.bob_sends("ack")).ok());
  auto lost = p.alice_sends("while Bob has nothing");
  // Bob's conversation is gone (a new device, a wiped profile).
  p.at_bob = Conversation(p.alice.account());
  CHECK(p.bob_opens(*lost).error() == ConversationError::no_session);
  // Bob starts again from Alice's bundle, with a control message.
  REQUIRE(p.at_bob.initiate(p.bob, *p.alice_prekeys.bundle(6), p.rng, p.now).ok());
  auto reset = p.at_bob.seal(p.bob, p.to_alice, p.content("", v2::flag_control), p.max_body, p.rng);
  REQUIRE(reset.ok());
  auto adopted = p.alice_opens(*reset);
  REQUIRE(adopted.ok());
  CHECK(adopted->new_session);
  CHECK(adopted->content.flags == v2::flag_control);
  CHECK(p.at_alice.active()->id == p.at_bob.active()->id);
  auto after = p.alice_sends("after");
  REQUIRE(after.ok());
  CHECK(ConversationPair::text_of(*p.bob_opens(*after)) == "after");
}

TEST_CASE("v2: a start from an old crossing message does not replace the active session",
          "[conversation]") {
  ConversationPair p;
  // Bob also starts, but his start is delayed until after the conversation
  // went on in Alice's session.
  Conversation bob_start(p.alice.account());
  REQUIRE(bob_start.initiate(p.bob, *p.alice_prekeys.bundle(6), p.rng, p.now).ok());
  auto late = bob_start.seal(p.bob, p.to_alice, p.content("crossed"), p.max_body, p.rng);
  REQUIRE(p.bob_opens(*p.alice_sends("first")).ok());
  REQUIRE(p.alice_opens(*p.bob_sends("newer than the crossed start")).ok());
  const auto active = p.at_alice.active()->id;
  auto got = p.alice_opens(*late);
  REQUIRE(got.ok());  // still opened, and shown
  CHECK(ConversationPair::text_of(*got) == "crossed");
  CHECK(p.at_alice.active()->id == active);
  CHECK(p.at_alice.session_count() == 2);
}

TEST_CASE("v2: a used one-time prekey leaves the bundle, still opens others' starts for 2 days, then goes",
          "[conversation]") {
  ConversationPair p;
  const auto bundle = *p.bob_prekeys.bundle(1);  // one one-time prekey
  SystemRandom rng;
  const auto carol = Identity::generate(rng);
  const auto dave = Identity::generate(rng);
  Conversation carol_conv(p.bob.account()), dave_conv(p.bob.account());
  REQUIRE(carol_conv.initiate(carol, bundle, rng, p.now).ok());
  REQUIRE(dave_conv.initiate(dave, bundle, rng, p.now).ok());
  REQUIRE(carol_conv.active()->prekey.one_time_prekey_id == dave_conv.active()->prekey.one_time_prekey_id);
  Conversation bob_carol(carol.account()), bob_dave(dave.account());
  auto c = carol_conv.seal(carol, p.to_bob, p.content("carol"), p.max_body, rng);
  auto d = dave_conv.seal(dave, p.to_bob, p.content("dave"), p.max_body, rng);
  auto first = ConversationPair::open_at(p.bob, p.bob_prekeys, bob_carol, *c, p.now);
  REQUIRE(first.ok());
  CHECK(first->prekeys_changed);  // used: publish the bundle again
  const std::uint32_t used = carol_conv.active()->prekey.one_time_prekey_id;
  const auto republished = *p.bob_prekeys.bundle();  // a copy: a loop over a temporary's member dangles
  for (const auto& k : republished.one_time) CHECK(k.id != used);
  // Dave fetched the bundle before it changed: his start still opens.
  auto second = ConversationPair::open_at(p.bob, p.bob_prekeys, bob_dave, *d, p.now);
  REQUIRE(second.ok());
  CHECK_FALSE(second->prekeys_changed);
  // Two days later the secret is gone, and such a start no longer opens.
  p.bob_prekeys.maintain(p.now + prekeys::used_retention_ms);
  const auto erin = Identity::generate(rng);
  Conversation erin_conv(p.bob.account()), bob_erin(erin.account());
  REQUIRE(erin_conv.initiate(erin, bundle, rng, p.now).ok());
  auto e = erin_conv.seal(erin, p.to_bob, p.content("erin"), p.max_body, rng);
  CHECK(ConversationPair::open_at(p.bob, p.bob_prekeys, bob_erin, *e, p.now).error() ==
        ConversationError::unknown_prekey);
  bob_dave = Conversation(dave.account());
  // A start without a one-time prekey works.
  PrekeyBundle none = bundle;
  none.one_time.clear();
  Conversation dave_again(p.bob.account());
  REQUIRE(dave_again.initiate(dave, none, rng, p.now).ok());
  CHECK(dave_again.active()->prekey.one_time_prekey_id == 0);
  auto d2 = dave_again.seal(dave, p.to_bob, p.content("dave again"), p.max_body, rng);
  REQUIRE(ConversationPair::open_at(p.bob, p.bob_prekeys, bob_dave, *d2, p.now).ok());
}

TEST_CASE("v2: a stolen state opens nothing sent before it, nor after a round trip that follows",
          "[conversation]") {
  ConversationPair p;
  std::vector<std::vector<std::uint8_t>> earlier;
  for (int i = 0; i < 3; ++i) earlier.push_back(*p.alice_sends("earlier " + std::to_string(i)));
  for (const auto& m : earlier) REQUIRE(p.bob_opens(m).ok());
  REQUIRE(p.alice_opens(*p.bob_sends("ack")).ok());
  auto more = *p.alice_sends("after the ack");
  REQUIRE(p.bob_opens(more).ok());
  earlier.push_back(more);

  // An attacker copies Bob's whole state (and his prekeys) now.
  auto stolen = Conversation::decode(p.at_bob.encode());
  REQUIRE(stolen.ok());
  Prekeys stolen_prekeys(p.bob);
  REQUIRE(stolen_prekeys.decode(p.bob_prekeys.encode()).ok());
  // Forward secrecy: nothing sent before the copy opens with it.
  for (const auto& m : earlier)
    CHECK_FALSE(ConversationPair::open_at(p.bob, stolen_prekeys, *stolen, m, p.now).ok());
  // Without an exchange the copy follows the chain (the test can fail)...
  auto same_chain = *p.alice_sends("same chain");
  auto copy = stolen->clone();
  CHECK(ConversationPair::open_at(p.bob, stolen_prekeys, copy, same_chain, p.now).ok());
  REQUIRE(p.bob_opens(same_chain).ok());
  // ...and while Bob still sends with the ratchet key he made before the
  // theft. Healing takes a round trip that starts after it: Bob opens a
  // message Alice sent after the theft (a DH step: his new key, which the
  // thief never saw), answers with it, and what Alice sends once she has read
  // that answer opens with the copy no more.
  REQUIRE(p.alice_opens(*p.bob_sends("still the old ratchet key")).ok());
  auto next = *p.alice_sends("after the theft");
  REQUIRE(p.bob_opens(next).ok());
  REQUIRE(p.alice_opens(*p.bob_sends("a ratchet key made after the theft")).ok());
  for (int i = 0; i < 3; ++i) {
    auto later = *p.alice_sends("later " + std::to_string(i));
    auto attempt = stolen->clone();
    CHECK_FALSE(ConversationPair::open_at(p.bob, stolen_prekeys, attempt, later, p.now).ok());
    REQUIRE(p.bob_opens(later).ok());
  }
}

TEST_CASE("v2: nothing in a stored envelope verifies as a signature of the sender", "[conversation]") {
  ConversationPair p;
  std::vector<std::vector<std::uint8_t>> envelopes;
  envelopes.push_back(*p.alice_sends("a prekey message"));
  REQUIRE(p.bob_opens(envelopes.back()).ok());
  REQUIRE(p.alice_opens(*p.bob_sends("ack")).ok());
  envelopes.push_back(*p.alice_sends("a ratchet message"));
  const auto& sender = p.alice.account();
  // The bytes a node stores, and the bytes Bob decrypts: every 64-byte
  // window, read as a signature over the rest (with and without the version
  // 1 envelope label, which is the only one a client signs with), fails.
  const std::string label = "nightjar envelope signature v1";
  for (const auto& e : envelopes) {
    const std::vector<std::uint8_t> inner = *v2::open_outer(p.bob, e);
    for (const std::vector<std::uint8_t>* bytes :
         std::initializer_list<const std::vector<std::uint8_t>*>{&e, &inner}) {
      for (std::size_t at = 0; at + 64 <= bytes->size(); ++at) {
        std::vector<std::uint8_t> rest(bytes->begin(), bytes->begin() + static_cast<std::ptrdiff_t>(at));
        rest.insert(rest.end(), bytes->begin() + static_cast<std::ptrdiff_t>(at + 64), bytes->end());
        std::vector<std::uint8_t> labelled(label.begin(), label.end());
        labelled.insert(labelled.end(), rest.begin(), rest.end());
        for (const auto* m : {&rest, &labelled}) {
          const bool verifies = crypto_sign_verify_detached(bytes->data() + at, m->data(), m->size(),
                                                             sender.data()) == 0;
          if (verifies) FAIL("a signature of the sender at byte " << at);
        }
      }
    }
  }
  // The check can fail: a version 1 envelope holds the sender's signature.
  auto v1 = seal(p.alice, p.bob.account(), Message{p.now, MessageId{}, 0, 1, as_bytes("signed")},
                 p.max_body, p.rng);
  auto v1_inner = *envelope_layers::decrypt_inner(p.bob, *v1);
  const auto sig_at = std::size_t{32};
  std::vector<std::uint8_t> signed_input(label.begin(), label.end());
  signed_input.insert(signed_input.end(), p.bob.account().bytes.begin(), p.bob.account().bytes.end());
  signed_input.insert(signed_input.end(), v1_inner.begin(), v1_inner.begin() + 32);
  signed_input.insert(signed_input.end(), v1_inner.begin() + 96, v1_inner.end());
  CHECK(crypto_sign_verify_detached(v1_inner.data() + sig_at, signed_input.data(), signed_input.size(),
                                    sender.data()) == 0);
}
