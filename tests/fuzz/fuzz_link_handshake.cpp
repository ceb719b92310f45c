// Fuzzes the link handshake: arbitrary bytes go to LinkSession responders
// (allow_anonymous true and false) as the dialer's request and whatever follows
// it, and to dialers (anonymous and mutual) as the responder's reply.
//
// Input layout: the stream bytes, then one control byte (the last byte) that
// picks the read boundaries: low 2 bits the mode (0 everything at once, 1 one
// byte at a time, 2 fixed-size chunks of param + 1 bytes, 3 pseudo-random
// sizes seeded by param), high 6 bits the param.
//
// The responder's static key is fixed (derived from constant bytes) so that the
// seed corpus can hold genuine requests, which lets the fuzzer reach the
// post-handshake states. To regenerate those seeds:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/link_handshake bin/fuzz_link_handshake
//
// Invariants (trap on violation):
//   - an error leaves the session failed with nothing buffered, and later
//     input is refused with not_established
//   - a responder replies (exactly reply_bytes + stream_header_bytes) only to
//     a well-formed header of an allowed mode, and a mutual peer it reports is
//     the only client key whose requests exist (the seeds' key)
//   - nothing is buffered beyond one request or one frame
//   - no frame is ever delivered: every frame key depends on an ephemeral
//     secret the input cannot know
//   - a dialer never becomes established (its ephemeral key is fresh per run,
//     so no input can carry a valid reply) and writes nothing after start().
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/link_session.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

const std::uint8_t prologue_bytes[] = {'f', 'u', 'z', 'z', '-', 'n', 'e', 't'};
const Bytes prologue{prologue_bytes, sizeof prologue_bytes};

std::shared_ptr<const X25519KeyPair> fixed_key(std::uint8_t first) {
  std::array<std::uint8_t, 32> sec{};
  for (std::size_t i = 0; i < sec.size(); ++i)
    sec[i] = static_cast<std::uint8_t>(first + i);
  X25519KeyPair kp;
  kp.sec = X25519SecretKey::from(sec);
  kp.pub = crypto::x25519_public(kp.sec);
  return std::make_shared<const X25519KeyPair>(std::move(kp));
}

const std::shared_ptr<const X25519KeyPair>& server_key() {
  static const auto key = [] {
    CHECK(crypto::init());
    return fixed_key(0x01);
  }();
  return key;
}

// The static key of the dialer that the seeds' mutual requests come from.
const std::shared_ptr<const X25519KeyPair>& client_key() {
  static const auto key = [] {
    CHECK(crypto::init());
    return fixed_key(0x41);
  }();
  return key;
}

struct CountFrames : FrameSink {
  std::size_t frames = 0;
  bool on_frame(Bytes) override {
    ++frames;
    return true;
  }
};

// Calls feed(chunk) for consecutive chunks of `stream` chosen by `ctrl` until
// the stream ends or feed returns false.
template <class Feed>
void for_each_chunk(Bytes stream, std::uint8_t ctrl, Feed&& feed) {
  const unsigned mode = ctrl & 3u;
  const std::size_t param = ctrl >> 2;
  std::uint32_t rng = static_cast<std::uint32_t>(param) * 2654435761u + 1u;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    std::size_t n = stream.size() - pos;
    if (mode == 1) {
      n = 1;
    } else if (mode == 2) {
      n = param + 1;
    } else if (mode == 3) {
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      n = rng % (4 * param + 8);  // may be 0: an empty read must be harmless too
    }
    n = std::min(n, stream.size() - pos);
    if (!feed(stream.subspan(pos, n))) return;
    pos += n;
  }
}

std::size_t buffer_bound(const LinkSession& s) {
  return std::max(
      LinkSession::request_mutual_bytes,
      LinkSession::length_bytes + s.max_frame() + crypto_secretstream_xchacha20poly1305_ABYTES);
}

// After an error the session is dead and says so.
void check_dead(LinkSession& s, Bytes stream) {
  CHECK(s.failed());
  CHECK(!s.established());
  CHECK(s.buffered() == 0);
  std::vector<std::uint8_t> out;
  CountFrames sink;
  auto again = s.receive(stream, out, sink);
  CHECK(!again.ok());
  CHECK(again.error() == LinkError::not_established);
  CHECK(out.empty());
  CHECK(sink.frames == 0);
}

void run_responder(Bytes stream, std::uint8_t ctrl, bool allow_anonymous) {
  auto s = LinkSession::responder(server_key(), prologue, allow_anonymous);
  CHECK(!s.is_dialer());
  std::vector<std::uint8_t> out;
  CountFrames sink;
  std::size_t fed = 0;
  bool dead = false;
  for_each_chunk(stream, ctrl, [&](Bytes chunk) {
    auto r = s.receive(chunk, out, sink);
    fed += chunk.size();
    if (!r.ok()) {
      dead = true;
      return false;
    }
    CHECK(!s.failed());
    CHECK(s.buffered() <= fed);
    CHECK(s.buffered() < buffer_bound(s));
    return true;
  });
  if (dead) check_dead(s, stream);

  CHECK(sink.frames == 0);
  CHECK(out.empty() || out.size() == LinkSession::reply_bytes + LinkSession::stream_header_bytes);
  if (!out.empty()) {
    // It accepted a request: the header must have been a valid one.
    CHECK(stream.size() >= LinkSession::request_anonymous_bytes);
    CHECK(std::memcmp(stream.data(), LinkSession::magic, 3) == 0);
    CHECK(stream[3] == LinkSession::version);
    const std::uint8_t mode = stream[4];
    CHECK(mode == LinkSession::mode_anonymous || mode == LinkSession::mode_mutual);
    if (!allow_anonymous) CHECK(mode == LinkSession::mode_mutual);
    const std::size_t len = mode == LinkSession::mode_mutual ? LinkSession::request_mutual_bytes
                                                             : LinkSession::request_anonymous_bytes;
    CHECK(stream.size() >= len);
    CHECK(s.peer_static().has_value() == (mode == LinkSession::mode_mutual));
    if (s.peer_static()) CHECK(*s.peer_static() == client_key()->pub);
    if (s.established()) CHECK(stream.size() >= len + LinkSession::stream_header_bytes);
  } else {
    CHECK(!s.established());
    CHECK(!s.peer_static().has_value());
  }
}

void run_dialer(Bytes stream, std::uint8_t ctrl, bool mutual) {
  auto d = LinkSession::dialer(server_key()->pub, mutual ? client_key() : nullptr, prologue);
  CHECK(d.is_dialer());
  std::vector<std::uint8_t> out;
  d.start(out);
  const std::size_t request =
      mutual ? LinkSession::request_mutual_bytes : LinkSession::request_anonymous_bytes;
  CHECK(out.size() == request);
  CountFrames sink;
  std::size_t fed = 0;
  bool dead = false;
  for_each_chunk(stream, ctrl, [&](Bytes chunk) {
    auto r = d.receive(chunk, out, sink);
    fed += chunk.size();
    if (!r.ok()) {
      dead = true;
      return false;
    }
    CHECK(!d.failed());
    CHECK(!d.established());
    CHECK(d.buffered() <= fed);
    CHECK(d.buffered() < LinkSession::reply_bytes);
    return true;
  });
  if (dead) check_dead(d, stream);
  CHECK(!d.established());
  CHECK(out.size() == request);
  CHECK(sink.frames == 0);
  CHECK(!d.peer_static().has_value());
}

// --- Seed generation ---------------------------------------------------------

// A genuine request to the fixed server key, an arbitrary stream header, then
// `tail`, then the control byte.
std::vector<std::uint8_t> genuine(bool mutual, Bytes tail, std::uint8_t ctrl) {
  auto d = LinkSession::dialer(server_key()->pub, mutual ? client_key() : nullptr, prologue);
  std::vector<std::uint8_t> seed;
  d.start(seed);
  const std::size_t header_at = seed.size();
  seed.resize(header_at + LinkSession::stream_header_bytes);
  crypto::random_bytes({seed.data() + header_at, LinkSession::stream_header_bytes});
  seed.insert(seed.end(), tail.begin(), tail.end());
  seed.push_back(ctrl);
  return seed;
}

void write_seeds(const std::string& dir) {
  std::vector<std::uint8_t> frame = {0, 0, 0, 40};  // a frame header and 40 bytes that won't verify
  frame.resize(frame.size() + 40);
  crypto::random_bytes({frame.data() + 4, 40});
  const std::uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};

  fuzz::write_seed(dir + "/genuine-anonymous", genuine(false, {}, 0));
  fuzz::write_seed(dir + "/genuine-mutual", genuine(true, {}, 0));
  fuzz::write_seed(dir + "/genuine-anonymous-frame-bytewise", genuine(false, frame, 1));
  fuzz::write_seed(dir + "/genuine-mutual-frame-chunks", genuine(true, frame, 3 | (5 << 2)));
  fuzz::write_seed(dir + "/genuine-mutual-huge-length", genuine(true, huge, 2 | (6 << 2)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  CHECK(crypto::init());
  (void)server_key();
  (void)client_key();
  fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t ctrl = data[size - 1];
  // Copy so that ASan sees the exact end of the stream.
  const std::vector<std::uint8_t> owned(data, data + size - 1);
  const Bytes stream{owned.data(), owned.size()};

  run_responder(stream, ctrl, true);
  run_responder(stream, ctrl, false);
  run_dialer(stream, ctrl, false);
  run_dialer(stream, ctrl, true);
  return 0;
}
