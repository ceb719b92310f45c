// The closed group behind tests/vectors/group.json, made with fixed keys and
// seeded randomness so that it is the same on every run: shared by the
// generator (gen_group_vectors) and the test that checks the committed file
// (tests/unit/test_group_vectors.cpp).
//
// Alice creates the group (epoch 0) and adds Bob and Carol in one commit
// (epoch 1): a welcome and her sender key to each; Bob and Carol join and send
// their sender keys to the others. Alice and Bob each send a message, which
// the two others open. Alice removes Carol (epoch 2): the commit with the new
// secret to Bob, without it to Carol; Alice and Bob rotate their sender keys
// (generation 2). Bob sends a message in epoch 2, which Alice opens and Carol
// cannot. Every control travels through encode_controls, as it would inside a
// 1:1 message. tests/vectors/README.md describes the fields.
#pragma once

#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "client/account.hpp"
#include "client/envelope_v2.hpp"
#include "client/group.hpp"
#include "client/group_messages.hpp"
#include "client/identity.hpp"
#include "routing/bytes.hpp"
#include "routing/random_source.hpp"

namespace nightjar::vectors::group_vectors {

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
  return crypto::blake2b_256(as_bytes("nightjar group test vectors: " + label));
}

inline const char* control_type_name(const client::group::Control& c) {
  using namespace client::group;
  if (std::holds_alternative<Welcome>(c)) return "welcome";
  if (std::holds_alternative<CommitControl>(c)) return "commit";
  if (std::holds_alternative<SenderKeyControl>(c)) return "sender_key";
  return "leave";
}

inline const char* open_status_name(client::group::OpenStatus s) {
  using client::group::OpenStatus;
  switch (s) {
    case OpenStatus::opened: return "opened";
    case OpenStatus::duplicate: return "duplicate";
    case OpenStatus::waiting: return "waiting";
    case OpenStatus::unknown_mailbox: return "unknown_mailbox";
    case OpenStatus::failed: return "failed";
  }
  return "failed";
}

inline nlohmann::ordered_json change_json(const client::group::Change& ch) {
  using namespace client::group;
  switch (ch.type) {
    case ChangeType::add:
      return {{"type", "add"}, {"account", ch.account.hex()}, {"role", to_string(ch.role)}};
    case ChangeType::remove: return {{"type", "remove"}, {"account", ch.account.hex()}};
    case ChangeType::rename: return {{"type", "rename"}, {"name", ch.name}};
    case ChangeType::promote: return {{"type", "promote"}, {"account", ch.account.hex()}};
  }
  return {};
}

inline nlohmann::ordered_json group_transcript() {
  using nlohmann::ordered_json;
  using namespace client;
  using namespace client::group;
  constexpr std::uint64_t now = 1'800'000'000'000;
  constexpr std::uint32_t max_body = 440;
  const std::string group_name = "Nightjar test group";
  auto must = [](bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error("group vectors: " + what);
  };

  // The three people: identities and random sources from fixed labels. The
  // identities live here, unmoved, for as long as the groups that point at
  // them.
  struct Person {
    std::string name;
    Hash256 identity_seed;
    Hash256 rng_seed;
    Identity identity;
    RecordingRandom rng;
    std::optional<Group> group;
  };
  auto make_person = [](const std::string& name) {
    const Hash256 seed = labelled(name + " identity"), rng_seed = labelled(name + " randomness");
    Ed25519Seed s;
    std::copy(seed.bytes.begin(), seed.bytes.end(), s.data());
    return Person{name, seed, rng_seed, Identity::from_seed(s), RecordingRandom(rng_seed.bytes),
                  std::nullopt};
  };
  Person people[3] = {make_person("alice"), make_person("bob"), make_person("carol")};
  Person& alice = people[0];
  Person& bob = people[1];
  Person& carol = people[2];
  auto index_of = [&](const AccountKey& a) {
    for (std::size_t i = 0; i < 3; ++i)
      if (people[i].identity.account() == a) return i;
    throw std::runtime_error("group vectors: unknown account");
  };

  ordered_json out;
  out["description"] =
      "Nightjar closed groups (docs/GROUPS.md): a group's genesis, two commits, the controls its "
      "members send one another and group envelopes, from fixed keys and seeded randomness";
  out["format"] = {{"format_version", format_version},
                   {"envelope_version", group::envelope_version},
                   {"envelope_overhead", group::envelope_overhead},
                   {"kdf_context", "njgroup1"},
                   {"max_body_bytes", max_body},
                   {"buckets", v2::buckets(max_body)}};
  for (const Person& p : people)
    out[p.name] = {{"identity_seed", to_hex(p.identity_seed.view())},
                   {"account", p.identity.account().hex()},
                   {"account_id", format_account_id(p.identity.account())},
                   {"rng_seed", to_hex(p.rng_seed.view())}};
  out["now_ms"] = now;

  // Controls: recorded as sent, delivered in that order (first in, first out).
  struct Delivery {
    std::size_t from, to;
    std::vector<std::uint8_t> bytes;
  };
  std::deque<Delivery> queue;
  ordered_json controls = ordered_json::array();
  // The chains each sender's controls carried: (sender, generation) -> the control.
  std::map<std::pair<std::size_t, std::uint32_t>, ordered_json> chains;
  auto send_actions = [&](std::size_t from, Actions& actions) {
    for (auto& [to, list] : actions.send) {
      ordered_json types = ordered_json::array();
      for (const Control& c : list) {
        types.push_back(control_type_name(c));
        if (const auto* sk = std::get_if<SenderKeyControl>(&c))
          chains.emplace(std::make_pair(from, sk->generation),
                         ordered_json{{"generation", sk->generation},
                                      {"index", sk->index},
                                      {"chain_key", to_hex(sk->chain_key.view())},
                                      {"signing_key", sk->signing_key.hex()}});
      }
      const std::size_t t = index_of(to);
      auto bytes = encode_controls(list);
      controls.push_back({{"from", people[from].name},
                          {"to", people[t].name},
                          {"epoch", people[from].group->head().epoch},
                          {"types", types},
                          {"bytes", to_hex(bytes)}});
      queue.push_back(Delivery{from, t, std::move(bytes)});
    }
    must(actions.opened.empty(), "nothing waits for a sender key here");
  };
  auto deliver_all = [&](std::uint64_t at) {
    while (!queue.empty()) {
      Delivery d = std::move(queue.front());
      queue.pop_front();
      auto list = decode_controls(d.bytes);
      must(list.ok(), "controls decode");
      Person& p = people[d.to];
      const AccountKey& from = people[d.from].identity.account();
      Actions actions;
      for (Control& c : *list) {
        if (!p.group) {
          auto* w = std::get_if<Welcome>(&c);
          must(w != nullptr, "a welcome first");
          auto g = Group::join(p.identity, from, std::move(*w), at, p.rng, actions);
          must(g.ok(), "join");
          p.group.emplace(std::move(*g));
          continue;
        }
        p.group->receive(from, std::move(c), at, p.rng, actions);
      }
      send_actions(d.to, actions);
    }
  };

  // Epochs as every member of them sees them; the commit as its committer
  // made and signed it (Ed25519 is deterministic, so signing the same fields
  // again gives the same bytes, which must hash to the group's).
  ordered_json epochs = ordered_json::array();
  auto epoch_json = [&](const Group& g, const std::optional<Commit>& commit) {
    const EpochState& h = g.head();
    must(h.secret.has_value(), "the committer holds the secret");
    const EpochKeys keys = derive_epoch_keys(*h.secret);
    must(g.head_mailbox() && *g.head_mailbox() == keys.mailbox.pub, "mailbox key");
    ordered_json e;
    e["epoch"] = h.epoch;
    if (commit) {
      const auto bytes = encode(*commit);
      must(commit_hash(*commit) == h.commit_hash, "the commit is the group's");
      ordered_json changes = ordered_json::array();
      for (const Change& ch : commit->changes) changes.push_back(change_json(ch));
      e["commit"] = {{"committer", commit->committer.hex()},
                     {"parent_epoch", commit->parent_epoch},
                     {"parent_hash", commit->parent_hash.hex()},
                     {"timestamp_ms", commit->timestamp_ms},
                     {"changes", changes},
                     {"bytes", to_hex(bytes)},
                     {"hash", h.commit_hash.hex()}};
    }
    e["hash"] = h.hash.hex();
    e["name"] = h.name;
    ordered_json members = ordered_json::array();
    for (const Member& m : h.members)
      members.push_back({{"account", m.account.hex()}, {"role", to_string(m.role)}});
    e["members"] = members;
    e["epoch_secret"] = to_hex(h.secret->view());
    e["mailbox_seed"] = to_hex(crypto::ed25519_seed(keys.mailbox.sec).view());
    e["mailbox_public"] = keys.mailbox.pub.hex();
    e["envelope_key"] = to_hex(keys.envelope.view());
    epochs.push_back(e);
  };
  auto commit_of = [&](const Group& g, std::vector<Change> changes, std::uint64_t at) {
    // What Group::change signed: the same fields, signed again.
    Commit c;
    c.group = g.key();
    c.parent_epoch = g.head().epoch;
    c.parent_hash = g.head().hash;
    c.committer = alice.identity.account();
    c.timestamp_ms = at;
    c.changes = std::move(changes);
    sign(c, alice.identity.signing_key());
    return c;
  };

  // Epoch 0: Alice creates the group.
  {
    Actions actions;
    auto g = Group::create(alice.identity, group_name, now, alice.rng, actions);
    must(g.ok(), "create");
    alice.group.emplace(std::move(*g));
    must(actions.send.empty(), "nobody to send to yet");
    const Genesis& gen = alice.group->genesis();
    out["genesis"] = {{"group_key", gen.group.hex()},
                      {"group_id", format_group_id(gen.group)},
                      {"creator", gen.creator.hex()},
                      {"created_ms", gen.created_ms},
                      {"name", gen.name},
                      {"bytes", to_hex(encode(gen))},
                      {"epoch_hash", genesis_epoch_hash(gen).hex()}};
    epoch_json(*alice.group, std::nullopt);
  }

  // Epoch 1: Alice adds Bob and Carol in one commit.
  const std::uint64_t t_add = now + 1000;
  {
    std::vector<Change> changes = {{ChangeType::add, bob.identity.account(), Role::member, {}},
                                   {ChangeType::add, carol.identity.account(), Role::member, {}}};
    Commit c = commit_of(*alice.group, changes, t_add);
    Actions actions;
    must(alice.group->change(std::move(changes), t_add, alice.rng, actions).ok(), "add");
    epoch_json(*alice.group, c);
    send_actions(0, actions);
    deliver_all(t_add);
    for (const Person& p : people)
      must(p.group && p.group->head().hash == alice.group->head().hash, p.name + " in epoch 1");
  }

  // Messages.
  std::map<std::string, std::pair<Ed25519PublicKey, std::vector<std::uint8_t>>> envelopes;
  ordered_json messages = ordered_json::array();
  ordered_json opened = ordered_json::array();
  auto send = [&](const std::string& name, std::size_t from, const std::string& text,
                  std::uint64_t at) {
    Person& p = people[from];
    v2::Content c;
    c.timestamp_ms = at;
    const Hash256 id = labelled("message " + name);
    std::copy(id.bytes.begin(), id.bytes.begin() + 16, c.message_id.data());
    c.body.assign(text.begin(), text.end());
    auto e = p.group->seal(c, max_body, p.rng);
    must(e.ok(), "seal");
    const EpochKeys keys = derive_epoch_keys(*p.group->head().secret);
    auto inner_bytes = open_outer(keys, *e);
    must(inner_bytes.ok(), "open_outer");
    auto inner = decode_inner(*inner_bytes);
    must(inner.ok(), "decode_inner");
    // The message key: the chain as its sender key control carried it,
    // stepped on to the message's index.
    const ordered_json& chain = chains.at({from, inner->generation});
    std::vector<std::uint8_t> ck(32);
    must(from_hex(chain["chain_key"].get<std::string>(), ck), "chain key");
    SymmetricKey key = SymmetricKey::from(std::span<const std::uint8_t, 32>(ck.data(), 32));
    const auto start = chain["index"].get<std::uint32_t>();
    must(start <= inner->index, "the chain was sent before the message");
    SymmetricKey mk;
    for (std::uint32_t i = start; i <= inner->index; ++i) mk = chain_step(key);
    envelopes[name] = {keys.mailbox.pub, *e};
    messages.push_back({{"name", name},
                        {"from", p.name},
                        {"epoch", p.group->head().epoch},
                        {"mailbox", keys.mailbox.pub.hex()},
                        {"content",
                         {{"flags", c.flags},
                          {"timestamp_ms", c.timestamp_ms},
                          {"message_id", c.message_id.hex()},
                          {"index", c.index},
                          {"count", c.count},
                          {"body", to_hex(c.body)}}},
                        {"sender_key", chain},
                        {"generation", inner->generation},
                        {"index", inner->index},
                        {"message_key", to_hex(mk.view())},
                        {"envelope", to_hex(*e)},
                        {"inner", to_hex(*inner_bytes)}});
  };
  auto receive = [&](const std::string& name, std::size_t by, std::uint64_t at) {
    Person& p = people[by];
    const auto& [mailbox, envelope] = envelopes.at(name);
    OpenResult r = p.group->open(mailbox, envelope, at);
    ordered_json o{{"by", p.name}, {"message", name}, {"status", open_status_name(r.status)}};
    if (r.message) {
      o["sender"] = r.message->sender.hex();
      o["body"] = to_hex(r.message->content.body);
    }
    opened.push_back(o);
    return r.status;
  };

  const std::uint64_t t_msg = now + 2000;
  send("a1", 0, "Hello Bob and Carol, welcome to the group.", t_msg);
  send("b1", 1, "Thanks Alice.", t_msg + 1);
  must(receive("a1", 1, t_msg + 2) == OpenStatus::opened, "bob opens a1");
  must(receive("a1", 2, t_msg + 2) == OpenStatus::opened, "carol opens a1");
  must(receive("b1", 0, t_msg + 2) == OpenStatus::opened, "alice opens b1");
  must(receive("b1", 2, t_msg + 2) == OpenStatus::opened, "carol opens b1");

  // Epoch 2: Alice removes Carol.
  const std::uint64_t t_remove = now + 4000;
  {
    std::vector<Change> changes = {{ChangeType::remove, carol.identity.account(), Role::member, {}}};
    Commit c = commit_of(*alice.group, changes, t_remove);
    Actions actions;
    must(alice.group->change(std::move(changes), t_remove, alice.rng, actions).ok(), "remove");
    epoch_json(*alice.group, c);
    send_actions(0, actions);
    deliver_all(t_remove);
    must(bob.group->head().hash == alice.group->head().hash, "bob in epoch 2");
    must(carol.group->head().hash == alice.group->head().hash && !carol.group->member(),
         "carol knows she was removed");
  }

  const std::uint64_t t_after = now + 5000;
  send("b2", 1, "Carol has left; only Alice and Bob read this.", t_after);
  must(receive("b2", 0, t_after + 1) == OpenStatus::opened, "alice opens b2");
  must(receive("b2", 2, t_after + 1) != OpenStatus::opened, "carol cannot open b2");

  out["epochs"] = epochs;
  out["controls"] = controls;
  out["messages"] = messages;
  out["opened"] = opened;
  ordered_json draws, states;
  for (const Person& p : people) {
    draws[p.name] = p.rng.draws();
    states[p.name] = to_hex(p.group->encode());
  }
  out["random_draws"] = draws;
  out["final_state"] = states;
  return out;
}

}  // namespace nightjar::vectors::group_vectors
