// MetricsHttpServer: the node's Prometheus endpoint, a minimal HTTP/1.1
// server on libuv TCP that serves one thing, `GET /metrics` (and HEAD), with
// the text a render callback returns (MetricsRegistry::render, metrics.hpp).
// The node daemon's main creates one on its loop, at the address of its
// metrics setting (loopback by default), after registering its collectors.
//
// It is built to be left open to a hostile local network without harm:
//   - one request per connection, answered with `Connection: close`; the
//     request head is parsed by parse_http_request (http_request.hpp) and
//     refused with 400, 431 or 505 as soon as it is known to be bad; other
//     paths get 404, methods other than GET and HEAD 405;
//   - a request must arrive whole within request_timeout (else 408), and the
//     answer must be written and the connection drained within another
//     request_timeout (else the connection is dropped);
//   - at most max_connections at a time; one more is closed at once;
//   - after answering, the server shuts down its side and reads until the
//     client closes (a lingering close), so the client is not reset before
//     it has read the answer when it sent more than the server read.
// Lifetime: every libuv handle is freed in its close callback; a write owns
// its buffer until its callback. Closing or destroying the server closes
// every connection; run the loop afterwards to let the handles go.
// Everything runs on the loop's thread, render included.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "node/http_request.hpp"
#include "routing/endpoint.hpp"
#include "routing/result.hpp"

namespace spdlog {
class logger;
}

namespace nightjar {

struct MetricsHttpConfig {
  std::size_t max_connections = 64;
  std::chrono::milliseconds request_timeout{5'000};
  HttpLimits limits;
  std::shared_ptr<spdlog::logger> log;  // null: spdlog's default logger
};

struct MetricsHttpStats {
  std::uint64_t scrapes = 0;              // answered 200
  std::uint64_t refused_requests = 0;     // answered 4xx or 5xx, timeouts included
  std::uint64_t timeouts = 0;             // answered 408
  std::uint64_t refused_connections = 0;  // closed at once, over max_connections
};

class MetricsHttpServer {
 public:
  // Returns the exposition text; called once per GET or HEAD of /metrics.
  using Render = std::function<std::string()>;
  static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

  MetricsHttpServer(uv_loop_t* loop, Render render, MetricsHttpConfig config = {});
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds and listens; port 0 picks a free port (see port()). The error says
  // which address and why, for the operator.
  Result<void, std::string> listen(const Endpoint& at);
  std::uint16_t port() const;
  // Stops listening and closes every connection at once.
  void close();
  std::size_t connection_count() const { return connections_.size(); }
  const MetricsHttpStats& stats() const { return stats_; }

 private:
  struct Listener;
  struct Connection;

  void close_listener();
  Endpoint local_endpoint() const;
  void handle_connection(int status);
  void handle_request(Connection& c, const HttpRequest& request);
  void answer(Connection& c, int status, std::string body, bool head_only);

  uv_loop_t* loop_;
  Render render_;
  MetricsHttpConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  Listener* listener_ = nullptr;  // freed in its close callback
  std::unordered_set<Connection*> connections_;
  MetricsHttpStats stats_;
};

}  // namespace nightjar
