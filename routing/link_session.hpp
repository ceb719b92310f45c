// LinkSession: the link-layer protocol without any I/O. It turns bytes read
// from a TCP stream into authenticated frames and frames into bytes to write,
// and runs the handshake that precedes them. routing/link.hpp drives it from
// libuv; tests and fuzz targets drive it directly.
//
// The handshake is the Noise IK pattern built from libsodium primitives (X25519,
// XChaCha20-Poly1305, keyed BLAKE2b): the dialer knows the responder's static
// X25519 key in advance (from a node descriptor). A node dials with its own
// static key ("mutual" mode) so both ends are authenticated; a client dials
// without one ("anonymous" mode). After the handshake each direction is a
// crypto_secretstream. docs/PROTOCOL.md, section "Link layer", has the bytes.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/result.hpp"

namespace nightjar {

enum class LinkError {
  bad_magic,              // the first bytes are not a Nightjar link handshake
  bad_version,            // a handshake of a version we do not speak
  bad_mode,               // unknown handshake mode byte
  anonymous_not_allowed,  // an anonymous dialer where mutual authentication is required
  low_order_key,          // a peer's X25519 key is a low-order point
  handshake_auth_failed,  // wrong static key, or a tampered handshake
  frame_too_large,        // a frame length over the negotiated maximum
  frame_too_small,        // a frame length below the AEAD overhead
  frame_auth_failed,      // a frame did not decrypt (garbage or tampering)
  bad_stream_tag,         // a frame with a secretstream tag we never send
  not_established,        // seal() called before the handshake finished
};
const char* to_string(LinkError e);

// Receives decrypted frames. Returning false stops processing of the rest of
// the input (the link is being closed).
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual bool on_frame(Bytes frame) = 0;
};

// A secretstream state that is wiped when destroyed or moved from.
struct StreamState {
  crypto_secretstream_xchacha20poly1305_state s{};
  StreamState() = default;
  StreamState(const StreamState&) = delete;
  StreamState& operator=(const StreamState&) = delete;
  StreamState(StreamState&& o) noexcept : s(o.s) { sodium_memzero(&o.s, sizeof o.s); }
  StreamState& operator=(StreamState&& o) noexcept {
    s = o.s;
    sodium_memzero(&o.s, sizeof o.s);
    return *this;
  }
  ~StreamState() { sodium_memzero(&s, sizeof s); }
};

class LinkSession {
 public:
  static constexpr std::uint8_t magic[3] = {'N', 'J', 'L'};
  static constexpr std::uint8_t version = 1;
  static constexpr std::uint8_t mode_anonymous = 0;
  static constexpr std::uint8_t mode_mutual = 1;
  static constexpr std::size_t header_bytes = 5;  // magic, version, mode
  static constexpr std::size_t request_anonymous_bytes = header_bytes + 32 + 16;
  static constexpr std::size_t request_mutual_bytes = header_bytes + 32 + 48 + 16;
  static constexpr std::size_t reply_bytes = 32 + 16;
  static constexpr std::size_t stream_header_bytes =
      crypto_secretstream_xchacha20poly1305_HEADERBYTES;
  static constexpr std::size_t length_bytes = 4;
  static constexpr std::size_t frame_overhead =
      length_bytes + crypto_secretstream_xchacha20poly1305_ABYTES;
  static constexpr std::size_t default_max_frame = 64 * 1024;

  // A dialer expecting `responder_static`. With `own_static` set it
  // authenticates itself (node to node); without it the link is anonymous
  // (client to node). `prologue` (e.g. the network ID) must equal the
  // responder's, or the handshake fails.
  static LinkSession dialer(const X25519PublicKey& responder_static,
                            std::shared_ptr<const X25519KeyPair> own_static, Bytes prologue,
                            std::size_t max_frame = default_max_frame);
  static LinkSession responder(std::shared_ptr<const X25519KeyPair> own_static, Bytes prologue,
                               bool allow_anonymous, std::size_t max_frame = default_max_frame);

  LinkSession(LinkSession&&) noexcept = default;
  LinkSession& operator=(LinkSession&&) noexcept = default;
  LinkSession(const LinkSession&) = delete;
  LinkSession& operator=(const LinkSession&) = delete;

  // The dialer's first message; appends nothing for a responder.
  void start(std::vector<std::uint8_t>& out);

  // Consumes bytes read from the peer. Bytes that must be written back
  // (handshake replies) are appended to `out`; complete frames go to `sink`.
  // Any error means the connection must be dropped; the session is then dead.
  Result<void, LinkError> receive(Bytes in, std::vector<std::uint8_t>& out, FrameSink& sink);

  // Encrypts one frame (at most max_frame bytes) and appends its wire form.
  Result<void, LinkError> seal(Bytes frame, std::vector<std::uint8_t>& out);

  bool established() const { return state_ == State::established; }
  bool failed() const { return state_ == State::failed; }
  bool is_dialer() const { return dialer_; }
  std::size_t max_frame() const { return max_frame_; }
  // The peer's authenticated static key (mutual links), once established.
  const std::optional<X25519PublicKey>& peer_static() const { return peer_static_; }
  // The final handshake hash, identical on both ends (for channel binding).
  const Hash256& handshake_hash() const { return hs_.h; }
  // Bytes held while waiting for the rest of a frame: at most one frame, unless
  // the sink stopped processing (then the link is being closed anyway).
  std::size_t buffered() const { return rx_.size() - rx_pos_; }

 private:
  enum class State {
    dialer_start,
    await_request,
    await_reply,
    await_stream_header,
    established,
    failed
  };

  // Noise's SymmetricState over BLAKE2b and XChaCha20-Poly1305.
  struct Symmetric {
    Hash256 h;
    SymmetricKey ck;
    SymmetricKey k;
    std::uint64_t n = 0;
    void init(Bytes prologue, const X25519PublicKey& responder_static);
    void mix_hash(Bytes data);
    void mix_key(const SharedSecret& dh);
    void encrypt_and_hash(Bytes plaintext, std::uint8_t* out);
    bool decrypt_and_hash(Bytes ciphertext, std::uint8_t* out);
    AeadNonce nonce() const;
  };

  LinkSession() = default;
  Result<void, LinkError> fail_with(LinkError e);
  Result<std::size_t, LinkError> handle_request(Bytes in, std::vector<std::uint8_t>& out);
  Result<std::size_t, LinkError> handle_reply(Bytes in);
  Result<void, LinkError> handle_stream_header(Bytes in);
  void split_and_push(std::vector<std::uint8_t>& out);

  bool dialer_ = false;
  bool allow_anonymous_ = false;
  bool mutual_ = false;
  State state_ = State::failed;
  std::size_t max_frame_ = default_max_frame;
  std::shared_ptr<const X25519KeyPair> own_static_;
  X25519PublicKey responder_static_;
  std::optional<X25519PublicKey> peer_static_;
  X25519KeyPair ephemeral_;
  X25519PublicKey remote_ephemeral_;
  Symmetric hs_;
  StreamState push_;
  StreamState pull_;
  std::vector<std::uint8_t> rx_;
  std::size_t rx_pos_ = 0;
  std::vector<std::uint8_t> plain_;
};

}  // namespace nightjar
