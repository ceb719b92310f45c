// The metrics endpoint over real TCP on loopback: scrapes, refusals, a slow
// client, the connection limit, bind errors, and that closing the server
// frees every libuv handle. The client is a plain non-blocking POSIX socket,
// pumped while the test runs the server's loop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <memory>
#include <string>
#include <string_view>

#include "node/http_server.hpp"
#include "node/metrics.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace std::chrono_literals;
using nightjar::test::TestLoop;

namespace {

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    REQUIRE((rc == 0 || errno == EINPROGRESS));
  }
  ~HttpClient() { close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void send(std::string_view bytes) {
    unsent_ += bytes;
    pump();
  }
  // Half-closes once everything queued has been sent.
  void finish_sending() {
    finish_sending_ = true;
    pump();
  }
  // True once the server has closed the connection (end of stream or reset).
  bool closed() {
    pump();
    return closed_;
  }
  bool reset() const { return reset_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  const std::string& received() const { return received_; }

 private:
  void pump() {
    while (!unsent_.empty()) {
      const ssize_t n = ::send(fd_, unsent_.data(), unsent_.size(), MSG_NOSIGNAL);
      if (n <= 0) break;  // full, or not connected yet: try again at the next pump
      unsent_.erase(0, static_cast<std::size_t>(n));
    }
    if (unsent_.empty() && finish_sending_ && !write_shut_)
      write_shut_ = ::shutdown(fd_, SHUT_WR) == 0;
    char buf[4096];
    while (!closed_) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        closed_ = true;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) {
          closed_ = true;
          reset_ = errno == ECONNRESET;
        }
        break;
      }
    }
  }

  int fd_ = -1;
  std::string unsent_;
  std::string received_;
  bool finish_sending_ = false;
  bool write_shut_ = false;
  bool closed_ = false;
  bool reset_ = false;
};

struct Response {
  int status = 0;
  std::string head;  // status line and headers, each ending in CRLF
  std::string body;

  bool has_header(const std::string& line) const {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
  }
};

Response parse_response(const std::string& raw) {
  Response r;
  const auto end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  REQUIRE(raw.starts_with("HTTP/1.1 "));
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end + 2);
  r.body = raw.substr(end + 4);
  return r;
}

MetricsHttpConfig test_config() {
  MetricsHttpConfig c;
  c.log = test::capture_logger("metrics-http");
  return c;
}

// A server over a small registry on 127.0.0.1 and a free port.
struct MetricsSite {
  TestLoop loop;
  std::uint64_t relayed = 0;
  MetricsRegistry registry;
  std::unique_ptr<MetricsHttpServer> server;

  explicit MetricsSite(MetricsHttpConfig config = test_config()) {
    registry.add_counter("nightjar_cells_relayed_total", "Onion cells forwarded.",
                         [this] { return relayed; });
    registry.add_build_info("0.1.0");
    server = std::make_unique<MetricsHttpServer>(
        loop.get(), [this] { return registry.render(); }, std::move(config));
    auto r = server->listen(*Endpoint::parse("127.0.0.1:0"));
    REQUIRE(r.ok());
    REQUIRE(server->port() != 0);
  }

  // Sends `request` on a new connection; returns all the server sent before
  // it closed the connection.
  std::string exchange(std::string_view request) {
    HttpClient client(server->port());
    client.send(request);
    REQUIRE(loop.run_until([&] { return client.closed(); }));
    CHECK_FALSE(client.reset());
    return client.received();
  }
  Response get(std::string_view request) { return parse_response(exchange(request)); }

  // Closes the server and checks that no libuv handle is left behind.
  bool close_and_drain() {
    server->close();
    server.reset();
    return loop.drain_and_close();
  }
};

const std::string get_metrics = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

}  // namespace

TEST_CASE("metrics http: GET /metrics answers 200 with the registry's text",
          "[integration][metrics]") {
  MetricsSite site;
  site.relayed = 7;
  const Response r = site.get(get_metrics);
  CHECK(r.status == 200);
  CHECK(r.has_header("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  CHECK(r.has_header("Content-Length: " + std::to_string(r.body.size())));
  CHECK(r.has_header("Connection: close"));
  CHECK(r.body == site.registry.render());
  CHECK(r.body.find("\nnightjar_cells_relayed_total 7\n") != std::string::npos);

  // Every scrape reads the stats anew; a query string changes nothing.
  site.relayed = 8;
  const Response again = site.get("GET /metrics?x=1 HTTP/1.0\r\n\r\n");
  CHECK(again.status == 200);
  CHECK(again.body.find("\nnightjar_cells_relayed_total 8\n") != std::string::npos);
  CHECK(site.server->stats().scrapes == 2);
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: HEAD /metrics answers with headers only", "[integration][metrics]") {
  MetricsSite site;
  const Response r = site.get("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  CHECK(r.has_header("Content-Length: " + std::to_string(site.registry.render().size())));
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: wrong paths, methods and bytes are refused", "[integration][metrics]") {
  MetricsSite site;
  CHECK(site.get("GET /other HTTP/1.1\r\nHost: x\r\n\r\n").status == 404);
  CHECK(site.get("GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n").status == 404);
  const Response post = site.get("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(post.status == 405);
  CHECK(post.has_header("Allow: GET, HEAD"));
  CHECK(site.get("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n").status == 405);
  CHECK(site.get("garbage\r\n\r\n").status == 400);
  CHECK(site.get(std::string("GET /\x01\x02", 7)).status == 400);  // refused before a line end
  CHECK(site.get("GET /metrics HTTP/1.1\r\n\r\n").status == 400);  // no Host
  CHECK(site.get("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n").status == 505);
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'a');
  CHECK(site.get(huge + "\r\n\r\n").status == 431);
  CHECK(site.server->stats().refused_requests == 9);
  CHECK(site.server->stats().scrapes == 0);
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: a client gets its whole answer despite a body or a half-close",
          "[integration][metrics]") {
  MetricsSite site;
  SECTION("a large body the server does not read") {
    // Closing a socket with unread bytes resets it; the lingering close must
    // let the client read the answer first.
    const std::string body(256 * 1024, 'b');
    HttpClient client(site.server->port());
    client.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
    client.finish_sending();
    REQUIRE(site.loop.run_until([&] { return client.closed(); }));
    CHECK_FALSE(client.reset());
    CHECK(parse_response(client.received()).status == 405);
  }
  SECTION("a client that half-closes after its request") {
    HttpClient client(site.server->port());
    client.send(get_metrics);
    client.finish_sending();
    REQUIRE(site.loop.run_until([&] { return client.closed(); }));
    CHECK(parse_response(client.received()).status == 200);
  }
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: a slow client does not hold up others", "[integration][metrics]") {
  auto config = test_config();
  config.request_timeout = 60s;  // never reached here: nothing depends on timing
  MetricsSite site(config);
  HttpClient slow(site.server->port());
  slow.send("GET /metrics HTTP/1.1\r\nHo");
  REQUIRE(site.loop.run_until([&] { return site.server->connection_count() == 1; }));

  const Response r = site.get(get_metrics);
  CHECK(r.status == 200);
  CHECK_FALSE(slow.closed());
  CHECK(slow.received().empty());
  REQUIRE(site.loop.run_until([&] { return site.server->connection_count() == 1; }));
  CHECK_FALSE(slow.closed());

  // Closing the server closes the slow client's connection too.
  site.server->close();
  REQUIRE(site.loop.run_until([&] { return slow.closed(); }));
  CHECK(slow.received().empty());
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: a request not complete in time is answered 408",
          "[integration][metrics]") {
  auto config = test_config();
  config.request_timeout = 100ms;
  MetricsSite site(config);
  HttpClient half(site.server->port());
  half.send("GET /metrics HTTP/1.1\r\nHost: x\r\n");
  HttpClient silent(site.server->port());
  REQUIRE(site.loop.run_until([&] { return half.closed() && silent.closed(); }));
  CHECK(parse_response(half.received()).status == 408);
  CHECK(parse_response(silent.received()).status == 408);
  CHECK(site.server->stats().timeouts == 2);
  // The server lets a connection go once its client has closed too (or at
  // the timeout, which this test does not wait for).
  half.close();
  silent.close();
  REQUIRE(site.loop.run_until([&] { return site.server->connection_count() == 0; }));
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: connections over the limit are closed at once", "[integration][metrics]") {
  auto config = test_config();
  config.max_connections = 2;
  config.request_timeout = 60s;
  MetricsSite site(config);
  HttpClient first(site.server->port());
  HttpClient second(site.server->port());
  REQUIRE(site.loop.run_until([&] { return site.server->connection_count() == 2; }));

  HttpClient third(site.server->port());
  third.send(get_metrics);
  REQUIRE(site.loop.run_until([&] { return third.closed(); }));
  CHECK(third.received().empty());
  CHECK(site.server->stats().refused_connections == 1);
  CHECK_FALSE(first.closed());
  CHECK_FALSE(second.closed());

  // Those within the limit are served, and a served one frees its place
  // once the client has closed.
  first.send(get_metrics);
  REQUIRE(site.loop.run_until([&] { return first.closed(); }));
  CHECK(parse_response(first.received()).status == 200);
  first.close();
  REQUIRE(site.loop.run_until([&] { return site.server->connection_count() == 1; }));
  CHECK(site.get(get_metrics).status == 200);
  CHECK(site.server->stats().refused_connections == 1);
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: bind errors say where and why", "[integration][metrics]") {
  MetricsSite site;
  const std::string taken = "127.0.0.1:" + std::to_string(site.server->port());

  MetricsHttpServer other(
      site.loop.get(), [] { return std::string(); }, test_config());
  auto busy = other.listen(*Endpoint::parse(taken));
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error() == "metrics endpoint: cannot listen on " + taken + ": address already in use");
  CHECK(other.port() == 0);

  auto twice = site.server->listen(*Endpoint::parse("127.0.0.1:0"));
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().find("already listening") != std::string::npos);

  // A failed listen leaves the server usable on another address.
  REQUIRE(other.listen(*Endpoint::parse("127.0.0.1:0")).ok());
  CHECK(other.port() != 0);
  other.close();
  CHECK(site.close_and_drain());
}

TEST_CASE("metrics http: destroying the server with connections open frees every handle",
          "[integration][metrics]") {
  auto config = test_config();
  config.request_timeout = 60s;
  MetricsSite site(config);
  HttpClient idle(site.server->port());
  HttpClient partial(site.server->port());
  partial.send("GET /met");
  REQUIRE(site.loop.run_until([&] { return site.server->connection_count() == 2; }));
  site.server.reset();  // no close() first: the destructor must do it
  REQUIRE(site.loop.run_until([&] { return idle.closed() && partial.closed(); }));
  CHECK(site.loop.drain_and_close());
}
