// Alice and Bob with real identities and prekeys, and a version 2
// conversation Alice started from Bob's bundle (client/conversation.hpp):
// helpers seal a text from either side and open an envelope at either side
// (the sealed layer, the inner, the session), as the client does.
#pragma once

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/conversation.hpp"
#include "client/envelope_v2.hpp"
#include "routing/random_source.hpp"

namespace nightjar::test {

struct ConversationPair {
  SystemRandom rng;
  client::Identity alice = client::Identity::generate(rng);
  client::Identity bob = client::Identity::generate(rng);
  client::Prekeys alice_prekeys{alice};
  client::Prekeys bob_prekeys{bob};
  client::Conversation at_alice{bob.account()};  // Alice's side of her conversation with Bob
  client::Conversation at_bob{alice.account()};
  client::SealKey to_alice = *client::seal_key(alice.account());
  client::SealKey to_bob = *client::seal_key(bob.account());
  std::uint32_t max_body = 440;
  std::uint64_t now = 1'700'000'000'000;
  std::uint64_t next_id = 1;

  // Alice starts (unless told not to) from Bob's published bundle.
  explicit ConversationPair(bool alice_starts = true) {
    alice_prekeys.maintain(now);
    bob_prekeys.maintain(now);
    if (alice_starts) {
      auto started = at_alice.initiate(alice, *bob_prekeys.bundle(client::prekeys::published_one_time), rng, now);
      if (!started) throw std::runtime_error("initiate failed");
    }
  }
  ConversationPair(const ConversationPair&) = delete;
  ConversationPair& operator=(const ConversationPair&) = delete;

  client::v2::Content content(const std::string& text, std::uint8_t flags = 0) {
    client::v2::Content c;
    c.flags = flags;
    c.timestamp_ms = ++now;
    std::uint64_t id = next_id++;
    std::memcpy(c.message_id.data(), &id, sizeof id);
    c.body.assign(text.begin(), text.end());
    return c;
  }
  Result<std::vector<std::uint8_t>, client::SealError> alice_sends(const std::string& text) {
    return at_alice.seal(alice, to_bob, content(text), max_body, rng);
  }
  Result<std::vector<std::uint8_t>, client::SealError> bob_sends(const std::string& text) {
    return at_bob.seal(bob, to_alice, content(text), max_body, rng);
  }
  static Result<client::Conversation::Received, client::ConversationError> open_at(
      const client::Identity& me, client::Prekeys& prekeys, client::Conversation& c,
      const std::vector<std::uint8_t>& envelope, std::uint64_t now_ms) {
    auto inner_bytes = client::v2::open_outer(me, envelope);
    if (!inner_bytes) return fail(client::ConversationError::does_not_open);
    auto inner = client::v2::decode_inner(*inner_bytes);
    if (!inner) return fail(client::ConversationError::does_not_open);
    auto r = c.receive(me, prekeys, *inner, now_ms);
    // Handed over at once, as the client does: out of the journal.
    if (r) c.forget(r->journal_key);
    return r;
  }
  Result<client::Conversation::Received, client::ConversationError> bob_opens(
      const std::vector<std::uint8_t>& envelope) {
    return open_at(bob, bob_prekeys, at_bob, envelope, now);
  }
  Result<client::Conversation::Received, client::ConversationError> alice_opens(
      const std::vector<std::uint8_t>& envelope) {
    return open_at(alice, alice_prekeys, at_alice, envelope, now);
  }
  static std::string text_of(const client::Conversation::Received& r) {
    return {r.content.body.begin(), r.content.body.end()};
  }
};

}  // namespace nightjar::test
