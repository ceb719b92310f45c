// Fuzzes the parsers of closed groups' byte formats (client/group_messages.hpp):
// the controls members send one another inside 1:1 messages (what any
// correspondent can put in front of us), one control, a commit and a genesis
// (what a welcome and a commit control carry), and the group state the
// profile holds (client/group.hpp Group::decode).
//
// Input layout: byte 0 mode, the rest the data.
//   mode % 5 == 0  decode_controls on the data
//   mode % 5 == 1  decode_control on the data
//   mode % 5 == 2  decode_commit on the data
//   mode % 5 == 3  decode_genesis on the data
//   mode % 5 == 4  Group::decode on the data, for a fixed identity
//
// Invariants (trap on violation):
//   - nothing crashes or reads out of bounds
//   - what decodes re-encodes to exactly the input (every format has one
//     encoding): encode_controls, encode_control, encode (commit, genesis),
//     Group::encode; a decoded list holds 1 to max_controls controls, a
//     commit 1 to max_changes changes, names are valid, a welcome's members
//     are sorted and unique
//   - verify (commit, genesis) and a decoded group's accessors run on
//     whatever decodes.
//
// The seeds come from a group run in memory with fixed identities and a
// deterministic random source, so they are the same on every run: A creates
// it, adds B, then C, promotes B, removes C, renames it, seals messages, and B
// leaves; every controls message sent on the way is a seed, as are single
// controls of each type, commits of each change type, the genesis, and the
// encoded states of A, B (with a pending commit, a pending sender key, an
// envelope waiting for its key and skipped message keys) and C (removed).
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/group_controls bin/fuzz_group_controls
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "client/group.hpp"
#include "client/group_messages.hpp"
#include "client/identity.hpp"
#include "routing/crypto.hpp"
#include "routing/random_source.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;
using namespace nightjar::client::group;

namespace {

enum Mode : std::uint8_t { controls = 0, control = 1, commit = 2, genesis = 3, state = 4 };

constexpr std::uint64_t start_ms = 1'800'000'000'000;

Identity identity_from(std::uint8_t b) {
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i) seed.data()[i] = static_cast<std::uint8_t>(b + i);
  return Identity::from_seed(seed);
}

// The identity Group::decode is given (A's of the seeds' group).
const Identity& fixed_identity() {
  static const Identity* id = new Identity(identity_from(0xa0));
  return *id;
}

// --- The seeds' group: members exchanging controls in memory, as
// tests/support/group_net.hpp does (the fuzz targets do not link it).
struct Net {
  struct Person {
    Identity identity;
    std::optional<Group> group;
  };
  struct Delivery {
    std::size_t from, to;
    std::vector<std::uint8_t> bytes;  // encode_controls
  };

  std::array<std::uint8_t, 32> seed{0x67};
  DeterministicRandom rng{seed};
  std::uint64_t now = start_ms;
  std::deque<Person> people;  // a deque: a Group keeps a pointer to its identity
  std::deque<Delivery> pending;
  std::vector<std::vector<std::uint8_t>> sent;  // every controls message, in order

  std::size_t index_of(const AccountKey& a) const {
    for (std::size_t i = 0; i < people.size(); ++i)
      if (people[i].identity.account() == a) return i;
    return people.size();
  }
  Group& group(std::size_t i) { return *people[i].group; }

  void queue(std::size_t from, Actions& a) {
    for (auto& [to, list] : a.send) {
      auto bytes = encode_controls(list);
      sent.push_back(bytes);
      const std::size_t t = index_of(to);
      if (t < people.size()) pending.push_back(Delivery{from, t, std::move(bytes)});
    }
  }
  // Gives `control` from `from` to `to`'s group (joining on a welcome).
  void give(std::size_t from, std::size_t to, Control c) {
    Person& p = people[to];
    Actions a;
    if (!p.group) {
      if (auto* w = std::get_if<Welcome>(&c)) {
        auto g = Group::join(p.identity, people[from].identity.account(), std::move(*w), now, rng, a);
        CHECK(g.ok());
        p.group.emplace(std::move(*g));
      }
    } else {
      p.group->receive(people[from].identity.account(), std::move(c), now, rng, a);
    }
    queue(to, a);
  }
  void deliver(const Delivery& d) {
    auto list = decode_controls(d.bytes);
    CHECK(list.ok());
    for (auto& c : *list) give(d.from, d.to, std::move(c));
  }
  void deliver_all() {
    while (!pending.empty()) {
      Delivery d = std::move(pending.front());
      pending.pop_front();
      deliver(d);
    }
  }
  // Takes the queued controls for `to` out of the queue, decoded.
  std::vector<std::pair<std::size_t, Control>> take_for(std::size_t to) {
    std::vector<std::pair<std::size_t, Control>> out;
    std::deque<Delivery> kept;
    for (auto& d : pending) {
      if (d.to != to) {
        kept.push_back(std::move(d));
        continue;
      }
      auto list = decode_controls(d.bytes);
      CHECK(list.ok());
      for (auto& c : *list) out.emplace_back(d.from, std::move(c));
    }
    pending = std::move(kept);
    return out;
  }
  void change(std::size_t admin, std::vector<Change> changes) {
    Actions a;
    CHECK(group(admin).change(std::move(changes), now, rng, a).ok());
    queue(admin, a);
  }
  std::vector<std::uint8_t> seal(std::size_t who, const std::string& text) {
    v2::Content c;
    c.timestamp_ms = now;
    rng.fill(c.message_id.mutable_view());
    c.body.assign(text.begin(), text.end());
    auto e = group(who).seal(c, 440, rng);
    CHECK(e.ok());
    return *e;
  }
};

Change change_of(ChangeType type, const AccountKey& account, std::string name = {}) {
  return Change{type, account, Role::member, std::move(name)};
}

void write_seeds(const std::string& dir) {
  Net net;
  net.people.push_back({identity_from(0xa0), std::nullopt});  // A, the fixed identity
  net.people.push_back({identity_from(0xb0), std::nullopt});  // B
  net.people.push_back({identity_from(0xc0), std::nullopt});  // C
  const std::size_t a = 0, b = 1, c = 2;
  auto account = [&net](std::size_t i) { return net.people[i].identity.account(); };

  {
    Actions act;
    auto g = Group::create(net.people[a].identity, "fuzz group", net.now, net.rng, act);
    CHECK(g.ok());
    net.people[a].group.emplace(std::move(*g));
    net.queue(a, act);
  }
  net.change(a, {Change{ChangeType::add, account(b), Role::member, {}}});
  net.deliver_all();
  net.change(a, {Change{ChangeType::add, account(c), Role::member, {}}});
  net.deliver_all();
  net.change(a, {change_of(ChangeType::promote, account(b))});
  net.deliver_all();
  net.now += 1000;
  net.change(a, {change_of(ChangeType::remove, account(c))});
  // B gets the commit, but not yet A's new sender key: A's next message waits.
  auto for_b = net.take_for(b);
  std::vector<Control> held;
  for (auto& [from, ctl] : for_b) {
    if (std::holds_alternative<SenderKeyControl>(ctl) && from == a)
      held.push_back(std::move(ctl));
    else
      net.give(from, b, std::move(ctl));
  }
  CHECK(!held.empty());
  net.deliver_all();
  const auto m0 = net.seal(a, "sealed before B has the key");
  CHECK(net.group(b).open(*net.group(a).head_mailbox(), m0, net.now).status == OpenStatus::waiting);
  const auto state_waiting = net.group(b).encode();
  for (auto& ctl : held) net.give(a, b, std::move(ctl));
  net.deliver_all();
  // B opens the third of A's next messages: a skipped key is kept.
  (void)net.seal(a, "one");
  const auto m2 = net.seal(a, "two");
  CHECK(net.group(b).open(*net.group(a).head_mailbox(), m2, net.now).status == OpenStatus::opened);
  // Renames, until A's earliest epochs are retired.
  for (int i = 1; i <= 4; ++i) {
    net.now += 1000;
    net.change(a, {change_of(ChangeType::rename, {}, "fuzz group " + std::to_string(i))});
    net.deliver_all();
  }
  // Two commits more; B gets the second only (it waits for its parent).
  net.change(a, {change_of(ChangeType::rename, {}, "first")});
  auto first = net.take_for(b);
  net.change(a, {change_of(ChangeType::rename, {}, "second")});
  net.deliver_all();
  CHECK(!first.empty());
  // A sender key from someone not (yet) a member: kept for later.
  {
    const Identity stranger = identity_from(0xd0);
    SenderKeyControl sk;
    sk.group = net.group(b).key();
    sk.generation = 1;
    net.rng.fill(sk.chain_key.mutable_view());
    sk.signing_key = stranger.account();
    Actions act;
    net.group(b).receive(stranger.account(), Control{std::move(sk)}, net.now, net.rng, act);
  }
  const auto state_a = net.group(a).encode();
  const auto state_b = net.group(b).encode();
  const auto state_c = net.group(c).encode();
  // B gets the first rename at last, then leaves; A removes it.
  for (auto& [from, ctl] : first) net.give(from, b, std::move(ctl));
  net.deliver_all();
  {
    Actions act;
    CHECK(net.group(b).leave(act).ok());
    net.queue(b, act);
  }
  net.deliver_all();

  // Every controls message sent, and one of each control type and commit
  // change type among them.
  std::vector<std::uint8_t> welcome, commit_secret, commit_removed, sender_key, leave;
  std::array<std::vector<std::uint8_t>, 5> commits;  // by ChangeType
  for (std::size_t i = 0; i < net.sent.size(); ++i) {
    fuzz::write_seed(dir + "/controls-" + std::to_string(i), Mode::controls, net.sent[i]);
    auto list = decode_controls(net.sent[i]);
    CHECK(list.ok());
    for (const Control& ctl : *list) {
      auto bytes = encode_control(ctl);
      if (std::holds_alternative<Welcome>(ctl) && welcome.empty()) welcome = bytes;
      if (std::holds_alternative<SenderKeyControl>(ctl) && sender_key.empty()) sender_key = bytes;
      if (std::holds_alternative<LeaveControl>(ctl) && leave.empty()) leave = bytes;
      if (const auto* cc = std::get_if<CommitControl>(&ctl)) {
        auto& slot = cc->epoch_secret ? commit_secret : commit_removed;
        if (slot.empty()) slot = bytes;
        auto& by_type = commits[static_cast<std::size_t>(cc->commit.changes.front().type)];
        if (by_type.empty()) by_type = encode(cc->commit);
      }
    }
  }
  CHECK(!welcome.empty() && !commit_secret.empty() && !commit_removed.empty());
  CHECK(!sender_key.empty() && !leave.empty());
  fuzz::write_seed(dir + "/control-welcome", Mode::control, welcome);
  fuzz::write_seed(dir + "/control-commit", Mode::control, commit_secret);
  fuzz::write_seed(dir + "/control-commit-removed", Mode::control, commit_removed);
  fuzz::write_seed(dir + "/control-sender-key", Mode::control, sender_key);
  fuzz::write_seed(dir + "/control-leave", Mode::control, leave);
  const char* names[5] = {"", "add", "remove", "rename", "promote"};
  for (std::size_t t = 1; t < commits.size(); ++t) {
    CHECK(!commits[t].empty());
    fuzz::write_seed(dir + "/commit-" + names[t], Mode::commit, commits[t]);
  }
  // A commit of every change type at once, and one with too many changes.
  {
    Commit all;
    all.group = net.group(a).key();
    all.parent_epoch = 3;
    all.committer = account(a);
    all.timestamp_ms = net.now;
    all.changes = {Change{ChangeType::add, account(c), Role::admin, {}},
                   change_of(ChangeType::remove, account(b)),
                   change_of(ChangeType::rename, {}, "all at once"),
                   change_of(ChangeType::promote, account(c))};
    sign(all, net.people[a].identity.signing_key());
    fuzz::write_seed(dir + "/commit-every-type", Mode::commit, encode(all));
    all.changes.assign(max_changes + 1, change_of(ChangeType::promote, account(c)));
    fuzz::write_seed(dir + "/commit-too-many", Mode::commit, encode(all));
  }
  fuzz::write_seed(dir + "/genesis", Mode::genesis, encode(net.group(a).genesis()));
  fuzz::write_seed(dir + "/state-admin", Mode::state, state_a);
  fuzz::write_seed(dir + "/state-member", Mode::state, state_b);
  fuzz::write_seed(dir + "/state-waiting", Mode::state, state_waiting);
  fuzz::write_seed(dir + "/state-removed", Mode::state, state_c);
  fuzz::write_seed(dir + "/state-left", Mode::state, net.group(b).encode());
}

void check_commit(const Commit& c) {
  CHECK(!c.changes.empty() && c.changes.size() <= max_changes);
  for (const Change& ch : c.changes)
    if (ch.type == ChangeType::rename) CHECK(valid_name(ch.name));
  (void)verify(c);
  (void)commit_hash(c);
}

void check_control(const Control& c) {
  (void)group_of(c);
  if (const auto* w = std::get_if<Welcome>(&c)) {
    CHECK(valid_name(w->genesis.name) && valid_name(w->name));
    CHECK(!w->members.empty() && w->members.size() <= max_members);
    for (std::size_t i = 1; i < w->members.size(); ++i)
      CHECK(w->members[i - 1].account < w->members[i].account);
    (void)verify(w->genesis);
  } else if (const auto* cc = std::get_if<CommitControl>(&c)) {
    check_commit(cc->commit);
  }
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // A copy of the data, so that ASan catches any read past its end.
  const std::vector<std::uint8_t> rest(data + 1, data + size);
  const Bytes input{rest.data(), rest.size()};
  switch (data[0] % 5) {
    case Mode::controls: {
      auto list = decode_controls(input);
      if (!list) break;
      CHECK(!list->empty() && list->size() <= max_controls);
      for (const Control& c : *list) check_control(c);
      CHECK(encode_controls(*list) == rest);
      break;
    }
    case Mode::control: {
      auto c = decode_control(input);
      if (!c) break;
      check_control(*c);
      CHECK(encode_control(*c) == rest);
      break;
    }
    case Mode::commit: {
      auto c = decode_commit(input);
      if (!c) break;
      check_commit(*c);
      CHECK(encode(*c) == rest);
      break;
    }
    case Mode::genesis: {
      auto g = decode_genesis(input);
      if (!g) break;
      CHECK(valid_name(g->name));
      (void)verify(*g);
      CHECK(encode(*g) == rest);
      break;
    }
    default: {
      auto g = Group::decode(fixed_identity(), input);
      if (!g) break;
      (void)g->member();
      (void)g->admin();
      (void)g->head_mailbox();
      (void)g->mailboxes(start_ms);
      (void)g->sender_keys_held();
      CHECK(g->encode() == rest);
      break;
    }
  }
  return 0;
}
