// Fuzzes the post-handshake frame layer. For every input a fresh dialer and
// responder complete a real handshake in memory (LinkSession is move-only and
// its stream state advances, so sessions cannot be reused between inputs);
// then the receiving side gets up to three genuine sealed frames followed by
// the fuzz bytes, split into chunks at fuzzer-chosen boundaries.
//
// Input layout:
//   byte 0  flags: bits 0-1 the number of genuine frames (0-3)
//                  bits 2-3 max_frame: 64 KiB, 1024, 17 or 0 (both ends)
//                  bit 4    the dialer receives (the responder seals)
//                  bit 5    mutual handshake (the dialer has a static key)
//                  bit 6    the sink returns false on the last genuine frame
//                  bit 7    reserved
//   byte 1  read boundaries: low 2 bits the mode (0 everything at once, 1 one
//           byte at a time, 2 chunks of param + 1 bytes, 3 pseudo-random sizes
//           seeded by param), high 6 bits the param; reads are never shorter
//           than 1/2048 of the whole stream
//   byte 2  genuine frame sizes: 2 bits per frame picking 0, 1, 100 or
//           max_frame bytes (never over max_frame)
//   rest    the fuzz bytes, received after the genuine frames
//
// The outcome is fully determined by the fuzz bytes (they cannot hold a valid
// frame: the stream keys come from fresh ephemeral keys), so it is checked
// exactly (trap on violation):
//   - exactly the genuine frames are delivered, in order, whatever follows them
//   - no delivered frame is larger than max_frame
//   - the fuzz bytes either stay buffered (an incomplete frame, under one
//     frame's worth) or fail with the error their length prefix calls for
//   - an error leaves the session failed, empty, and refusing more input
//   - a sink returning false stops processing with the rest still buffered
//   - receiving frames never produces output.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/link_session.hpp"
#include "routing/wire.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

constexpr std::size_t abytes = crypto_secretstream_xchacha20poly1305_ABYTES;
const std::uint8_t prologue_bytes[] = {'f', 'u', 'z', 'z', '-', 'n', 'e', 't'};
const Bytes prologue{prologue_bytes, sizeof prologue_bytes};

const std::shared_ptr<const X25519KeyPair>& server_key() {
  static const auto key = [] {
    CHECK(crypto::init());
    return std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  }();
  return key;
}

const std::shared_ptr<const X25519KeyPair>& client_key() {
  static const auto key = [] {
    CHECK(crypto::init());
    return std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  }();
  return key;
}

struct Collect : FrameSink {
  std::size_t max_frame = 0;
  std::size_t stop_after = 0;  // return false once this many frames arrived (0: never)
  std::vector<std::vector<std::uint8_t>> frames;
  bool on_frame(Bytes f) override {
    CHECK(f.size() <= max_frame);
    frames.emplace_back(f.begin(), f.end());
    return stop_after == 0 || frames.size() < stop_after;
  }
};

// Runs the handshake by passing bytes back and forth, as the unit tests do.
void handshake(LinkSession& dialer, LinkSession& responder) {
  Collect at_dialer, at_responder;
  at_dialer.max_frame = dialer.max_frame();
  at_responder.max_frame = responder.max_frame();
  std::vector<std::uint8_t> to_resp, to_dial;
  dialer.start(to_resp);
  for (int round = 0; round < 4; ++round) {
    std::vector<std::uint8_t> out;
    if (!to_resp.empty()) {
      CHECK(responder.receive(to_resp, out, at_responder).ok());
      to_resp.clear();
      to_dial.insert(to_dial.end(), out.begin(), out.end());
      out.clear();
    }
    if (!to_dial.empty()) {
      CHECK(dialer.receive(to_dial, out, at_dialer).ok());
      to_dial.clear();
      to_resp.insert(to_resp.end(), out.begin(), out.end());
    }
  }
  CHECK(dialer.established());
  CHECK(responder.established());
  CHECK(dialer.handshake_hash() == responder.handshake_hash());
  CHECK(at_dialer.frames.empty() && at_responder.frames.empty());
}

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
    // Keep to about 2048 reads per input, so that a 64 KiB frame read one byte
    // at a time does not slow the fuzzer to a crawl.
    n = std::min(std::max(n, stream.size() / 2048), stream.size() - pos);
    if (!feed(stream.subspan(pos, n))) return;
    pos += n;
  }
}

// What receiving `fuzz` after the genuine frames must lead to: an error, or
// (nullopt) everything left buffered as an incomplete frame.
std::optional<LinkError> expected_outcome(Bytes fuzz, std::size_t max_frame) {
  if (fuzz.size() < LinkSession::length_bytes) return std::nullopt;
  const std::uint64_t len = load_u32(fuzz.data());
  if (len > max_frame + abytes) return LinkError::frame_too_large;
  if (len < abytes) return LinkError::frame_too_small;
  if (fuzz.size() < LinkSession::length_bytes + len) return std::nullopt;
  return LinkError::frame_auth_failed;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  CHECK(crypto::init());
  // One real handshake up front, so a broken setup fails loudly at start-up.
  auto dialer = LinkSession::dialer(server_key()->pub, client_key(), prologue);
  auto responder = LinkSession::responder(server_key(), prologue, true);
  handshake(dialer, responder);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t ctrl = data[1];
  const std::uint8_t frame_sizes = data[2];
  const std::size_t genuine_count = flags & 3u;
  static constexpr std::size_t max_frames[4] = {LinkSession::default_max_frame, 1024, 17, 0};
  const std::size_t max_frame = max_frames[(flags >> 2) & 3u];
  const bool dialer_receives = (flags & 0x10) != 0;
  const bool mutual = (flags & 0x20) != 0;
  const bool stop = (flags & 0x40) != 0 && genuine_count > 0;

  auto dialer =
      LinkSession::dialer(server_key()->pub, mutual ? client_key() : nullptr, prologue, max_frame);
  auto responder =
      LinkSession::responder(server_key(), prologue, /*allow_anonymous=*/true, max_frame);
  handshake(dialer, responder);
  CHECK(responder.peer_static().has_value() == mutual);
  LinkSession& rx = dialer_receives ? dialer : responder;
  LinkSession& tx = dialer_receives ? responder : dialer;

  // The genuine frames, then the fuzz bytes.
  std::vector<std::vector<std::uint8_t>> genuine;
  std::vector<std::uint8_t> wire;
  for (std::size_t i = 0; i < genuine_count; ++i) {
    const std::size_t sizes[4] = {0, 1, 100, max_frame};
    const std::size_t len = std::min(sizes[(frame_sizes >> (2 * i)) & 3u], max_frame);
    std::vector<std::uint8_t> f(len);
    for (std::size_t j = 0; j < len; ++j)
      f[j] = static_cast<std::uint8_t>(i * 31 + j);
    const std::size_t before = wire.size();
    CHECK(tx.seal(f, wire).ok());
    CHECK(wire.size() == before + LinkSession::frame_overhead + len);
    genuine.push_back(std::move(f));
  }
  const std::size_t genuine_len = wire.size();
  wire.insert(wire.end(), data + 3, data + size);
  const Bytes stream{wire.data(), wire.size()};
  const Bytes fuzz = stream.subspan(genuine_len);

  Collect sink;
  sink.max_frame = max_frame;
  sink.stop_after = stop ? genuine_count : 0;
  std::vector<std::uint8_t> out;
  std::size_t fed = 0;
  std::optional<LinkError> error;
  for_each_chunk(stream, ctrl, [&](Bytes chunk) {
    auto r = rx.receive(chunk, out, sink);
    fed += chunk.size();
    CHECK(out.empty());
    if (!r.ok()) {
      error = r.error();
      return false;
    }
    CHECK(rx.established());
    CHECK(rx.buffered() <= fed);
    // Once the sink has asked to stop, the rest of that read stays buffered
    // unprocessed (whatever its size) and the caller closes the link.
    if (stop && sink.frames.size() == genuine_count) return false;
    // Otherwise at most one incomplete frame is held.
    CHECK(rx.buffered() < LinkSession::length_bytes + max_frame + abytes);
    return true;
  });

  // Exactly the genuine frames, whatever the fuzz bytes were.
  CHECK(sink.frames == genuine);

  if (stop) {
    CHECK(!error.has_value());
    CHECK(rx.established());
    CHECK(fed >= genuine_len);
    CHECK(rx.buffered() == fed - genuine_len);
    return 0;
  }

  const auto want = expected_outcome(fuzz, max_frame);
  CHECK(error == want);
  if (error) {
    CHECK(rx.failed());
    CHECK(rx.buffered() == 0);
    auto again = rx.receive(stream, out, sink);
    CHECK(!again.ok() && again.error() == LinkError::not_established);
    CHECK(sink.frames.size() == genuine_count);
  } else {
    CHECK(fed == stream.size());
    CHECK(rx.established());
    CHECK(rx.buffered() == fuzz.size());
    // The link still works in the other direction.
    std::vector<std::uint8_t> back;
    const std::uint8_t hello[] = {'h', 'i'};
    if (max_frame >= sizeof hello) {
      CHECK(rx.seal(hello, back).ok());
      Collect at_tx;
      at_tx.max_frame = max_frame;
      std::vector<std::uint8_t> tx_out;
      CHECK(tx.receive(back, tx_out, at_tx).ok());
      CHECK(at_tx.frames.size() == 1 && at_tx.frames[0].size() == sizeof hello);
    }
  }
  CHECK(out.empty());
  return 0;
}
