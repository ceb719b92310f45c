#include "client/group.hpp"

#include <sodium.h>

#include <algorithm>

namespace nightjar::client::group {

const char* to_string(GroupError e) {
  switch (e) {
    case GroupError::not_member: return "you are not a member of this group";
    case GroupError::not_admin: return "only an admin of the group can do that";
    case GroupError::already_member: return "already a member of the group";
    case GroupError::unknown_member: return "not a member of the group";
    case GroupError::already_admin: return "already an admin of the group";
    case GroupError::cannot_remove_self: return "you cannot remove yourself: leave the group instead";
    case GroupError::last_admin:
      return "you are the group's only admin: make another member an admin first";
    case GroupError::too_many_members: return "a group has at most 1000 members";
    case GroupError::too_many_changes: return "at most 64 changes at once";
    case GroupError::bad_name: return "a group name is 1 to 64 bytes of text, without control characters";
    case GroupError::no_change: return "nothing to change";
    case GroupError::bad_commit: return "the change is not valid for this group";
    case GroupError::bad_welcome: return "the invitation does not check out";
    case GroupError::wrong_group: return "not this group's";
  }
  return "group error";
}

namespace {

SymmetricKey copy(const SymmetricKey& k) { return SymmetricKey::from(k.view()); }

SymmetricKey random_key(RandomSource& rng) {
  SymmetricKey k;
  rng.fill(k.mutable_view());
  return k;
}

Ed25519KeyPair random_signing_key(RandomSource& rng) {
  Ed25519Seed seed;
  rng.fill(seed.mutable_view());
  return crypto::ed25519_from_seed(seed);
}

bool contains(const std::vector<Member>& members, const AccountKey& a) {
  return std::binary_search(members.begin(), members.end(), Member{a, Role::member},
                            [](const Member& x, const Member& y) { return x.account < y.account; });
}

}  // namespace

// --- EpochState.

const Member* EpochState::find(const AccountKey& a) const {
  auto it = std::lower_bound(members.begin(), members.end(), a,
                             [](const Member& m, const AccountKey& k) { return m.account < k; });
  return it != members.end() && it->account == a ? &*it : nullptr;
}

bool EpochState::is_admin(const AccountKey& a) const {
  const Member* m = find(a);
  return m && m->role == Role::admin;
}

std::size_t EpochState::admins() const {
  return static_cast<std::size_t>(std::count_if(
      members.begin(), members.end(), [](const Member& m) { return m.role == Role::admin; }));
}

EpochState EpochState::clone() const {
  EpochState s;
  s.epoch = epoch;
  s.hash = hash;
  s.commit_hash = commit_hash;
  s.name = name;
  s.members = members;
  if (secret) s.secret = copy(*secret);
  return s;
}

Result<EpochState, GroupError> apply_commit(const EpochState& parent, const GroupKey& group,
                                            const Commit& c) {
  if (c.group != group) return fail(GroupError::wrong_group);
  if (c.parent_epoch != parent.epoch || c.parent_hash != parent.hash)
    return fail(GroupError::bad_commit);
  if (!parent.is_admin(c.committer)) return fail(GroupError::not_admin);
  if (c.changes.empty()) return fail(GroupError::no_change);
  if (c.changes.size() > max_changes) return fail(GroupError::too_many_changes);
  if (!verify(c)) return fail(GroupError::bad_commit);
  EpochState next;
  next.epoch = parent.epoch + 1;
  next.name = parent.name;
  next.members = parent.members;
  for (const Change& ch : c.changes) {
    auto it = std::lower_bound(
        next.members.begin(), next.members.end(), ch.account,
        [](const Member& m, const AccountKey& k) { return m.account < k; });
    const bool present = it != next.members.end() && it->account == ch.account;
    switch (ch.type) {
      case ChangeType::add:
        if (present) return fail(GroupError::already_member);
        if (next.members.size() >= max_members) return fail(GroupError::too_many_members);
        next.members.insert(it, Member{ch.account, ch.role});
        break;
      case ChangeType::remove:
        if (!present) return fail(GroupError::unknown_member);
        if (ch.account == c.committer) return fail(GroupError::cannot_remove_self);
        next.members.erase(it);
        break;
      case ChangeType::promote:
        if (!present) return fail(GroupError::unknown_member);
        if (it->role == Role::admin) return fail(GroupError::already_admin);
        it->role = Role::admin;
        break;
      case ChangeType::rename:
        if (!valid_name(ch.name)) return fail(GroupError::bad_name);
        next.name = ch.name;
        break;
    }
  }
  next.commit_hash = commit_hash(c);
  next.hash = next_epoch_hash(parent.hash, next.commit_hash);
  return next;
}

void Actions::to(const AccountKey& member, Control c) {
  if (auto it = last_.find(member); it != last_.end()) {
    auto& controls = send[it->second].second;
    if (controls.size() < max_controls) {
      controls.push_back(std::move(c));
      return;
    }
  }
  std::vector<Control> v;
  v.push_back(std::move(c));
  send.emplace_back(member, std::move(v));
  last_[member] = send.size() - 1;
}

// --- Group.

Group::Group(const Identity& me) : me_(&me) {}
Group::Group(Group&&) noexcept = default;
Group& Group::operator=(Group&&) noexcept = default;
Group::~Group() = default;

bool Group::member() const { return !left_ && head().find(me_->account()) != nullptr; }
bool Group::admin() const { return member() && head().is_admin(me_->account()); }

Result<Group, GroupError> Group::create(const Identity& me, std::string name, std::uint64_t now_ms,
                                        RandomSource& rng, Actions& actions) {
  if (!valid_name(name)) return fail(GroupError::bad_name);
  Group g(me);
  const Ed25519KeyPair group_key = random_signing_key(rng);
  g.genesis_.group = group_key.pub;
  g.genesis_.creator = me.account();
  g.genesis_.created_ms = now_ms;
  g.genesis_.name = name;
  sign(g.genesis_, group_key.sec);
  EpochState s;
  s.epoch = 0;
  s.hash = genesis_epoch_hash(g.genesis_);
  s.name = std::move(name);
  s.members.push_back(Member{me.account(), Role::admin});
  s.secret = random_key(rng);
  g.push_head(std::move(s), std::nullopt, now_ms);
  g.share_sender_key(rng, actions);
  return g;
}

void Group::push_head(EpochState next, std::optional<Commit> commit, std::uint64_t now_ms) {
  if (!history_.empty()) history_.back().ended_ms = now_ms;
  Epoch e;
  if (next.secret) e.keys = derive_epoch_keys(*next.secret);
  e.state = std::move(next);
  e.commit = std::move(commit);
  history_.push_back(std::move(e));
  while (history_.size() > history_epochs) {
    retire(std::move(history_.front()), now_ms);
    history_.erase(history_.begin());
  }
}

void Group::retire(Epoch e, std::uint64_t now_ms) {
  if (!e.keys) return;
  if (e.ended_ms == 0) e.ended_ms = now_ms;
  if (e.ended_ms + grace_ms <= now_ms) return;
  retired_.push_back(std::move(e));
  // Old enough ones go; so does the oldest when too many are held.
  std::erase_if(retired_, [now_ms](const Epoch& r) { return r.ended_ms + grace_ms <= now_ms; });
  while (retired_.size() > 2 * history_epochs)
    retired_.erase(retired_.begin());
}

Result<void, GroupError> Group::change(std::vector<Change> changes, std::uint64_t now_ms,
                                       RandomSource& rng, Actions& actions) {
  if (!member()) return fail(GroupError::not_member);
  if (!admin()) return fail(GroupError::not_admin);
  if (changes.empty()) return fail(GroupError::no_change);
  if (changes.size() > max_changes) return fail(GroupError::too_many_changes);
  for (const Change& ch : changes)
    if (ch.type == ChangeType::remove && ch.account == me_->account())
      return fail(GroupError::cannot_remove_self);
  Commit c;
  c.group = key();
  c.parent_epoch = head().epoch;
  c.parent_hash = head().hash;
  c.committer = me_->account();
  c.timestamp_ms = now_ms;
  c.changes = std::move(changes);
  sign(c, me_->signing_key());
  auto next = apply_commit(head(), key(), c);
  if (!next) return next.failure();
  next->secret = random_key(rng);
  const EpochState before = head().clone();
  const SymmetricKey& secret = *next->secret;
  for (const Member& m : next->members) {
    if (m.account == me_->account()) continue;
    if (contains(before.members, m.account)) {
      actions.to(m.account, CommitControl{c, copy(secret)});
    } else {
      Welcome w = welcome_for(*next);
      actions.to(m.account, std::move(w));
    }
  }
  for (const Member& m : before.members)
    if (!contains(next->members, m.account)) actions.to(m.account, CommitControl{c, std::nullopt});
  events_of(c, before, actions);
  push_head(std::move(*next), std::move(c), now_ms);
  share_sender_key(rng, actions);
  return {};
}

Welcome Group::welcome_for(const EpochState& s) const {
  Welcome w;
  w.genesis = genesis_;
  w.epoch = s.epoch;
  w.epoch_hash = s.hash;
  w.commit_hash = s.commit_hash;
  if (s.secret) w.epoch_secret = copy(*s.secret);
  w.name = s.name;
  w.members = s.members;
  return w;
}

Result<void, GroupError> Group::leave(Actions& actions) {
  if (!member()) return fail(GroupError::not_member);
  const EpochState& h = head();
  if (admin() && h.admins() == 1 && h.members.size() > 1) return fail(GroupError::last_admin);
  for (const Member& m : h.members)
    if (m.role == Role::admin && m.account != me_->account())
      actions.to(m.account, LeaveControl{key(), h.epoch});
  left_ = true;
  own_.reset();
  peers_.clear();
  waiting_.clear();
  pending_.clear();
  retired_.clear();
  for (Epoch& e : history_)
    e.keys.reset();
  return {};
}

void Group::events_of(const Commit& c, const EpochState& before, Actions& actions) const {
  for (const Change& ch : c.changes) {
    GroupEvent ev;
    ev.actor = c.committer;
    ev.subject = ch.account;
    switch (ch.type) {
      case ChangeType::add:
        ev.kind = ch.account == me_->account() ? GroupEvent::Kind::joined : GroupEvent::Kind::added;
        ev.name = before.name;
        break;
      case ChangeType::remove:
        ev.kind = ch.account == me_->account() ? GroupEvent::Kind::you_were_removed
                                               : GroupEvent::Kind::removed;
        break;
      case ChangeType::rename:
        ev.kind = GroupEvent::Kind::renamed;
        ev.name = ch.name;
        break;
      case ChangeType::promote: ev.kind = GroupEvent::Kind::promoted; break;
    }
    actions.events.push_back(std::move(ev));
  }
}

// --- Receiving controls.

void Group::receive(const AccountKey& from, Control control, std::uint64_t now_ms,
                    RandomSource& rng, Actions& actions) {
  if (group_of(control) != key()) return;
  if (auto* w = std::get_if<Welcome>(&control)) return receive_welcome(from, std::move(*w), now_ms, rng, actions);
  if (left_) return;
  if (auto* cc = std::get_if<CommitControl>(&control)) {
    receive_commit(from, std::move(*cc), now_ms, rng, actions);
  } else if (auto* sk = std::get_if<SenderKeyControl>(&control)) {
    receive_sender_key(from, std::move(*sk), now_ms, actions);
  } else if (std::holds_alternative<LeaveControl>(control)) {
    // Every admin that hears of it removes the member; if several do at
    // once, one commit wins and the others have nothing left to re-make.
    if (from == me_->account() || !admin() || !head().find(from)) return;
    (void)change({Change{ChangeType::remove, from, Role::member, {}}}, now_ms, rng, actions);
  }
}

void Group::receive_commit(const AccountKey& from, CommitControl cc, std::uint64_t now_ms,
                           RandomSource& rng, Actions& actions) {
  // The epoch secret is the committer's to give.
  if (cc.epoch_secret && from != cc.commit.committer) return;
  if (!try_commit(cc, now_ms, rng, actions)) {
    if (pending_.size() >= max_pending_commits) pending_.erase(pending_.begin());
    pending_.push_back(std::move(cc));
    return;
  }
  retry_pending(now_ms, rng, actions);
}

bool Group::try_commit(const CommitControl& cc, std::uint64_t now_ms, RandomSource& rng,
                       Actions& actions) {
  const Commit& c = cc.commit;
  if (c.group != key()) return true;
  std::size_t i = history_.size();
  for (std::size_t k = 0; k < history_.size(); ++k)
    if (history_[k].state.epoch == c.parent_epoch && history_[k].state.hash == c.parent_hash) i = k;
  if (i == history_.size()) return c.parent_epoch < head().epoch;  // too old: dropped
  const Hash256 h = commit_hash(c);
  const bool at_head = i + 1 == history_.size();
  if (!at_head) {
    const Hash256& sibling = history_[i + 1].state.commit_hash;
    if (sibling == h || !(h < sibling)) return true;  // a duplicate, or the losing one
  }
  auto next = apply_commit(history_[i].state, key(), c);
  if (!next) return true;
  const bool in_next = next->find(me_->account()) != nullptr;
  if (in_next) {
    if (!cc.epoch_secret) return true;  // a member's copy always has the secret
    next->secret = copy(*cc.epoch_secret);
  }
  // Our own commits on the branch that lost: made again on the winner.
  std::vector<Change> remake;
  if (!at_head) {
    for (std::size_t k = i + 1; k < history_.size(); ++k) {
      Epoch& lost = history_[k];
      if (lost.commit && lost.commit->committer == me_->account())
        remake.insert(remake.end(), lost.commit->changes.begin(), lost.commit->changes.end());
      retire(std::move(lost), now_ms);
    }
    history_.erase(history_.begin() + static_cast<std::ptrdiff_t>(i) + 1, history_.end());
    history_.back().ended_ms = 0;
  }
  const EpochState before = head().clone();
  events_of(c, before, actions);
  push_head(std::move(*next), c, now_ms);
  share_sender_key(rng, actions);
  if (!remake.empty() && admin()) {
    std::vector<Change> still;
    for (Change& ch : remake) {
      const Member* m = head().find(ch.account);
      const bool needed = (ch.type == ChangeType::add && !m) ||
                          (ch.type == ChangeType::remove && m) ||
                          (ch.type == ChangeType::promote && m && m->role != Role::admin) ||
                          (ch.type == ChangeType::rename && head().name != ch.name);
      const bool repeated = std::find(still.begin(), still.end(), ch) != still.end();
      if (needed && !repeated) still.push_back(std::move(ch));
    }
    if (!still.empty()) (void)change(std::move(still), now_ms, rng, actions);
  }
  return true;
}

void Group::retry_pending(std::uint64_t now_ms, RandomSource& rng, Actions& actions) {
  retry_keys(now_ms, actions);
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t k = 0; k < pending_.size(); ++k) {
      const std::uint64_t head_before = head().epoch;
      const Hash256 hash_before = head().hash;
      CommitControl cc = std::move(pending_[k]);
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(k));
      if (!try_commit(cc, now_ms, rng, actions)) {
        pending_.insert(pending_.begin() + static_cast<std::ptrdiff_t>(k), std::move(cc));
        continue;
      }
      if (head().epoch != head_before || head().hash != hash_before) {
        retry_keys(now_ms, actions);
        progress = true;
        break;
      }
      --k;
    }
  }
}

void Group::retry_keys(std::uint64_t now_ms, Actions& actions) {
  std::vector<std::pair<AccountKey, SenderKeyControl>> keys;
  keys.swap(pending_keys_);
  for (auto& [from, sk] : keys)
    receive_sender_key(from, std::move(sk), now_ms, actions);
}

void Group::adopt_welcome(Welcome w, std::uint64_t now_ms) {
  for (Epoch& e : history_)
    retire(std::move(e), now_ms);
  history_.clear();
  EpochState s;
  s.epoch = w.epoch;
  s.hash = w.epoch_hash;
  s.commit_hash = w.commit_hash;
  s.name = std::move(w.name);
  s.members = std::move(w.members);
  s.secret = std::move(w.epoch_secret);
  push_head(std::move(s), std::nullopt, now_ms);
}

namespace {

// A welcome is checked as far as it can be: the genesis is the group key's,
// we are in it, and it comes from one of its admins.
bool check_welcome(const Welcome& w, const AccountKey& me, const AccountKey& from) {
  if (!verify(w.genesis)) return false;
  if (w.epoch == 0 && (w.epoch_hash != genesis_epoch_hash(w.genesis) || !w.commit_hash.is_zero()))
    return false;
  auto find = [&w](const AccountKey& a) -> const Member* {
    for (const Member& m : w.members)
      if (m.account == a) return &m;
    return nullptr;
  };
  const Member* sender = find(from);
  return find(me) != nullptr && sender && sender->role == Role::admin;
}

}  // namespace

Result<Group, GroupError> Group::join(const Identity& me, const AccountKey& from, Welcome w,
                                      std::uint64_t now_ms, RandomSource& rng, Actions& actions) {
  if (!check_welcome(w, me.account(), from)) return fail(GroupError::bad_welcome);
  Group g(me);
  g.genesis_ = w.genesis;
  const std::string name = w.name;
  g.adopt_welcome(std::move(w), now_ms);
  actions.events.push_back(GroupEvent{GroupEvent::Kind::joined, from, me.account(), name});
  g.share_sender_key(rng, actions);
  return g;
}

void Group::receive_welcome(const AccountKey& from, Welcome w, std::uint64_t now_ms,
                            RandomSource& rng, Actions& actions) {
  if (!check_welcome(w, me_->account(), from)) return;
  // The welcome's member list is the sender's own claim: a member holding
  // the group takes one only from an admin of the epoch it holds, so that a
  // member (or a removed one) cannot hand it a group of its own making.
  if (!head().is_admin(from)) return;
  const bool rejoin = !member();
  const EpochState& h = head();
  const bool later = w.epoch > h.epoch;
  const bool newer = later || (w.epoch == h.epoch && w.commit_hash != h.commit_hash &&
                               w.commit_hash < h.commit_hash);
  // Back after a removal (or leaving): only a welcome to a later epoch, not
  // a late copy of an old one.
  if (rejoin ? !later : !newer) return;
  if (rejoin) {  // removed (or left) before: everything starts again
    own_.reset();
    peers_.clear();
    waiting_.clear();
    pending_.clear();
    left_ = false;
  }
  const std::string name = w.name;
  adopt_welcome(std::move(w), now_ms);
  if (rejoin) actions.events.push_back(GroupEvent{GroupEvent::Kind::joined, from, me_->account(), name});
  share_sender_key(rng, actions);
  retry_pending(now_ms, rng, actions);
}

bool Group::known_member(const AccountKey& a) const {
  for (const Epoch& e : history_)
    if (e.state.find(a)) return true;
  for (const Epoch& e : retired_)
    if (e.state.find(a)) return true;
  return false;
}

void Group::receive_sender_key(const AccountKey& from, SenderKeyControl sk, std::uint64_t now_ms,
                               Actions& actions) {
  if (from == me_->account()) return;
  if (!known_member(from)) {
    if (pending_keys_.size() >= max_pending_keys) pending_keys_.erase(pending_keys_.begin());
    pending_keys_.emplace_back(from, std::move(sk));
    return;
  }
  auto& chains = peers_[from];
  for (const PeerChain& c : chains)
    if (c.generation == sk.generation) return;  // already held (a copy sent again)
  if (chains.size() >= max_generations && sk.generation < chains.front().generation) return;
  PeerChain c;
  c.generation = sk.generation;
  c.index = sk.index;
  c.chain = std::move(sk.chain_key);
  c.signing = sk.signing_key;
  chains.push_back(std::move(c));
  std::sort(chains.begin(), chains.end(),
            [](const PeerChain& a, const PeerChain& b) { return a.generation < b.generation; });
  while (chains.size() > max_generations) {
    skipped_total_ -= chains.front().skipped.size();
    chains.erase(chains.begin());
  }
  retry_waiting(now_ms, actions);
}

void Group::share_sender_key(RandomSource& rng, Actions& actions) {
  if (!member()) return;
  std::vector<AccountKey> recipients;
  for (const Member& m : head().members)
    if (m.account != me_->account()) recipients.push_back(m.account);
  bool rotate = !own_;
  if (own_) {
    for (const AccountKey& a : own_->sent_to)
      if (!std::binary_search(recipients.begin(), recipients.end(), a)) rotate = true;
  }
  if (rotate) {
    OwnChain c;
    c.generation = own_ ? own_->generation + 1 : 1;
    c.chain = random_key(rng);
    c.signing = random_signing_key(rng);
    own_ = std::move(c);
  }
  for (const AccountKey& a : recipients) {
    if (own_->sent_to.count(a)) continue;
    actions.to(a, SenderKeyControl{key(), own_->generation, own_->index, copy(own_->chain),
                                   own_->signing.pub});
    own_->sent_to.insert(a);
  }
}

// --- Messages.

std::optional<Ed25519PublicKey> Group::head_mailbox() const {
  if (!member() || !history_.back().keys) return std::nullopt;
  return history_.back().keys->mailbox.pub;
}

Result<std::vector<std::uint8_t>, SealError> Group::seal(const v2::Content& content,
                                                         std::uint32_t max_body_bytes,
                                                         RandomSource& rng) {
  if (!member() || !own_ || !history_.back().keys) return fail(SealError::no_session);
  auto bucket = bucket_for(content.body.size(), max_body_bytes, content.count > 1);
  if (!bucket) return bucket.failure();
  const EpochKeys& keys = *history_.back().keys;
  const std::size_t content_size = *bucket - (envelope_overhead - v2::content_fixed_bytes);
  std::vector<std::uint8_t> plain = v2::encode_content(content, content_size);
  Inner inner;
  inner.sender = me_->account();
  inner.generation = own_->generation;
  inner.index = own_->index;
  const SymmetricKey mk = chain_step(own_->chain);
  ++own_->index;
  inner.ciphertext = crypto::aead_encrypt(
      mk, AeadNonce{}, content_ad(key(), keys.mailbox.pub, inner.sender, inner.generation, inner.index),
      plain);
  sodium_memzero(plain.data(), plain.size());
  inner.signature = crypto::sign(own_->signing.sec, inner_signed_bytes(key(), keys.mailbox.pub, inner));
  return seal_outer(keys, encode_inner(inner), rng);
}

const Group::Epoch* Group::epoch_of_mailbox(const Ed25519PublicKey& mailbox) const {
  for (const Epoch& e : history_)
    if (e.keys && e.keys->mailbox.pub == mailbox) return &e;
  for (const Epoch& e : retired_)
    if (e.keys && e.keys->mailbox.pub == mailbox) return &e;
  return nullptr;
}

OpenResult Group::open(const Ed25519PublicKey& mailbox, Bytes envelope, std::uint64_t now_ms) {
  OpenResult out;
  const Epoch* epoch = left_ ? nullptr : epoch_of_mailbox(mailbox);
  if (!epoch) {
    out.status = OpenStatus::unknown_mailbox;
    return out;
  }
  auto failed = [&out](std::string why) {
    out.status = OpenStatus::failed;
    out.why = std::move(why);
    return out;
  };
  auto inner_bytes = open_outer(*epoch->keys, envelope);
  if (!inner_bytes) return failed(to_string(inner_bytes.error()));
  auto inner = decode_inner(*inner_bytes);
  sodium_memzero(inner_bytes->data(), inner_bytes->size());
  if (!inner) return failed("malformed inner layer");
  if (!epoch->state.find(inner->sender)) return failed("the sender is not a member of that epoch");
  if (inner->sender == me_->account()) {
    out.status = OpenStatus::duplicate;  // our own message
    return out;
  }
  auto it = peers_.find(inner->sender);
  PeerChain* chain = nullptr;
  if (it != peers_.end())
    for (PeerChain& c : it->second)
      if (c.generation == inner->generation) chain = &c;
  if (!chain) {
    const bool older = it != peers_.end() && it->second.size() >= max_generations &&
                       inner->generation < it->second.front().generation;
    if (older) return failed("from a sender key no longer held");
    if (waiting_.size() >= max_waiting_envelopes) waiting_.erase(waiting_.begin());
    waiting_.push_back(Waiting{mailbox, std::vector<std::uint8_t>(envelope.begin(), envelope.end()),
                               now_ms});
    out.status = OpenStatus::waiting;
    return out;
  }
  if (!crypto::verify(chain->signing, inner_signed_bytes(key(), mailbox, *inner), inner->signature))
    return failed("bad signature");
  // The message key, on copies: nothing changes unless the message opens.
  std::optional<SymmetricKey> mk;
  std::map<std::uint32_t, SymmetricKey> new_skipped;
  SymmetricKey next_chain = copy(chain->chain);
  std::uint32_t next_index = chain->index;
  if (inner->index < chain->index) {
    auto s = chain->skipped.find(inner->index);
    if (s == chain->skipped.end()) {
      out.status = OpenStatus::duplicate;
      return out;
    }
    mk = copy(s->second);
  } else {
    if (inner->index - chain->index > max_skip) return failed("too many messages skipped");
    while (next_index < inner->index)
      new_skipped.emplace(next_index++, chain_step(next_chain));
    mk = chain_step(next_chain);
    ++next_index;
  }
  auto plain = crypto::aead_decrypt(
      *mk, AeadNonce{},
      content_ad(key(), mailbox, inner->sender, inner->generation, inner->index), inner->ciphertext);
  if (!plain) return failed("does not decrypt");
  auto content = v2::decode_content(*plain);
  sodium_memzero(plain->data(), plain->size());
  if (!content || content->flags != 0) return failed("malformed content");
  if (inner->index < chain->index) {
    chain->skipped.erase(inner->index);
    --skipped_total_;
  } else {
    chain->chain = std::move(next_chain);
    chain->index = next_index;
    skipped_total_ += new_skipped.size();
    chain->skipped.merge(new_skipped);
  }
  // Bounded: the oldest skipped keys of this chain go first.
  while (skipped_total_ > max_skipped_keys && !chain->skipped.empty()) {
    chain->skipped.erase(chain->skipped.begin());
    --skipped_total_;
  }
  out.status = OpenStatus::opened;
  out.message = GroupMessage{inner->sender, std::move(*content)};
  return out;
}

void Group::retry_waiting(std::uint64_t now_ms, Actions& actions) {
  std::vector<Waiting> again;
  again.swap(waiting_);
  for (Waiting& w : again) {
    OpenResult r = open(w.mailbox, w.envelope, now_ms);
    if (r.status == OpenStatus::opened) actions.opened.push_back(std::move(*r.message));
    // Still waiting: open() put it back (with a new arrival time; keep the first).
    if (r.status == OpenStatus::waiting) waiting_.back().arrived_ms = w.arrived_ms;
  }
}

std::vector<MailboxToPoll> Group::mailboxes(std::uint64_t now_ms) const {
  std::vector<MailboxToPoll> out;
  if (left_) return out;
  auto add = [&](const Epoch& e, bool current) {
    if (!e.keys) return;
    if (!current && e.ended_ms + grace_ms <= now_ms) return;
    out.push_back(MailboxToPoll{e.state.epoch, e.keys->mailbox.pub, &e.keys->mailbox.sec, current});
  };
  for (std::size_t k = 0; k < history_.size(); ++k)
    add(history_[k], k + 1 == history_.size() && member());
  for (const Epoch& e : retired_)
    add(e, false);
  return out;
}

std::size_t Group::sender_keys_held() const {
  std::size_t n = 0;
  for (const auto& [who, chains] : peers_)
    n += chains.size();
  return n;
}

std::map<AccountKey, std::uint32_t> Group::sender_generations() const {
  std::map<AccountKey, std::uint32_t> out;
  for (const auto& [who, chains] : peers_)
    if (!chains.empty()) out[who] = chains.back().generation;
  return out;
}

// --- Persistence.

namespace {

constexpr std::uint8_t state_version = 1;

void write_state(WireWriter& w, const EpochState& s) {
  w.u64(s.epoch).fixed(s.hash).fixed(s.commit_hash);
  w.var8(Bytes(reinterpret_cast<const std::uint8_t*>(s.name.data()), s.name.size()));
  w.u16(static_cast<std::uint16_t>(s.members.size()));
  for (const Member& m : s.members)
    w.fixed(m.account).u8(static_cast<std::uint8_t>(m.role));
  w.u8(s.secret ? 1 : 0);
  if (s.secret) w.raw(s.secret->view());
}

void read_key(FieldReader& f, SymmetricKey& out) {
  Hash256 raw;
  f.fixed(raw);
  out = SymmetricKey::from(raw.view());
  sodium_memzero(raw.data(), raw.size());
}

void read_state(FieldReader& f, EpochState& s) {
  f.u64(s.epoch).fixed(s.hash).fixed(s.commit_hash).var8(s.name, max_name_bytes);
  std::uint16_t count = 0;
  f.u16(count).check(count <= max_members);
  for (std::size_t i = 0; i < count && f.ok(); ++i) {
    Member m;
    std::uint8_t role = 0;
    f.fixed(m.account).u8(role).check(role == 1 || role == 2);
    f.check(s.members.empty() || s.members.back().account < m.account);  // sorted, unique
    m.role = static_cast<Role>(role);
    s.members.push_back(m);
  }
  bool has_secret = false;
  f.flag(has_secret);
  if (has_secret) {
    SymmetricKey k;
    read_key(f, k);
    s.secret = std::move(k);
  }
}

}  // namespace

std::vector<std::uint8_t> Group::encode() const {
  WireWriter w;
  w.u8(state_version).var16(group::encode(genesis_)).u8(left_ ? 1 : 0);
  auto write_epoch = [&w](const Epoch& e) {
    write_state(w, e.state);
    w.u8(e.commit ? 1 : 0);
    if (e.commit) w.var16(group::encode(*e.commit));
    w.u64(e.ended_ms);
  };
  w.u8(static_cast<std::uint8_t>(history_.size()));
  for (const Epoch& e : history_)
    write_epoch(e);
  w.u8(static_cast<std::uint8_t>(retired_.size()));
  for (const Epoch& e : retired_)
    write_epoch(e);
  w.u8(static_cast<std::uint8_t>(pending_.size()));
  for (const CommitControl& cc : pending_) {
    CommitControl copy_of{cc.commit, std::nullopt};
    if (cc.epoch_secret) copy_of.epoch_secret = copy(*cc.epoch_secret);
    w.var16(encode_control(Control{std::move(copy_of)}));
  }
  w.u16(static_cast<std::uint16_t>(pending_keys_.size()));
  for (const auto& [from, sk] : pending_keys_) {
    SenderKeyControl c{sk.group, sk.generation, sk.index, copy(sk.chain_key), sk.signing_key};
    w.fixed(from).var16(encode_control(Control{std::move(c)}));
  }
  w.u8(own_ ? 1 : 0);
  if (own_) {
    w.u32(own_->generation).u32(own_->index).raw(own_->chain.view());
    w.raw(crypto::ed25519_seed(own_->signing.sec).view());
    w.u16(static_cast<std::uint16_t>(own_->sent_to.size()));
    for (const AccountKey& a : own_->sent_to)
      w.fixed(a);
  }
  w.u16(static_cast<std::uint16_t>(peers_.size()));
  for (const auto& [who, chains] : peers_) {
    w.fixed(who).u8(static_cast<std::uint8_t>(chains.size()));
    for (const PeerChain& c : chains) {
      w.u32(c.generation).u32(c.index).raw(c.chain.view()).fixed(c.signing);
      w.u16(static_cast<std::uint16_t>(c.skipped.size()));
      for (const auto& [index, mk] : c.skipped)
        w.u32(index).raw(mk.view());
    }
  }
  w.u16(static_cast<std::uint16_t>(waiting_.size()));
  for (const Waiting& wt : waiting_)
    w.fixed(wt.mailbox).var16(wt.envelope).u64(wt.arrived_ms);
  return w.take();
}

Result<Group, std::string> Group::decode(const Identity& me, Bytes bytes) {
  Group g(me);
  FieldReader f(bytes);
  std::uint8_t version = 0;
  f.u8(version).check(version == state_version);
  std::vector<std::uint8_t> genesis;
  f.var16(genesis, 1024);
  if (f.ok()) {
    auto gen = decode_genesis(genesis);
    f.check(gen.ok());
    if (gen) g.genesis_ = std::move(*gen);
  }
  f.flag(g.left_);
  auto read_epoch = [&f](Epoch& e) {
    read_state(f, e.state);
    bool has_commit = false;
    f.flag(has_commit);
    if (has_commit) {
      std::vector<std::uint8_t> c;
      f.var16(c);
      if (f.ok()) {
        auto commit = decode_commit(c);
        f.check(commit.ok());
        if (commit) e.commit = std::move(*commit);
      }
    }
    f.u64(e.ended_ms);
    if (e.state.secret) e.keys = derive_epoch_keys(*e.state.secret);
  };
  std::uint8_t count = 0;
  f.u8(count).check(count >= 1 && count <= history_epochs);
  for (std::size_t i = 0; i < count && f.ok(); ++i) {
    g.history_.emplace_back();
    read_epoch(g.history_.back());
  }
  f.u8(count);
  for (std::size_t i = 0; i < count && f.ok(); ++i) {
    g.retired_.emplace_back();
    read_epoch(g.retired_.back());
  }
  f.u8(count);
  for (std::size_t i = 0; i < count && f.ok(); ++i) {
    std::vector<std::uint8_t> c;
    f.var16(c);
    if (!f.ok()) break;
    auto control = decode_control(c);
    f.check(control.ok() && std::holds_alternative<CommitControl>(*control));
    if (f.ok()) g.pending_.push_back(std::move(std::get<CommitControl>(*control)));
  }
  std::uint16_t keys = 0;
  f.u16(keys).check(keys <= max_pending_keys);
  for (std::size_t i = 0; i < keys && f.ok(); ++i) {
    AccountKey from;
    std::vector<std::uint8_t> c;
    f.fixed(from).var16(c);
    if (!f.ok()) break;
    auto control = decode_control(c);
    f.check(control.ok() && std::holds_alternative<SenderKeyControl>(*control));
    if (f.ok()) g.pending_keys_.emplace_back(from, std::move(std::get<SenderKeyControl>(*control)));
  }
  bool has_own = false;
  f.flag(has_own);
  if (has_own) {
    OwnChain c;
    f.u32(c.generation).u32(c.index);
    read_key(f, c.chain);
    SymmetricKey seed;
    read_key(f, seed);
    c.signing = crypto::ed25519_from_seed(Ed25519Seed::from(seed.view()));
    std::uint16_t n = 0;
    f.u16(n);
    for (std::size_t i = 0; i < n && f.ok(); ++i) {
      AccountKey a;
      f.fixed(a);
      // Sorted and unique, as encode() writes the set: one encoding per state.
      f.check(c.sent_to.empty() || *c.sent_to.rbegin() < a);
      c.sent_to.insert(a);
    }
    g.own_ = std::move(c);
  }
  std::uint16_t peers = 0;
  f.u16(peers);
  for (std::size_t i = 0; i < peers && f.ok(); ++i) {
    AccountKey who;
    std::uint8_t n = 0;
    f.fixed(who).u8(n).check(n <= max_generations);
    f.check(g.peers_.empty() || g.peers_.rbegin()->first < who);  // sorted and unique
    auto& chains = g.peers_[who];
    for (std::size_t k = 0; k < n && f.ok(); ++k) {
      PeerChain c;
      f.u32(c.generation).u32(c.index);
      read_key(f, c.chain);
      f.fixed(c.signing);
      std::uint16_t skipped = 0;
      f.u16(skipped);
      for (std::size_t s = 0; s < skipped && f.ok(); ++s) {
        std::uint32_t index = 0;
        SymmetricKey mk;
        f.u32(index);
        read_key(f, mk);
        f.check(c.skipped.empty() || c.skipped.rbegin()->first < index);  // sorted and unique
        c.skipped.emplace(index, std::move(mk));
      }
      g.skipped_total_ += c.skipped.size();
      chains.push_back(std::move(c));
    }
  }
  std::uint16_t waiting = 0;
  f.u16(waiting);
  for (std::size_t i = 0; i < waiting && f.ok(); ++i) {
    Waiting wt;
    f.fixed(wt.mailbox).var16(wt.envelope).u64(wt.arrived_ms);
    g.waiting_.push_back(std::move(wt));
  }
  auto done = f.finish(true);
  if (!done) return fail(std::string("group state does not decode: ") + to_string(done.error()));
  return g;
}

}  // namespace nightjar::client::group
