#include "tests/bench/flood/garbage_flood.hpp"

#include <optional>
#include <vector>

#include "routing/link_session.hpp"
#include "routing/wire.hpp"

namespace nightjar::flood {

const char* to_string(GarbageKind k) {
  switch (k) {
    case GarbageKind::random_bytes: return "random_bytes";
    case GarbageKind::bad_handshake: return "bad_handshake";
    case GarbageKind::stalled_handshake: return "stalled_handshake";
    case GarbageKind::oversized_frame: return "oversized_frame";
    case GarbageKind::bad_frame: return "bad_frame";
  }
  return "unknown";
}

namespace {
constexpr std::uint64_t top_up_ms = 5;

struct IgnoreFrames final : FrameSink {
  bool on_frame(Bytes) override { return true; }
};

std::vector<std::uint8_t> random_vector(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  crypto::random_bytes(v);
  return v;
}

std::uint32_t below(std::uint32_t n) { return crypto::random_uniform(n); }

std::vector<std::uint8_t> handshake_header(std::uint8_t mode) {
  return {LinkSession::magic[0], LinkSession::magic[1], LinkSession::magic[2], LinkSession::version,
          mode};
}
}  // namespace

struct GarbageFlood::Conn {
  GarbageFlood* owner = nullptr;
  GarbageKind kind = GarbageKind::random_bytes;
  uv_tcp_t tcp{};
  uv_timer_t timer{};
  uv_connect_t connect{};
  int open_handles = 0;
  bool connected = false;
  bool closing = false;
  bool sent_bad_frame = false;
  std::uint64_t opened_ms = 0;
  std::optional<LinkSession> session;
  Conn* prev = nullptr;
  Conn* next = nullptr;
};

GarbageFlood::GarbageFlood(uv_loop_t* loop, const FloodTarget& target, GarbageFloodOptions options)
    : loop_(loop), target_(target), options_(options) {}

GarbageFlood::~GarbageFlood() { stop(); }

void GarbageFlood::start() {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<GarbageFlood*>(t->data)->top_up(); }, 0, top_up_ms);
}

void GarbageFlood::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  while (first_) {
    ++stats_.open_at_stop;
    finish(*first_, false);
  }
}

void GarbageFlood::top_up() {
  for (std::size_t i = 0; i < options_.connections && open_ < options_.connections && !done(); ++i)
    open_one();
}

void GarbageFlood::open_one() {
  auto* c = new Conn;
  c->owner = this;
  c->kind = static_cast<GarbageKind>(below(garbage_kinds));
  c->opened_ms = uv_now(loop_);
  c->next = first_;
  if (first_) first_->prev = c;
  first_ = c;
  ++open_;
  ++stats_.connections;
  ++stats_.kinds[static_cast<std::size_t>(c->kind)].opened;

  uv_tcp_init(loop_, &c->tcp);
  uv_timer_init(loop_, &c->timer);
  c->open_handles = 2;
  c->tcp.data = c;
  c->timer.data = c;
  c->connect.data = c;
  uv_timer_start(
      &c->timer,
      [](uv_timer_t* t) {
        auto* conn = static_cast<Conn*>(t->data);
        auto& kind = conn->owner->stats_.kinds[static_cast<std::size_t>(conn->kind)];
        if (conn->connected) ++kind.not_dropped;
        conn->owner->finish(*conn, false);
      },
      options_.hold_ms, 0);
  const int rc = uv_tcp_connect(&c->connect, &c->tcp, target_.entry->node.address.sa(),
                                [](uv_connect_t* req, int status) {
                                  auto* conn = static_cast<Conn*>(req->data);
                                  if (!conn->closing) conn->owner->connected(*conn, status);
                                });
  if (rc != 0) {
    ++stats_.connect_failed;
    finish(*c, false);
  }
}

void GarbageFlood::connected(Conn& c, int status) {
  if (status != 0) {
    ++stats_.connect_failed;
    return finish(c, false);
  }
  c.connected = true;
  uv_tcp_nodelay(&c.tcp, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c.tcp),
      [](uv_handle_t*, std::size_t, uv_buf_t* buf) {
        static char storage[64 * 1024];
        *buf = uv_buf_init(storage, sizeof storage);
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(s->data);
        if (!conn->closing) conn->owner->readable(*conn, n, buf);
      });
  misbehave(c);
}

void GarbageFlood::misbehave(Conn& c) {
  switch (c.kind) {
    case GarbageKind::random_bytes: {
      auto bytes = random_vector(64 + below(16 * 1024));
      if (bytes[0] == LinkSession::magic[0]) bytes[0] ^= 0xff;
      return write(c, std::move(bytes));
    }
    case GarbageKind::bad_handshake: {
      // Mostly a well-formed header with random keys and tags; now and then
      // a bad version or mode byte.
      const std::uint8_t mode = static_cast<std::uint8_t>(below(2));
      auto bytes = handshake_header(mode);
      if (below(8) == 0) bytes[3] = static_cast<std::uint8_t>(2 + below(250));
      if (below(8) == 0) bytes[4] = static_cast<std::uint8_t>(2 + below(250));
      const auto rest = random_vector(mode == LinkSession::mode_mutual ? 96 : 48);
      bytes.insert(bytes.end(), rest.begin(), rest.end());
      return write(c, std::move(bytes));
    }
    case GarbageKind::stalled_handshake: {
      auto bytes = handshake_header(LinkSession::mode_anonymous);
      const auto part = random_vector(below(48));
      bytes.insert(bytes.end(), part.begin(), part.end());
      return write(c, std::move(bytes));
    }
    case GarbageKind::oversized_frame:
    case GarbageKind::bad_frame: {
      c.session.emplace(LinkSession::dialer(target_.entry->node.link_key, nullptr,
                                            target_.link.prologue, target_.link.max_frame));
      std::vector<std::uint8_t> out;
      c.session->start(out);
      return write(c, std::move(out));
    }
  }
}

void GarbageFlood::readable(Conn& c, ssize_t n, const uv_buf_t* buf) {
  if (n < 0) return finish(c, true);  // end of stream or reset: the target dropped us
  if (n == 0 || !c.session || c.sent_bad_frame) return;
  IgnoreFrames sink;
  std::vector<std::uint8_t> out;
  const Bytes in(reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(n));
  if (!c.session->receive(in, out, sink)) return finish(c, false);
  if (!c.session->established()) return;
  ++stats_.handshakes;
  c.sent_bad_frame = true;
  std::vector<std::uint8_t> bad(4);
  const std::size_t max = target_.link.max_frame + crypto_secretstream_xchacha20poly1305_ABYTES;
  if (c.kind == GarbageKind::oversized_frame) {
    // Mostly far over the maximum, now and then under the AEAD overhead.
    const std::uint32_t length =
        below(4) == 0 ? below(crypto_secretstream_xchacha20poly1305_ABYTES)
                      : static_cast<std::uint32_t>(max + 1 + below(0xFFFFFFFFu - static_cast<std::uint32_t>(max) - 1));
    store_u32(bad.data(), length);
    const auto tail = random_vector(64);
    bad.insert(bad.end(), tail.begin(), tail.end());
  } else {
    const std::uint32_t length = crypto_secretstream_xchacha20poly1305_ABYTES + 1 + below(2048);
    store_u32(bad.data(), length);
    const auto body = random_vector(length);
    bad.insert(bad.end(), body.begin(), body.end());
  }
  write(c, std::move(bad));
}

void GarbageFlood::write(Conn& c, std::vector<std::uint8_t> bytes) {
  struct WriteReq {
    uv_write_t req;
    std::vector<std::uint8_t> data;
  };
  auto* w = new WriteReq{{}, std::move(bytes)};
  stats_.bytes_sent += w->data.size();
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.data()),
                           static_cast<unsigned>(w->data.size()));
  // The request owns its bytes until its callback, which also runs (cancelled)
  // when the connection closes first.
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &b, 1,
               [](uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); }) != 0)
    delete w;
}

void GarbageFlood::finish(Conn& c, bool dropped_by_target) {
  if (c.closing) return;
  c.closing = true;
  auto& kind = stats_.kinds[static_cast<std::size_t>(c.kind)];
  if (dropped_by_target) {
    ++kind.dropped;
    if (c.kind == GarbageKind::stalled_handshake)
      stats_.stalled_drop_ms_max = std::max(stats_.stalled_drop_ms_max, uv_now(loop_) - c.opened_ms);
  }
  if (c.prev) c.prev->next = c.next;
  if (c.next) c.next->prev = c.prev;
  if (first_ == &c) first_ = c.next;
  --open_;
  auto closed = [](uv_handle_t* h) {
    auto* conn = static_cast<Conn*>(h->data);
    if (--conn->open_handles == 0) delete conn;
  };
  uv_timer_stop(&c.timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), closed);
}

}  // namespace nightjar::flood
