#include "client/conversation.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "routing/wire.hpp"

namespace nightjar::client {

const char* to_string(ConversationError e) {
  switch (e) {
    case ConversationError::wrong_sender: return "the message is not from this conversation's peer";
    case ConversationError::unknown_prekey:
      return "the message starts a session with a prekey this account no longer has";
    case ConversationError::handshake_failed: return "the message's handshake keys are not valid";
    case ConversationError::no_session:
      return "no conversation state for this sender (it was lost): a new one must be started";
    case ConversationError::does_not_open: return "the message opens in no session of this conversation";
    case ConversationError::too_far_ahead:
      return "the message is more than 1,000 messages ahead of the last one opened in its chain";
    case ConversationError::replay: return "the message was opened before";
    case ConversationError::bad_content: return "the message's content is malformed";
  }
  return "unknown conversation error";
}

namespace {

constexpr std::uint8_t flag_initiator = 0x01;
constexpr std::uint8_t flag_confirmed = 0x02;
constexpr std::size_t max_state_bytes = 1u << 20;

bool key_less(const X25519PublicKey& a, const X25519PublicKey& b) { return a.bytes < b.bytes; }

Session clone_session(const Session& s) {
  return Session{s.id, s.initiator, s.confirmed, s.prekey, s.started_ms, s.peer_last_ms, s.ratchet.clone()};
}

}  // namespace

Conversation::Conversation(const AccountKey& peer) : peer_(peer) {}

Conversation Conversation::clone() const {
  Conversation c(peer_);
  for (const auto& s : sessions_) c.sessions_.push_back(clone_session(s));
  c.journal_ = journal_;
  return c;
}

void Conversation::forget(const Hash256& journal_key) {
  std::erase_if(journal_, [&](const JournalEntry& e) {
    if (!(e.key == journal_key)) return false;
    sodium_memzero(const_cast<std::uint8_t*>(e.content.data()), e.content.size());
    return true;
  });
}

bool Conversation::can_send() const { return active() && active()->ratchet.can_send(); }

v2::Kind Conversation::next_kind() const {
  const Session* s = active();
  return s && s->initiator && !s->confirmed ? v2::Kind::prekey : v2::Kind::ratchet;
}

std::vector<std::uint8_t> Conversation::ad_of(const Session& s, const Identity& me) const {
  const AccountKey& initiator = s.initiator ? me.account() : peer_;
  const AccountKey& responder = s.initiator ? peer_ : me.account();
  // Through an array: GCC 12 misreads a vector built from one key and
  // extended by the other as an out-of-bounds copy (-Warray-bounds).
  std::array<std::uint8_t, 64> ad{};
  std::copy(initiator.bytes.begin(), initiator.bytes.end(), ad.begin());
  std::copy(responder.bytes.begin(), responder.bytes.end(), ad.begin() + 32);
  return {ad.begin(), ad.end()};
}

Result<void, X3dhError> Conversation::initiate(const Identity& me, const PrekeyBundle& bundle,
                                               RandomSource& rng, std::uint64_t now_ms) {
  std::optional<std::size_t> one_time;
  if (!bundle.one_time.empty()) {
    std::uint32_t pick = 0;
    rng.fill(MutableBytes(reinterpret_cast<std::uint8_t*>(&pick), sizeof pick));
    one_time = pick % bundle.one_time.size();
  }
  auto start = x3dh_initiate(me.account(), me.x25519_secret(), bundle, one_time, &rng);
  if (!start) return start.failure();
  Session s{start->ephemeral,
            true,
            false,
            v2::PrekeyHeader{start->ephemeral, start->signed_prekey_id,
                             start->one_time_prekey_id.value_or(0)},
            now_ms,
            0,
            Ratchet::initiator(start->keys.shared, start->keys.header_key_a,
                               start->keys.next_header_key_b, bundle.signed_prekey.key, &rng)};
  // Our own start replaces whatever was active (a reset, or the first one).
  sessions_.insert(sessions_.begin(), std::move(s));
  if (sessions_.size() > max_sessions)
    sessions_.erase(sessions_.begin() + static_cast<std::ptrdiff_t>(max_sessions), sessions_.end());
  return {};
}

Result<std::vector<std::uint8_t>, SealError> Conversation::seal(const Identity& me,
                                                                const SealKey& peer,
                                                                const v2::Content& content,
                                                                std::uint32_t max_body_bytes,
                                                                RandomSource& rng) {
  if (!can_send() || !(peer.account == peer_)) return fail(SealError::no_session);
  Session& s = sessions_.front();
  const v2::Kind kind = next_kind();
  if (content.count < 1 || content.count > max_fragments || content.index >= content.count)
    return fail(SealError::bad_fragment);
  auto bucket = v2::bucket_for(kind, content.body.size(), max_body_bytes, content.count > 1);
  if (!bucket) return bucket.failure();
  auto plain = v2::encode_content(content, v2::content_size(kind, *bucket));
  auto message = s.ratchet.encrypt(plain, ad_of(s, me), &rng);
  sodium_memzero(plain.data(), plain.size());
  if (!message) return fail(SealError::no_session);
  v2::Inner inner{kind, me.account(), s.prekey, std::move(*message)};
  return v2::seal_outer(peer, v2::encode_inner(inner), rng);
}

void Conversation::adopt(Session fresh) {
  if (sessions_.empty()) {
    sessions_.push_back(std::move(fresh));
    return;
  }
  const Session& current = sessions_.front();
  bool make_active;
  if (current.initiator && !current.confirmed) {
    // Both sides started at once: both keep the smaller ephemeral key's.
    make_active = key_less(fresh.id, current.id);
  } else {
    // The peer started again after the newest message of its we opened (it
    // lost its state); otherwise this start crossed with the active session.
    make_active = fresh.started_ms > current.peer_last_ms;
  }
  if (make_active) {
    sessions_.insert(sessions_.begin(), std::move(fresh));
  } else {
    sessions_.insert(sessions_.begin() + 1, std::move(fresh));
  }
  if (sessions_.size() > max_sessions)
    sessions_.erase(sessions_.begin() + static_cast<std::ptrdiff_t>(max_sessions), sessions_.end());
}

Result<Conversation::Received, ConversationError> Conversation::receive(const Identity& me,
                                                                        Prekeys& prekeys,
                                                                        const v2::Inner& inner,
                                                                        std::uint64_t now_ms,
                                                                        RandomSource* rng) {
  if (!(inner.sender == peer_)) return fail(ConversationError::wrong_sender);
  const std::uint64_t cutoff = now_ms > skipped_key_lifetime_ms ? now_ms - skipped_key_lifetime_ms : 0;
  const Hash256 journal_key = crypto::blake2b_256(inner.ratchet_message);
  // Opened before and not handed over yet (a restart asks for it again).
  for (const auto& e : journal_) {
    if (!(e.key == journal_key)) continue;
    auto content = v2::decode_content(e.content);
    if (!content) return fail(ConversationError::bad_content);
    Received again{std::move(*content), false, false, true, journal_key};
    return again;
  }
  // Every message that opens is journalled until forget().
  auto journalled = [&](Received r) -> Result<Received, ConversationError> {
    r.journal_key = journal_key;
    journal_.push_back(JournalEntry{journal_key, v2::encode_content(r.content, 0)});
    if (journal_.size() > max_journal) journal_.erase(journal_.begin());
    return r;
  };

  // A session both sides hold: try each, the active one first.
  auto open_in = [&](Session& s) -> Result<v2::Content, ConversationError> {
    Ratchet trial = s.ratchet.clone();
    auto plain = trial.decrypt(inner.ratchet_message, ad_of(s, me), now_ms, rng);
    if (!plain) {
      if (plain.error() == RatchetError::already_opened) return fail(ConversationError::replay);
      if (plain.error() == RatchetError::too_many_skipped) return fail(ConversationError::too_far_ahead);
      return fail(ConversationError::does_not_open);
    }
    auto content = v2::decode_content(*plain);
    sodium_memzero(plain->data(), plain->size());
    if (!content) return fail(ConversationError::bad_content);
    trial.expire_skipped(cutoff);
    s.ratchet = std::move(trial);
    s.peer_last_ms = std::max(s.peer_last_ms, content->timestamp_ms);
    if (s.initiator) s.confirmed = true;
    return std::move(*content);
  };

  if (inner.kind == v2::Kind::prekey) {
    const auto known = std::find_if(sessions_.begin(), sessions_.end(),
                                    [&](const Session& s) { return s.id == inner.prekey.ephemeral; });
    if (known != sessions_.end()) {
      if (known->initiator) return fail(ConversationError::does_not_open);  // our own key, reflected
      auto content = open_in(*known);
      if (!content) return content.failure();
      return journalled(Received{std::move(*content), false, false, false, {}});
    }
    // A new session, started by the peer.
    const X25519SecretKey* spk = prekeys.signed_secret(inner.prekey.signed_prekey_id);
    if (!spk) return fail(ConversationError::unknown_prekey);
    const X25519SecretKey* otk = nullptr;
    if (inner.prekey.one_time_prekey_id != 0) {
      otk = prekeys.one_time_secret(inner.prekey.one_time_prekey_id);
      if (!otk) return fail(ConversationError::unknown_prekey);
    }
    auto keys = x3dh_respond(me.account(), me.x25519_secret(), *spk, otk, peer_,
                             inner.prekey.ephemeral);
    if (!keys) return fail(ConversationError::handshake_failed);
    X25519KeyPair own;
    own.sec = X25519SecretKey::from(spk->view());
    own.pub = crypto::x25519_public(own.sec);
    Session s{inner.prekey.ephemeral, false, true, inner.prekey, 0, 0,
              Ratchet::responder(keys->shared, keys->header_key_a, keys->next_header_key_b,
                                 std::move(own))};
    auto content = open_in(s);
    if (!content) return content.failure();
    s.started_ms = content->timestamp_ms;
    const bool used_one_time = inner.prekey.one_time_prekey_id != 0;
    const bool first_use =
        used_one_time && prekeys.take_one_time(inner.prekey.one_time_prekey_id, now_ms).has_value();
    adopt(std::move(s));
    return journalled(Received{std::move(*content), true, first_use, false, {}});
  }

  if (sessions_.empty()) return fail(ConversationError::no_session);
  for (Session& s : sessions_) {
    auto content = open_in(s);
    if (content) return journalled(Received{std::move(*content), false, false, false, {}});
    if (content.error() != ConversationError::does_not_open) return content.failure();
  }
  return fail(ConversationError::does_not_open);
}

// version (1) || peer (32) || n (1) || n × (id (32) || flags (1) || prekey header (40)
// || started_ms (8) || peer_last_ms (8) || ratchet state length (4) || ratchet state)
// || j (2, ≤ 256) || j × (key (32) || var16 content).
std::vector<std::uint8_t> Conversation::encode() const {
  WireWriter w(64 + sessions_.size() * 512);
  w.u8(state_version).fixed(peer_).u8(static_cast<std::uint8_t>(sessions_.size()));
  for (const Session& s : sessions_) {
    const auto state = s.ratchet.encode();
    w.fixed(s.id)
        .u8(static_cast<std::uint8_t>((s.initiator ? flag_initiator : 0) |
                                      (s.confirmed ? flag_confirmed : 0)))
        .fixed(s.prekey.ephemeral)
        .u32(s.prekey.signed_prekey_id)
        .u32(s.prekey.one_time_prekey_id)
        .u64(s.started_ms)
        .u64(s.peer_last_ms)
        .u32(static_cast<std::uint32_t>(state.size()))
        .raw(state);
  }
  w.u16(static_cast<std::uint16_t>(journal_.size()));
  for (const auto& e : journal_) w.fixed(e.key).var16(e.content);
  return w.take();
}

Result<Conversation, std::string> Conversation::decode(Bytes bytes) {
  FieldReader f(bytes);
  Conversation c;
  std::uint8_t version = 0, n = 0;
  f.u8(version).check(version == state_version || version == 1).fixed(c.peer_).u8(n).check(n <= max_sessions);
  for (std::uint8_t i = 0; i < n && f; ++i) {
    X25519PublicKey id;
    v2::PrekeyHeader prekey;
    std::uint8_t flags = 0;
    std::uint64_t started = 0, last = 0;
    std::vector<std::uint8_t> state;
    f.fixed(id)
        .u8(flags)
        .check((flags & ~(flag_initiator | flag_confirmed)) == 0)
        .fixed(prekey.ephemeral)
        .u32(prekey.signed_prekey_id)
        .u32(prekey.one_time_prekey_id)
        .u64(started)
        .u64(last)
        .var32(state, max_state_bytes);
    if (!f) break;
    auto ratchet = Ratchet::decode(state);
    sodium_memzero(state.data(), state.size());
    if (!ratchet) return fail("conversation state: " + ratchet.error());
    c.sessions_.push_back(Session{id, (flags & flag_initiator) != 0, (flags & flag_confirmed) != 0,
                                  prekey, started, last, std::move(*ratchet)});
  }
  if (version >= 2) {
    std::uint16_t j = 0;
    f.u16(j).check(j <= max_journal);
    for (std::uint16_t i = 0; i < j && f; ++i) {
      JournalEntry e;
      f.fixed(e.key).var16(e.content, 0xffff);
      if (f) c.journal_.push_back(std::move(e));
    }
  }
  if (auto done = f.finish(0); !done) return fail(std::string("conversation state: malformed"));
  return c;
}

}  // namespace nightjar::client
