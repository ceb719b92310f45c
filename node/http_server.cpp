#include "node/http_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <exception>
#include <vector>

#include "routing/runtime.hpp"

namespace nightjar {

namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// IMF-fixdate (RFC 9110 section 5.6.7), spelled out by hand because
// strftime's day and month names follow the locale.
std::string http_date() {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string make_response(int status, const std::string& body, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  out += "Content-Type: ";
  out += status == 200 ? MetricsHttpServer::content_type : "text/plain; charset=utf-8";
  out += "\r\nContent-Length: " + std::to_string(body.size());
  if (status == 405) out += "\r\nAllow: GET, HEAD";
  out += "\r\nDate: " + http_date();
  out += "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

}  // namespace

struct MetricsHttpServer::Listener {
  uv_tcp_t tcp{};
  MetricsHttpServer* owner = nullptr;
};

// One client connection: read the head, answer once, drain, close. Freed in
// the close callback of its last handle.
struct MetricsHttpServer::Connection {
  enum class Phase { reading, answering, closing };

  // A write owns its bytes until libuv is done with them.
  struct Write {
    uv_write_t req{};
    std::string bytes;
    Connection* connection;
  };

  MetricsHttpServer* server;  // null once the server has let go of it
  uv_tcp_t tcp{};
  Timer timer;
  uv_shutdown_t shutdown_req{};
  Phase phase = Phase::reading;
  bool written = false;    // the answer has left
  bool peer_done = false;  // the client closed its side, or the socket failed
  std::vector<std::uint8_t> head;
  std::array<char, 4096> read_buf{};

  explicit Connection(MetricsHttpServer* s) : server(s), timer(s->loop_, [this] { handle_timer(); }) {
    uv_tcp_init(s->loop_, &tcp);
    tcp.data = this;
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }

  void start_timer(std::chrono::milliseconds timeout) {
    timer.start(timeout);
  }

  bool start_reading() {
    return uv_read_start(
               stream(),
               [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
                 auto* c = static_cast<Connection*>(h->data);
                 *buf = uv_buf_init(c->read_buf.data(), static_cast<unsigned>(c->read_buf.size()));
               },
               [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
                 static_cast<Connection*>(s->data)->handle_read(nread);
               }) == 0;
  }

  void handle_read(ssize_t nread) {
    if (nread == 0 || phase == Phase::closing) return;
    if (nread < 0) {
      peer_done = true;
      uv_read_stop(stream());
      // A client may half-close right after its request; it still gets the
      // answer being written. Otherwise there is nothing left to do.
      if (phase == Phase::reading || written || nread != UV_EOF) close();
      return;
    }
    if (phase != Phase::reading) return;  // draining what follows the request
    // Keep one byte over the limit, so that the parser sees a head too large.
    const std::size_t cap = server->config_.limits.max_head_bytes + 1;
    const std::size_t take = std::min(static_cast<std::size_t>(nread), cap - head.size());
    head.insert(head.end(), read_buf.begin(), read_buf.begin() + static_cast<std::ptrdiff_t>(take));
    auto request = parse_http_request(head, server->config_.limits);
    if (request.ok())
      server->handle_request(*this, *request);
    else if (request.error() != HttpError::incomplete)
      server->answer(*this, http_status(request.error()),
                     std::string(to_string(request.error())) + "\n", false);
  }

  void handle_timer() {
    if (phase == Phase::reading) {
      ++server->stats_.timeouts;
      server->answer(*this, 408, "request not complete in time\n", false);
    } else {
      close();  // the client does not read the answer, or does not close
    }
  }

  void write(std::string bytes) {
    auto* w = new Write{{}, std::move(bytes), this};
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    const int rc = uv_write(&w->req, stream(), &buf, 1, [](uv_write_t* req, int status) {
      auto* done = static_cast<Write*>(req->data);
      Connection* c = done->connection;
      delete done;
      c->handle_written(status);
    });
    if (rc != 0) {
      delete w;
      close();
    }
  }

  void handle_written(int status) {
    if (phase == Phase::closing) return;
    written = true;
    if (status < 0 || peer_done) {
      close();
      return;
    }
    // Send our FIN, then read until the client's: closing with unread bytes
    // would reset the connection and could destroy the answer in flight.
    shutdown_req.data = this;
    const int rc = uv_shutdown(&shutdown_req, stream(), [](uv_shutdown_t* req, int st) {
      if (st == UV_ECANCELED) return;
      if (st < 0) static_cast<Connection*>(req->data)->close();
    });
    if (rc != 0) close();
  }

  void close() {
    if (phase == Phase::closing) return;
    phase = Phase::closing;
    if (server) server->connections_.erase(this);
    server = nullptr;
    timer.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
  }
};

MetricsHttpServer::MetricsHttpServer(uv_loop_t* loop, Render render, MetricsHttpConfig config)
    : loop_(loop),
      render_(std::move(render)),
      config_(std::move(config)),
      log_(config_.log ? config_.log : spdlog::default_logger()) {}

MetricsHttpServer::~MetricsHttpServer() {
  close();
}

Result<void, std::string> MetricsHttpServer::listen(const Endpoint& at) {
  const std::string where = at.to_string();
  if (listener_) return fail("metrics endpoint: already listening, cannot also listen on " + where);
  listener_ = new Listener;
  listener_->owner = this;
  listener_->tcp.data = listener_;
  uv_tcp_init(loop_, &listener_->tcp);
  int rc = uv_tcp_bind(&listener_->tcp, at.sa(), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_->tcp), 128,
                   [](uv_stream_t* s, int status) {
                     auto* l = static_cast<Listener*>(s->data);
                     if (l->owner) l->owner->handle_connection(status);
                   });
  if (rc != 0) {
    close_listener();
    return fail("metrics endpoint: cannot listen on " + where + ": " + uv_strerror(rc));
  }
  const std::string bound = local_endpoint().to_string();  // with the port picked for port 0
  if (at.is_loopback())
    log_->info("metrics endpoint listening on {}", bound);
  else
    log_->warn("metrics endpoint listening on {}, not loopback: whoever reaches it reads the stats",
               bound);
  return {};
}

Endpoint MetricsHttpServer::local_endpoint() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (!listener_ ||
      uv_tcp_getsockname(&listener_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Endpoint{};
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

std::uint16_t MetricsHttpServer::port() const {
  return listener_ ? local_endpoint().port() : 0;
}

void MetricsHttpServer::close_listener() {
  if (!listener_) return;
  listener_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_->tcp),
           [](uv_handle_t* h) { delete static_cast<Listener*>(h->data); });
  listener_ = nullptr;
}

void MetricsHttpServer::close() {
  close_listener();
  auto open = std::move(connections_);
  connections_.clear();
  for (Connection* c : open) {
    c->server = nullptr;
    c->close();
  }
}

void MetricsHttpServer::handle_connection(int status) {
  if (status < 0) {
    log_->warn("metrics endpoint: accept failed: {}", uv_strerror(status));
    return;
  }
  auto* c = new Connection(this);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener_->tcp), c->stream()) != 0) {
    c->close();
    return;
  }
  if (connections_.size() >= config_.max_connections) {
    ++stats_.refused_connections;
    log_->debug("metrics endpoint: {} connections open, one more refused", connections_.size());
    c->close();
    return;
  }
  connections_.insert(c);
  c->start_timer(config_.request_timeout);
  if (!c->start_reading()) c->close();
}

void MetricsHttpServer::handle_request(Connection& c, const HttpRequest& request) {
  const bool head_only = request.method == "HEAD";
  if (request.method != "GET" && !head_only) {
    answer(c, 405, "only GET and HEAD are served here\n", false);
    return;
  }
  if (request.path != "/metrics") {
    answer(c, 404, "not found; metrics are at /metrics\n", head_only);
    return;
  }
  std::string body;
  try {
    body = render_();
  } catch (const std::exception& e) {
    // A collector's bug must cost one scrape, not the node.
    log_->error("metrics endpoint: rendering failed: {}", e.what());
    answer(c, 500, "rendering the metrics failed\n", head_only);
    return;
  }
  answer(c, 200, std::move(body), head_only);
}

void MetricsHttpServer::answer(Connection& c, int status, std::string body, bool head_only) {
  if (status == 200) {
    ++stats_.scrapes;
  } else {
    ++stats_.refused_requests;
    log_->debug("metrics endpoint: answered {} {}", status, reason_phrase(status));
  }
  c.phase = Connection::Phase::answering;
  c.head.clear();
  c.start_timer(config_.request_timeout);
  c.write(make_response(status, body, head_only));
}

}  // namespace nightjar
