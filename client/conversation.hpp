// Conversation: one peer's forward-secret sessions and the rules that pick
// the one to send with (docs/ENVELOPE.md, "Version 2: sessions"). A session
// is an X3DH handshake (client/x3dh.hpp) and the Double Ratchet it starts
// (client/ratchet.hpp), named by the initiator's ephemeral key.
//
//   - The initiator sends every message as a prekey message (with the
//     handshake's header) until a message of the peer opens in the session
//     ("confirmed"), so whichever of its first messages arrives first starts
//     the session at the peer: swarms deliver in any order.
//   - A prekey message that starts a new session at the receiver makes it the
//     active one, except: if the receiver's active session is its own,
//     unconfirmed start (both sides started at once), both keep the session
//     with the smaller ephemeral key, so both pick the same; and a start the
//     peer stamped before the newest message of the peer already opened is
//     kept only to open its messages (it crossed with the active session).
//   - Sessions that are not active are kept (up to 4) to open messages still
//     on their way, never to send.
//   - A ratchet message that finds no session at all means this side lost
//     its state: the caller starts a new session from the peer's bundle (the
//     peer adopts it, being newer) and tells the user.
// receive() and seal() change the state only when they succeed; the caller
// saves the conversation (ConversationStore) before it hands a sealed
// envelope to the network or a received message to the user.
//
// A message's key is gone once it opened, so a crash between saving the
// conversation and handing the message over would lose it (a fragment
// waiting for the others is the long case). Each opened message therefore
// stays in the conversation's journal (saved with it) until the caller says
// it was handed over (forget()); the same envelope met again (it is asked
// for again after a restart) opens from the journal. Handing over and
// saving cannot be one atomic step, so a crash right after a message was
// handed over may hand it over again, never lose it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/account.hpp"
#include "client/envelope_v2.hpp"
#include "client/identity.hpp"
#include "client/prekeys.hpp"
#include "client/ratchet.hpp"
#include "client/x3dh.hpp"
#include "routing/random_source.hpp"

namespace nightjar::client {

struct Session {
  X25519PublicKey id;       // the initiator's ephemeral key
  bool initiator = false;   // this side started it
  bool confirmed = false;   // a message of the peer opened in it (a responder's always is)
  v2::PrekeyHeader prekey;  // the initiator's, sent until confirmed
  std::uint64_t started_ms = 0;    // the initiator's clock when it started
  std::uint64_t peer_last_ms = 0;  // the newest peer timestamp opened in it
  Ratchet ratchet;
};

enum class ConversationError {
  wrong_sender,        // the message is not from this conversation's peer
  unknown_prekey,      // a start for a signed prekey no longer kept, or a one-time prekey used up
  handshake_failed,    // the handshake's keys are not valid
  no_session,          // a ratchet message, and no session at all: this side lost its state
  does_not_open,       // opens in no session (out of step, or forged)
  too_far_ahead,       // its header opened, but more than ratchet::max_skip messages of its
                       // chain are missing (refused, not followed)
  replay,              // opened before
  bad_content,         // opened, but the content is malformed
};
const char* to_string(ConversationError e);

class Conversation {
 public:
  static constexpr std::size_t max_sessions = 5;  // the active one and 4 kept to receive
  static constexpr std::uint8_t state_version = 2;  // 1: without the journal
  // Skipped message keys older than this are dropped (the longest TTL and a day).
  static constexpr std::uint64_t skipped_key_lifetime_ms = 15ull * 24 * 3600 * 1000;

  explicit Conversation(const AccountKey& peer);
  Conversation(Conversation&&) noexcept = default;
  Conversation& operator=(Conversation&&) noexcept = default;
  Conversation clone() const;

  const AccountKey& peer() const { return peer_; }
  // The session messages are sealed with; null before any.
  const Session* active() const { return sessions_.empty() ? nullptr : &sessions_.front(); }
  std::size_t session_count() const { return sessions_.size(); }
  bool can_send() const;
  // The kind the next message is sealed as.
  v2::Kind next_kind() const;

  // Starts a session from the peer's bundle (verified by the caller: see
  // Client::lookup_prekeys); it becomes the active one. Uses a random
  // one-time prekey of the bundle, if it has any.
  Result<void, X3dhError> initiate(const Identity& me, const PrekeyBundle& bundle,
                                   RandomSource& rng, std::uint64_t now_ms);

  // Seals `content` with the active session into a version 2 envelope of
  // the smallest bucket that holds it (no_session if there is none that
  // can send).
  Result<std::vector<std::uint8_t>, SealError> seal(const Identity& me, const SealKey& peer,
                                                    const v2::Content& content,
                                                    std::uint32_t max_body_bytes, RandomSource& rng);

  struct Received {
    v2::Content content;
    bool new_session = false;      // a start from the peer (kept, active or not)
    bool prekeys_changed = false;  // a one-time prekey was used up: save the prekeys
    bool from_journal = false;     // opened before, not yet forgotten: given again
    Hash256 journal_key;           // what forget() takes
  };
  // Opens an inner (v2::decode_inner) from the peer. A DH step draws its new
  // ratchet key from `rng` (null: the system's).
  Result<Received, ConversationError> receive(const Identity& me, Prekeys& prekeys,
                                              const v2::Inner& inner, std::uint64_t now_ms,
                                              RandomSource* rng = nullptr);

  // The message was handed over: drop it from the journal (saved with the
  // next change of the conversation).
  void forget(const Hash256& journal_key);
  std::size_t journal_size() const { return journal_.size(); }
  static constexpr std::size_t max_journal = 256;  // the oldest go first

  std::vector<std::uint8_t> encode() const;
  static Result<Conversation, std::string> decode(Bytes bytes);

 private:
  struct JournalEntry {
    Hash256 key;  // BLAKE2b-256 of the ratchet message
    std::vector<std::uint8_t> content;  // v2::encode_content, unpadded
  };
  Conversation() = default;
  std::vector<std::uint8_t> ad_of(const Session& s, const Identity& me) const;
  void adopt(Session s);

  AccountKey peer_;
  std::vector<Session> sessions_;  // [0] active; the others newest first
  std::vector<JournalEntry> journal_;  // oldest first
};

}  // namespace nightjar::client
