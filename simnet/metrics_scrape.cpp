#include "simnet/metrics_scrape.hpp"

#include <array>
#include <charconv>
#include <cstdlib>
#include <memory>

#include "routing/runtime.hpp"

namespace nightjar::simnet {

MetricSamples parse_metrics(std::string_view text) {
  MetricSamples out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    // The name ends at the first space outside the braces.
    std::size_t end = 0;
    bool in_braces = false, in_quotes = false;
    for (; end < line.size(); ++end) {
      const char c = line[end];
      if (in_quotes) {
        if (c == '\\')
          ++end;
        else if (c == '"')
          in_quotes = false;
      } else if (c == '"' && in_braces) {
        in_quotes = true;
      } else if (c == '{') {
        in_braces = true;
      } else if (c == '}') {
        in_braces = false;
      } else if (c == ' ' && !in_braces) {
        break;
      }
    }
    if (end == 0 || end >= line.size()) continue;
    std::string_view value = line.substr(end + 1);
    const auto sp = value.find(' ');  // an optional timestamp follows
    value = value.substr(0, sp);
    const std::string v(value);
    char* stop = nullptr;
    const double d = std::strtod(v.c_str(), &stop);
    if (v.empty() || stop != v.c_str() + v.size()) continue;
    out[std::string(line.substr(0, end))] = d;
  }
  return out;
}

double metric_sum(const MetricSamples& samples, std::string_view name) {
  double sum = 0;
  for (auto it = samples.lower_bound(std::string(name)); it != samples.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, name.size(), name) != 0) break;
    if (key.size() == name.size() || key[name.size()] == '{') sum += it->second;
  }
  return sum;
}

namespace {

constexpr std::size_t max_answer_bytes = 4u << 20;

struct Scrape {
  explicit Scrape(uv_loop_t* loop) : timer(loop) {}

  uv_tcp_t tcp{};
  Timer timer;
  uv_connect_t connect{};
  uv_write_t write{};
  std::string request;
  std::string answer;
  std::function<void(Result<std::string, std::string>)> done;
  bool finished = false;
  std::array<char, 16384> buf{};

  void finish(Result<std::string, std::string> r) {
    if (finished) return;
    finished = true;
    auto d = std::move(done);
    timer.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
             [](uv_handle_t* h) { delete static_cast<Scrape*>(h->data); });
    if (d) d(std::move(r));
  }

  void complete() {
    const auto head_end = answer.find("\r\n\r\n");
    if (answer.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos)
      return finish(fail(std::string("not an HTTP answer")));
    if (answer.compare(9, 3, "200") != 0) return finish(fail("HTTP status " + answer.substr(9, 3)));
    finish(answer.substr(head_end + 4));
  }
};

}  // namespace

void scrape_metrics(uv_loop_t* loop, const Endpoint& at, std::chrono::milliseconds timeout,
                    std::function<void(Result<std::string, std::string>)> done) {
  auto* s = new Scrape(loop);
  s->done = std::move(done);
  s->request = "GET /metrics HTTP/1.1\r\nHost: " + at.to_string() + "\r\nConnection: close\r\n\r\n";
  uv_tcp_init(loop, &s->tcp);
  s->tcp.data = s->connect.data = s->write.data = s;
  s->timer.set_callback([s] { s->finish(fail(std::string("timed out"))); });
  s->timer.start(timeout);
  const int rc = uv_tcp_connect(&s->connect, &s->tcp, at.sa(), [](uv_connect_t* c, int status) {
    auto* self = static_cast<Scrape*>(c->data);
    if (status == UV_ECANCELED || self->finished) return;
    if (status < 0) return self->finish(fail(std::string("connect: ") + uv_strerror(status)));
    uv_buf_t req = uv_buf_init(self->request.data(), static_cast<unsigned>(self->request.size()));
    uv_write(&self->write, reinterpret_cast<uv_stream_t*>(&self->tcp), &req, 1,
             [](uv_write_t*, int) {});
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&self->tcp),
        [](uv_handle_t* h, std::size_t, uv_buf_t* out) {
          auto* me = static_cast<Scrape*>(h->data);
          *out = uv_buf_init(me->buf.data(), static_cast<unsigned>(me->buf.size()));
        },
        [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
          auto* me = static_cast<Scrape*>(st->data);
          if (me->finished) return;
          if (n == UV_EOF) return me->complete();
          if (n < 0)
            return me->finish(fail(std::string("read: ") + uv_strerror(static_cast<int>(n))));
          me->answer.append(b->base, static_cast<std::size_t>(n));
          if (me->answer.size() > max_answer_bytes)
            me->finish(fail(std::string("answer too large")));
        });
  });
  if (rc < 0) s->finish(fail(std::string("connect: ") + uv_strerror(rc)));
}

}  // namespace nightjar::simnet
