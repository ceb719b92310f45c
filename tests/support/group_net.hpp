// GroupNet: members of closed groups (client/group.hpp) exchanging their
// controls and group envelopes in memory, with real keys, so the unit tests
// and the benchmark drive membership changes, message order and lost or late
// deliveries by hand. Every control goes through its codec (encode_controls,
// decode_controls), as it would inside a 1:1 message; mailboxes are lists of
// envelopes by owner key, as a swarm keeps them.
#pragma once

#include <algorithm>
#include <array>
#include <stdexcept>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/group.hpp"
#include "routing/random_source.hpp"

namespace nightjar::test {

class GroupNet {
 public:
  struct Person {
    client::Identity identity;
    std::optional<client::group::Group> group;
    std::vector<client::group::GroupMessage> received;
    std::vector<client::group::GroupEvent> events;
    // Per mailbox: how many of its envelopes this person has read.
    std::map<Ed25519PublicKey, std::size_t> read;
  };
  struct Delivery {
    std::size_t from, to;
    std::vector<std::uint8_t> bytes;  // encode_controls
  };

  explicit GroupNet(std::size_t people, std::uint64_t start_ms = 1'800'000'000'000)
      : now(start_ms) {
    for (std::size_t i = 0; i < people; ++i)
      persons.push_back(Person{client::Identity::generate(rng), std::nullopt, {}, {}, {}});
  }

  const client::AccountKey& account(std::size_t i) const { return persons[i].identity.account(); }
  client::group::Group& group(std::size_t i) { return *persons[i].group; }
  std::size_t index_of(const client::AccountKey& a) const {
    for (std::size_t i = 0; i < persons.size(); ++i)
      if (persons[i].identity.account() == a) return i;
    return persons.size();
  }

  void create(std::size_t creator, const std::string& name) {
    client::group::Actions a;
    auto g = client::group::Group::create(persons[creator].identity, name, now, rng, a);
    if (!g) throw std::runtime_error("create failed");
    persons[creator].group.emplace(std::move(*g));
    queue(creator, a);
  }

  Result<void, client::group::GroupError> change(std::size_t admin,
                                                 std::vector<client::group::Change> changes) {
    client::group::Actions a;
    auto r = persons[admin].group->change(std::move(changes), now, rng, a);
    queue(admin, a);
    return r;
  }
  Result<void, client::group::GroupError> add(std::size_t admin, std::vector<std::size_t> who,
                                              client::group::Role role = client::group::Role::member) {
    std::vector<client::group::Change> ch;
    for (std::size_t w : who)
      ch.push_back({client::group::ChangeType::add, account(w), role, {}});
    return change(admin, std::move(ch));
  }
  Result<void, client::group::GroupError> remove(std::size_t admin, std::size_t who) {
    return change(admin, {{client::group::ChangeType::remove, account(who), client::group::Role::member, {}}});
  }
  Result<void, client::group::GroupError> leave(std::size_t who) {
    client::group::Actions a;
    auto r = persons[who].group->leave(a);
    queue(who, a);
    return r;
  }

  // Delivers queued controls, those for `held` people excepted (they stay
  // queued), until none is left; `reverse` delivers the newest first.
  std::size_t deliver_all(const std::vector<std::size_t>& held = {}, bool reverse = false) {
    std::size_t delivered = 0;
    for (bool progress = true; progress;) {
      progress = false;
      std::deque<Delivery> now_due;
      std::deque<Delivery> kept;
      for (auto& d : pending)
        (std::count(held.begin(), held.end(), d.to) ? kept : now_due).push_back(std::move(d));
      pending = std::move(kept);
      if (reverse) std::reverse(now_due.begin(), now_due.end());
      for (auto& d : now_due) {
        deliver(d);
        ++delivered;
        progress = true;
      }
    }
    return delivered;
  }

  void deliver(const Delivery& d) {
    auto controls = client::group::decode_controls(d.bytes);
    if (!controls) throw std::runtime_error("controls do not decode");
    Person& p = persons[d.to];
    const client::AccountKey& from = account(d.from);
    client::group::Actions a;
    for (auto& c : *controls) {
      if (!p.group) {
        if (auto* w = std::get_if<client::group::Welcome>(&c)) {
          auto g = client::group::Group::join(p.identity, from, std::move(*w), now, rng, a);
          if (g) p.group.emplace(std::move(*g));
        }
        continue;
      }
      p.group->receive(from, std::move(c), now, rng, a);
    }
    queue(d.to, a);
  }

  // Seals `text` from `who` into its head mailbox.
  void send(std::size_t who, const std::string& text, std::uint32_t max_body = 440) {
    client::v2::Content c;
    c.timestamp_ms = now;
    rng.fill(c.message_id.mutable_view());
    c.body.assign(text.begin(), text.end());
    auto env = persons[who].group->seal(c, max_body, rng);
    if (!env) throw std::runtime_error("seal failed");
    mailboxes[*persons[who].group->head_mailbox()].push_back(std::move(*env));
    ++sealed;
  }

  // Everyone who has the group reads what is new in its mailboxes.
  void read_all() {
    for (std::size_t i = 0; i < persons.size(); ++i)
      read(i);
  }
  void read(std::size_t i) {
    Person& p = persons[i];
    if (!p.group) return;
    for (const auto& m : p.group->mailboxes(now)) {
      auto& got = mailboxes[m.owner];
      for (std::size_t k = p.read[m.owner]; k < got.size(); ++k) {
        auto r = p.group->open(m.owner, got[k], now);
        if (r.status == client::group::OpenStatus::opened) p.received.push_back(std::move(*r.message));
        if (r.status == client::group::OpenStatus::failed) ++open_failures;
      }
      p.read[m.owner] = got.size();
    }
  }

  std::vector<std::string> texts(std::size_t i) const {
    std::vector<std::string> out;
    for (const auto& m : persons[i].received)
      out.emplace_back(m.content.body.begin(), m.content.body.end());
    return out;
  }
  std::vector<client::group::Member> members(std::size_t i) const {
    return persons[i].group->head().members;
  }

  std::array<std::uint8_t, 32> seed{7};
  DeterministicRandom rng{seed};
  std::uint64_t now;
  std::vector<Person> persons;
  std::deque<Delivery> pending;
  std::map<Ed25519PublicKey, std::vector<std::vector<std::uint8_t>>> mailboxes;
  std::size_t sealed = 0, open_failures = 0, controls_sent = 0;

 private:
  void queue(std::size_t from, client::group::Actions& a) {
    for (auto& [to, controls] : a.send) {
      const std::size_t t = index_of(to);
      controls_sent += controls.size();
      if (t < persons.size()) pending.push_back(Delivery{from, t, client::group::encode_controls(controls)});
    }
    for (auto& e : a.events)
      persons[from].events.push_back(std::move(e));
    for (auto& m : a.opened)
      persons[from].received.push_back(std::move(m));
  }
};

}  // namespace nightjar::test
