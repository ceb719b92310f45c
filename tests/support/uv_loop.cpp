#include "tests/support/uv_loop.hpp"

#include <netinet/in.h>

#include <stdexcept>

#include "routing/runtime.hpp"

namespace nightjar::test {

TestLoop::TestLoop() {
  if (uv_loop_init(&loop_) != 0) throw std::runtime_error("uv_loop_init failed");
  // A ticking timer bounds each UV_RUN_ONCE, so deadlines are checked even
  // when nothing else happens. Unreferenced: it does not keep the loop alive.
  uv_timer_init(&loop_, &tick_);
  uv_timer_start(
      &tick_, [](uv_timer_t*) {}, 5, 5);
  uv_unref(reinterpret_cast<uv_handle_t*>(&tick_));
}

TestLoop::~TestLoop() {
  if (!closed_) drain_and_close();
}

bool TestLoop::run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    uv_ref(reinterpret_cast<uv_handle_t*>(&tick_));
    uv_run(&loop_, UV_RUN_ONCE);
    uv_unref(reinterpret_cast<uv_handle_t*>(&tick_));
  }
  return true;
}

void TestLoop::run_for(std::chrono::milliseconds d) {
  // At least one non-blocking turn, so run_for(0ms) processes ready events.
  uv_run(&loop_, UV_RUN_NOWAIT);
  const auto deadline = std::chrono::steady_clock::now() + d;
  run_until([&] { return std::chrono::steady_clock::now() >= deadline; }, d + d);
}

bool TestLoop::drain_and_close() {
  if (closed_) return true;
  closed_ = true;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&tick_)))
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (uv_run(&loop_, UV_RUN_NOWAIT) != 0 && std::chrono::steady_clock::now() < deadline) {
  }
  if (uv_loop_close(&loop_) == 0) return true;
  // Leaked handles: close them so the process can still exit cleanly.
  (void)close_loop(&loop_);
  return false;
}

std::shared_ptr<RawClient> RawClient::connect(uv_loop_t* loop, std::uint16_t port) {
  auto c = std::make_shared<RawClient>();
  c->self_ = c;
  uv_tcp_init(loop, &c->tcp_);
  c->tcp_.data = c.get();
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port, &addr);
  c->req_.data = c.get();
  uv_tcp_connect(&c->req_, &c->tcp_, reinterpret_cast<const sockaddr*>(&addr),
                 [](uv_connect_t* req, int status) {
                   auto* self = static_cast<RawClient*>(req->data);
                   if (status < 0) {
                     self->close();
                     return;
                   }
                   self->connected_ = true;
                   uv_read_start(
                       reinterpret_cast<uv_stream_t*>(&self->tcp_),
                       [](uv_handle_t* h, std::size_t, uv_buf_t* b) {
                         auto* s = static_cast<RawClient*>(h->data);
                         *b = uv_buf_init(s->buf_, sizeof s->buf_);
                       },
                       [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
                         auto* rc = static_cast<RawClient*>(s->data);
                         if (n > 0) rc->received_ += static_cast<std::size_t>(n);
                         if (n < 0) {
                           rc->peer_closed_ = true;
                           rc->close();
                         }
                       });
                   auto queued = std::move(self->queued_);
                   for (auto& q : queued)
                     self->write(q);
                 });
  return c;
}

void RawClient::write(Bytes data) {
  if (closing_) return;
  if (!connected_) {
    queued_.emplace_back(data.begin(), data.end());
    return;
  }
  struct Req {
    uv_write_t w;
    std::vector<std::uint8_t> bytes;
  };
  auto* r = new Req{{}, std::vector<std::uint8_t>(data.begin(), data.end())};
  uv_buf_t b =
      uv_buf_init(reinterpret_cast<char*>(r->bytes.data()), static_cast<unsigned>(r->bytes.size()));
  if (uv_write(&r->w, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1,
               [](uv_write_t* w, int) { delete reinterpret_cast<Req*>(w); }) != 0)
    delete r;
}

void RawClient::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    auto* self = static_cast<RawClient*>(h->data);
    auto keep = std::move(self->self_);
  });
}

}  // namespace nightjar::test
