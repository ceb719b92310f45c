// The conversation behind tests/vectors/envelope-v2.json, made with fixed
// keys and seeded randomness so that it is the same on every run: shared by
// the generator (gen_envelope_v2_vectors) and the test that checks the
// committed file (tests/unit/test_envelope_v2_vectors.cpp).
//
// Bob publishes his prekey bundle (as a public record); Alice starts a
// conversation from it and sends two prekey messages; Bob opens the second
// first, then the first (out of order), and answers; Alice opens the answer
// (a DH step) and sends a ratchet message; Bob sends two more, which Alice
// opens in the reverse order. tests/vectors/README.md describes the fields.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/conversation.hpp"
#include "client/envelope_v2.hpp"
#include "routing/bytes.hpp"
#include "routing/random_source.hpp"
#include "swarm/public_record.hpp"

namespace nightjar::vectors {

// DeterministicRandom that also records each read.
class RecordingRandom final : public RandomSource {
 public:
  explicit RecordingRandom(std::span<const std::uint8_t, 32> seed) : inner_(seed) {}
  void fill(MutableBytes out) override {
    inner_.fill(out);
    draws_.push_back(to_hex(Bytes(out.data(), out.size())));
  }
  const std::vector<std::string>& draws() const { return draws_; }

 private:
  DeterministicRandom inner_;
  std::vector<std::string> draws_;
};

inline Hash256 labelled(const std::string& label) {
  return crypto::blake2b_256(as_bytes("nightjar envelope v2 test vectors: " + label));
}

inline nlohmann::ordered_json envelope_v2_transcript() {
  using nlohmann::ordered_json;
  using namespace client;
  constexpr std::uint64_t now = 1'800'000'000'000;
  constexpr std::uint32_t max_body = 440;
  auto must = [](bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("envelope v2 vectors: ") + what);
  };

  const Hash256 alice_seed_bytes = labelled("alice identity"), bob_seed_bytes = labelled("bob identity");
  const Hash256 alice_rng_seed = labelled("alice randomness"), bob_rng_seed = labelled("bob randomness");
  Ed25519Seed alice_seed, bob_seed;
  std::copy(alice_seed_bytes.bytes.begin(), alice_seed_bytes.bytes.end(), alice_seed.data());
  std::copy(bob_seed_bytes.bytes.begin(), bob_seed_bytes.bytes.end(), bob_seed.data());
  const Identity alice = Identity::from_seed(alice_seed), bob = Identity::from_seed(bob_seed);
  RecordingRandom alice_rng(alice_rng_seed.bytes), bob_rng(bob_rng_seed.bytes);

  ordered_json out;
  out["description"] =
      "Nightjar envelope version 2 (docs/ENVELOPE.md, \"Version 2\"): a whole conversation "
      "from fixed keys and seeded randomness";
  out["format"] = {{"envelope_version", v2::envelope_version},
                   {"ratchet_message_overhead", v2::ratchet_message_overhead},
                   {"prekey_message_overhead", v2::prekey_message_overhead},
                   {"max_body_bytes", max_body},
                   {"buckets", v2::buckets(max_body)}};
  auto party = [](const Identity& id, const Hash256& seed, const Hash256& rng_seed) {
    return ordered_json{{"identity_seed", to_hex(seed.view())},
                        {"account", id.account().hex()},
                        {"x25519_public", id.x25519_public().hex()},
                        {"rng_seed", to_hex(rng_seed.view())}};
  };
  out["alice"] = party(alice, alice_seed_bytes, alice_rng_seed);
  out["bob"] = party(bob, bob_seed_bytes, bob_rng_seed);
  out["now_ms"] = now;

  // Bob's prekeys, bundle and public record.
  Prekeys bob_prekeys(bob), alice_prekeys(alice);
  bob_prekeys.maintain(now, &bob_rng);
  const auto bundle = bob_prekeys.bundle(prekeys::published_one_time);
  must(bundle.has_value(), "bundle");
  PublicRecord record;
  record.type = static_cast<std::uint8_t>(RecordType::prekey_bundle);
  record.owner = bob.account();
  record.version = now;
  record.expires_ms = now + 8ull * 24 * 3600 * 1000;
  record.payload = encode(*bundle);
  sign_record(record, bob.signing_key());
  ordered_json secrets = ordered_json::array();
  if (const auto* spk = bob_prekeys.signed_secret(bundle->signed_prekey.id))
    secrets.push_back({{"id", bundle->signed_prekey.id}, {"secret", to_hex(spk->view())}});
  for (const auto& k : bundle->one_time)
    if (const auto* s = bob_prekeys.one_time_secret(k.id))
      secrets.push_back({{"id", k.id}, {"secret", to_hex(s->view())}});
  out["bob_prekeys"] = {{"bundle", to_hex(encode(*bundle))},
                        {"prekey_secrets", secrets},
                        {"record", to_hex(encode(record))}};

  // Alice starts; messages go back and forth.
  Conversation at_alice(bob.account()), at_bob(alice.account());
  must(at_alice.initiate(alice, *bundle, alice_rng, now).ok(), "initiate");
  const SealKey to_bob = *seal_key(bob.account()), to_alice = *seal_key(alice.account());
  std::map<std::string, std::vector<std::uint8_t>> envelopes;
  ordered_json messages = ordered_json::array();
  std::uint64_t clock = now;
  auto send = [&](const std::string& name, bool from_alice, const std::string& text) {
    v2::Content c;
    c.timestamp_ms = ++clock;
    const Hash256 id = labelled("message " + name);
    std::copy(id.bytes.begin(), id.bytes.begin() + 16, c.message_id.data());
    c.body.assign(text.begin(), text.end());
    Conversation& conv = from_alice ? at_alice : at_bob;
    const v2::Kind kind = conv.next_kind();
    auto e = conv.seal(from_alice ? alice : bob, from_alice ? to_bob : to_alice, c, max_body,
                       from_alice ? static_cast<RandomSource&>(alice_rng) : bob_rng);
    must(e.ok(), "seal");
    envelopes[name] = *e;
    auto inner = v2::open_outer(from_alice ? bob : alice, *e);
    must(inner.ok(), "open_outer");
    messages.push_back({{"name", name},
                        {"from", from_alice ? "alice" : "bob"},
                        {"kind", kind == v2::Kind::prekey ? "prekey" : "ratchet"},
                        {"content",
                         {{"flags", c.flags},
                          {"timestamp_ms", c.timestamp_ms},
                          {"message_id", c.message_id.hex()},
                          {"index", c.index},
                          {"count", c.count},
                          {"body", to_hex(c.body)}}},
                        {"envelope", to_hex(*e)},
                        {"inner", to_hex(*inner)}});
  };
  ordered_json opened = ordered_json::array();
  auto receive = [&](const std::string& name, bool by_bob) {
    auto inner_bytes = v2::open_outer(by_bob ? bob : alice, envelopes.at(name));
    must(inner_bytes.ok(), "open_outer");
    auto inner = v2::decode_inner(*inner_bytes);
    must(inner.ok(), "decode_inner");
    Conversation& conv = by_bob ? at_bob : at_alice;
    auto r = conv.receive(by_bob ? bob : alice, by_bob ? bob_prekeys : alice_prekeys, *inner, clock,
                          by_bob ? static_cast<RandomSource*>(&bob_rng) : &alice_rng);
    must(r.ok(), "receive");
    conv.forget(r->journal_key);
    opened.push_back({{"by", by_bob ? "bob" : "alice"},
                      {"message", name},
                      {"body", to_hex(r->content.body)},
                      {"new_session", r->new_session}});
  };
  send("a1", true, "Hello Bob, this is the first message.");
  send("a2", true, "And a second one before you answered.");
  receive("a2", true);  // out of order: the second starts the session
  receive("a1", true);
  send("b1", false, "Hello Alice.");
  receive("b1", false);
  send("a3", true, "Now we are in step.");
  receive("a3", true);
  send("b2", false, "Two more,");
  send("b3", false, "in the wrong order.");
  receive("b3", false);
  receive("b2", false);
  out["messages"] = messages;
  out["opened"] = opened;
  out["random_draws"] = {{"alice", alice_rng.draws()}, {"bob", bob_rng.draws()}};
  out["final_state"] = {{"alice", to_hex(at_alice.encode())}, {"bob", to_hex(at_bob.encode())}};
  return out;
}

}  // namespace nightjar::vectors
