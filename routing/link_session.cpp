#include "routing/link_session.hpp"

#include <algorithm>
#include <cstring>

#include "routing/wire.hpp"

namespace nightjar {

const char* to_string(LinkError e) {
  switch (e) {
    case LinkError::bad_magic:
      return "not a Nightjar link handshake";
    case LinkError::bad_version:
      return "unsupported link version";
    case LinkError::bad_mode:
      return "unknown handshake mode";
    case LinkError::anonymous_not_allowed:
      return "anonymous dialer not allowed";
    case LinkError::low_order_key:
      return "low-order public key";
    case LinkError::handshake_auth_failed:
      return "handshake authentication failed";
    case LinkError::frame_too_large:
      return "frame too large";
    case LinkError::frame_too_small:
      return "frame too small";
    case LinkError::frame_auth_failed:
      return "frame authentication failed";
    case LinkError::bad_stream_tag:
      return "unexpected stream tag";
    case LinkError::not_established:
      return "link not established";
  }
  return "unknown link error";
}

namespace {
constexpr char protocol_name[] = "Nightjar-link-v1_IK_25519_XChaChaPoly_BLAKE2b";
constexpr std::uint8_t split_label[] = {'s', 'p', 'l', 'i', 't'};
}  // namespace

// --- Symmetric state ---------------------------------------------------------

void LinkSession::Symmetric::init(Bytes prologue, const X25519PublicKey& responder_static) {
  h = crypto::blake2b_256(as_bytes(protocol_name));
  ck = SymmetricKey::from(h.view());
  n = 0;
  mix_hash(prologue);
  mix_hash(responder_static);
}

void LinkSession::Symmetric::mix_hash(Bytes data) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, h.size());
  crypto_generichash_update(&st, h.data(), h.size());
  crypto_generichash_update(&st, data.data(), data.size());
  crypto_generichash_final(&st, h.data(), h.size());
}

void LinkSession::Symmetric::mix_key(const SharedSecret& dh) {
  auto out = crypto::kdf_split(ck.view(), dh.view());
  ck = std::move(out.first);
  k = std::move(out.second);
  n = 0;
}

AeadNonce LinkSession::Symmetric::nonce() const {
  AeadNonce nonce;
  store_u64(nonce.data() + 16, n);
  return nonce;
}

void LinkSession::Symmetric::encrypt_and_hash(Bytes plaintext, std::uint8_t* out) {
  MutableBytes ct{out, plaintext.size() + crypto::aead_tag_bytes};
  (void)crypto::aead_encrypt(k, nonce(), h, plaintext, ct);
  ++n;
  mix_hash(ct);
}

bool LinkSession::Symmetric::decrypt_and_hash(Bytes ciphertext, std::uint8_t* out) {
  MutableBytes pt{out, ciphertext.size() - crypto::aead_tag_bytes};
  if (!crypto::aead_decrypt(k, nonce(), h, ciphertext, pt)) return false;
  ++n;
  mix_hash(ciphertext);
  return true;
}

// --- Construction ------------------------------------------------------------

LinkSession LinkSession::dialer(const X25519PublicKey& responder_static,
                                std::shared_ptr<const X25519KeyPair> own_static, Bytes prologue,
                                std::size_t max_frame) {
  LinkSession s;
  s.dialer_ = true;
  s.mutual_ = own_static != nullptr;
  s.own_static_ = std::move(own_static);
  s.responder_static_ = responder_static;
  s.max_frame_ = max_frame;
  s.state_ = State::dialer_start;
  s.hs_.init(prologue, responder_static);
  return s;
}

LinkSession LinkSession::responder(std::shared_ptr<const X25519KeyPair> own_static, Bytes prologue,
                                   bool allow_anonymous, std::size_t max_frame) {
  LinkSession s;
  s.dialer_ = false;
  s.allow_anonymous_ = allow_anonymous;
  s.responder_static_ = own_static->pub;
  s.own_static_ = std::move(own_static);
  s.max_frame_ = max_frame;
  s.state_ = State::await_request;
  s.hs_.init(prologue, s.responder_static_);
  return s;
}

Result<void, LinkError> LinkSession::fail_with(LinkError e) {
  state_ = State::failed;
  rx_.clear();
  rx_pos_ = 0;
  return fail(e);
}

// --- Handshake ---------------------------------------------------------------

void LinkSession::start(std::vector<std::uint8_t>& out) {
  if (state_ != State::dialer_start) return;
  const std::size_t len = mutual_ ? request_mutual_bytes : request_anonymous_bytes;
  const std::size_t base = out.size();
  out.resize(base + len);
  std::uint8_t* p = out.data() + base;

  std::memcpy(p, magic, 3);
  p[3] = version;
  p[4] = mutual_ ? mode_mutual : mode_anonymous;
  hs_.mix_hash({p, header_bytes});
  p += header_bytes;

  ephemeral_ = crypto::x25519_generate();
  std::memcpy(p, ephemeral_.pub.data(), 32);
  hs_.mix_hash(ephemeral_.pub);
  p += 32;

  // A low-order responder key would come from a corrupt descriptor; the
  // handshake then fails at the responder's tag check, which is what we want.
  if (auto es = crypto::x25519(ephemeral_.sec, responder_static_)) hs_.mix_key(*es);

  if (mutual_) {
    hs_.encrypt_and_hash(own_static_->pub, p);
    p += 32 + crypto::aead_tag_bytes;
    if (auto ss = crypto::x25519(own_static_->sec, responder_static_)) hs_.mix_key(*ss);
  }
  hs_.encrypt_and_hash({}, p);
  state_ = State::await_reply;
}

Result<std::size_t, LinkError> LinkSession::handle_request(Bytes in,
                                                           std::vector<std::uint8_t>& out) {
  if (in.size() < header_bytes) return std::size_t{0};
  if (std::memcmp(in.data(), magic, 3) != 0) return fail(LinkError::bad_magic);
  if (in[3] != version) return fail(LinkError::bad_version);
  const std::uint8_t mode = in[4];
  if (mode != mode_anonymous && mode != mode_mutual) return fail(LinkError::bad_mode);
  if (mode == mode_anonymous && !allow_anonymous_) return fail(LinkError::anonymous_not_allowed);
  const std::size_t len = mode == mode_mutual ? request_mutual_bytes : request_anonymous_bytes;
  if (in.size() < len) return std::size_t{0};

  mutual_ = mode == mode_mutual;
  const std::uint8_t* p = in.data();
  hs_.mix_hash({p, header_bytes});
  p += header_bytes;

  remote_ephemeral_ = X25519PublicKey::from(std::span<const std::uint8_t, 32>(p, 32));
  hs_.mix_hash(remote_ephemeral_);
  p += 32;
  auto es = crypto::x25519(own_static_->sec, remote_ephemeral_);
  if (!es) return fail(LinkError::low_order_key);
  hs_.mix_key(*es);

  X25519PublicKey initiator_static;
  if (mutual_) {
    if (!hs_.decrypt_and_hash({p, 32 + crypto::aead_tag_bytes}, initiator_static.data()))
      return fail(LinkError::handshake_auth_failed);
    p += 32 + crypto::aead_tag_bytes;
    auto ss = crypto::x25519(own_static_->sec, initiator_static);
    if (!ss) return fail(LinkError::low_order_key);
    hs_.mix_key(*ss);
  }
  if (!hs_.decrypt_and_hash({p, crypto::aead_tag_bytes}, nullptr))
    return fail(LinkError::handshake_auth_failed);

  // Reply: e, ee, (se), empty payload.
  ephemeral_ = crypto::x25519_generate();
  const std::size_t base = out.size();
  out.resize(base + reply_bytes);
  std::memcpy(out.data() + base, ephemeral_.pub.data(), 32);
  hs_.mix_hash(ephemeral_.pub);
  auto ee = crypto::x25519(ephemeral_.sec, remote_ephemeral_);
  if (!ee) return fail(LinkError::low_order_key);
  hs_.mix_key(*ee);
  if (mutual_) {
    auto se = crypto::x25519(ephemeral_.sec, initiator_static);
    if (!se) return fail(LinkError::low_order_key);
    hs_.mix_key(*se);
    peer_static_ = initiator_static;
  }
  hs_.encrypt_and_hash({}, out.data() + base + 32);
  split_and_push(out);
  state_ = State::await_stream_header;
  return len;
}

Result<std::size_t, LinkError> LinkSession::handle_reply(Bytes in) {
  if (in.size() < reply_bytes) return std::size_t{0};
  remote_ephemeral_ = X25519PublicKey::from(in.first<32>());
  hs_.mix_hash(remote_ephemeral_);
  auto ee = crypto::x25519(ephemeral_.sec, remote_ephemeral_);
  if (!ee) return fail(LinkError::low_order_key);
  hs_.mix_key(*ee);
  if (mutual_) {
    auto se = crypto::x25519(own_static_->sec, remote_ephemeral_);
    if (!se) return fail(LinkError::low_order_key);
    hs_.mix_key(*se);
  }
  if (!hs_.decrypt_and_hash(in.subspan(32, crypto::aead_tag_bytes), nullptr))
    return fail(LinkError::handshake_auth_failed);
  peer_static_ = responder_static_;
  return reply_bytes;
}

// Derives the two direction keys, starts our outgoing stream and appends its
// header, and forgets the handshake secrets.
void LinkSession::split_and_push(std::vector<std::uint8_t>& out) {
  auto keys = crypto::kdf_split(hs_.ck.view(), split_label);
  const SymmetricKey& send = dialer_ ? keys.first : keys.second;
  const SymmetricKey& recv = dialer_ ? keys.second : keys.first;
  const std::size_t base = out.size();
  out.resize(base + stream_header_bytes);
  crypto_secretstream_xchacha20poly1305_init_push(&push_.s, out.data() + base, send.data());
  // Keep the receive key until the peer's stream header arrives.
  hs_.k = SymmetricKey::from(recv.view());
  hs_.ck = SymmetricKey{};
  ephemeral_ = X25519KeyPair{};
}

Result<void, LinkError> LinkSession::handle_stream_header(Bytes in) {
  if (crypto_secretstream_xchacha20poly1305_init_pull(&pull_.s, in.data(), hs_.k.data()) != 0)
    return fail(LinkError::handshake_auth_failed);
  hs_.k = SymmetricKey{};
  state_ = State::established;
  return {};
}

// --- Frames ------------------------------------------------------------------

Result<void, LinkError> LinkSession::receive(Bytes in, std::vector<std::uint8_t>& out,
                                             FrameSink& sink) {
  if (state_ == State::failed) return fail(LinkError::not_established);
  if (state_ == State::dialer_start) start(out);
  rx_.insert(rx_.end(), in.begin(), in.end());

  auto available = [&] { return Bytes{rx_.data() + rx_pos_, rx_.size() - rx_pos_}; };
  for (;;) {
    Bytes avail = available();
    if (state_ == State::await_request) {
      auto used = handle_request(avail, out);
      if (!used) return fail_with(used.error());
      if (*used == 0) break;
      rx_pos_ += *used;
    } else if (state_ == State::await_reply) {
      auto used = handle_reply(avail);
      if (!used) return fail_with(used.error());
      if (*used == 0) break;
      rx_pos_ += *used;
      split_and_push(out);
      state_ = State::await_stream_header;
    } else if (state_ == State::await_stream_header) {
      if (avail.size() < stream_header_bytes) break;
      auto r = handle_stream_header(avail.first(stream_header_bytes));
      if (!r) return fail_with(r.error());
      rx_pos_ += stream_header_bytes;
    } else if (state_ == State::established) {
      if (avail.size() < length_bytes) break;
      const std::uint32_t len = load_u32(avail.data());
      if (len > max_frame_ + crypto_secretstream_xchacha20poly1305_ABYTES)
        return fail_with(LinkError::frame_too_large);
      if (len < crypto_secretstream_xchacha20poly1305_ABYTES)
        return fail_with(LinkError::frame_too_small);
      if (avail.size() < length_bytes + len) break;
      plain_.resize(len - crypto_secretstream_xchacha20poly1305_ABYTES);
      unsigned char tag = 0;
      if (crypto_secretstream_xchacha20poly1305_pull(&pull_.s, plain_.data(), nullptr, &tag,
                                                     avail.data() + length_bytes, len, nullptr,
                                                     0) != 0)
        return fail_with(LinkError::frame_auth_failed);
      if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        return fail_with(LinkError::bad_stream_tag);
      rx_pos_ += length_bytes + len;
      if (!sink.on_frame(plain_)) break;
    } else {
      break;
    }
  }
  // Drop consumed bytes once per call, so many small frames cost no quadratic moves.
  if (rx_pos_ == rx_.size()) {
    rx_.clear();
    rx_pos_ = 0;
  } else if (rx_pos_ > 0) {
    rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(rx_pos_));
    rx_pos_ = 0;
  }
  return {};
}

Result<void, LinkError> LinkSession::seal(Bytes frame, std::vector<std::uint8_t>& out) {
  // The dialer may send as soon as it has its push stream (after the reply);
  // the responder after it has sent its reply.
  if (state_ != State::established && state_ != State::await_stream_header)
    return fail(LinkError::not_established);
  if (frame.size() > max_frame_) return fail(LinkError::frame_too_large);
  const std::size_t ct_len = frame.size() + crypto_secretstream_xchacha20poly1305_ABYTES;
  const std::size_t base = out.size();
  out.resize(base + length_bytes + ct_len);
  store_u32(out.data() + base, static_cast<std::uint32_t>(ct_len));
  crypto_secretstream_xchacha20poly1305_push(&push_.s, out.data() + base + length_bytes, nullptr,
                                             frame.data(), frame.size(), nullptr, 0,
                                             crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  return {};
}

}  // namespace nightjar
