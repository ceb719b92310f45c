// Tests of node/http_request.hpp: good request heads (headers, HEAD, query
// strings, HTTP/1.0, bare LF line ends), incomplete input at every split
// point, and each class of bad input: request lines, headers, versions,
// oversized heads, control and non-ASCII bytes.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "node/http_request.hpp"

using namespace nightjar;

namespace {

// The request's fields are views into `text`, so a temporary is refused.
Result<HttpRequest, HttpError> parse(const std::string& text, HttpLimits limits = {}) {
  return parse_http_request(as_bytes(text), limits);
}
Result<HttpRequest, HttpError> parse(std::string&& text, HttpLimits limits = {}) = delete;

// A string literal with its NUL bytes kept.
template <std::size_t N>
std::string raw(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

bool parses(const std::string& text, HttpLimits limits = {}) {
  return parse_http_request(as_bytes(text), limits).ok();
}

HttpError parse_error(const std::string& text, HttpLimits limits = {}) {
  auto r = parse_http_request(as_bytes(text), limits);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

const std::string prometheus_request =
    "GET /metrics HTTP/1.1\r\n"
    "Host: 127.0.0.1:9100\r\n"
    "User-Agent: Prometheus/2.45.0\r\n"
    "Accept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
    "Accept-Encoding: gzip\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
    "\r\n";

const std::vector<std::string> good_requests = {
    prometheus_request,
    "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /metrics?name[]=up HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /metrics HTTP/1.0\r\n\r\n",
    "GET /metrics HTTP/1.0\n\n",
    "GET / HTTP/1.1\nHost: x\r\nA:\n\r\n",
    "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
};

}  // namespace

TEST_CASE("http request: a Prometheus scrape parses into its fields", "[unit][metrics]") {
  auto r = parse(prometheus_request);
  REQUIRE(r.ok());
  CHECK(r->method == "GET");
  CHECK(r->target == "/metrics");
  CHECK(r->path == "/metrics");
  CHECK(r->query.empty());
  CHECK(r->minor_version == 1);
  CHECK(r->head_bytes == prometheus_request.size());
  REQUIRE(r->headers.size() == 5);
  CHECK(r->headers[0].name == "Host");
  CHECK(r->headers[0].value == "127.0.0.1:9100");
  CHECK(r->headers[2].value == "text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
  REQUIRE(r->find_header("user-agent") != nullptr);
  CHECK(r->find_header("USER-AGENT")->value == "Prometheus/2.45.0");
  CHECK(r->find_header("Cookie") == nullptr);
}

TEST_CASE("http request: good variants", "[unit][metrics]") {
  SECTION("HEAD") {
    const std::string text = "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->method == "HEAD");
  }
  SECTION("any token is a method; the server decides what it allows") {
    const std::string text = "PROPFIND /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->method == "PROPFIND");
  }
  SECTION("a query string is split from the path") {
    const std::string text = "GET /metrics?a=1&b=%20? HTTP/1.1\r\nHost: x\r\n\r\n";
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->target == "/metrics?a=1&b=%20?");
    CHECK(r->path == "/metrics");
    CHECK(r->query == "a=1&b=%20?");
    const std::string empty_text = "GET /metrics? HTTP/1.1\r\nHost: x\r\n\r\n";
    auto empty = parse(empty_text);
    REQUIRE(empty.ok());
    CHECK(empty->path == "/metrics");
    CHECK(empty->query.empty());
  }
  SECTION("HTTP/1.0 needs no Host, and later 1.x minors are accepted") {
    const std::string text = "GET /metrics HTTP/1.0\r\n\r\n";
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->minor_version == 0);
    CHECK(r->headers.empty());
    const std::string later_text = "GET /metrics HTTP/1.9\r\nHost: x\r\n\r\n";
    auto later = parse(later_text);
    REQUIRE(later.ok());
    CHECK(later->minor_version == 9);
  }
  SECTION("bare LF line ends, alone or mixed with CRLF") {
    const std::string text = "GET /metrics HTTP/1.1\nHost: x\n\n";
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->headers.size() == 1);
    CHECK(r->head_bytes == 31);
    const std::string mixed_text = "GET /metrics HTTP/1.1\r\nHost: x\n\r\n";
    auto mixed = parse(mixed_text);
    REQUIRE(mixed.ok());
    CHECK(mixed->head_bytes == 33);
  }
  SECTION("header values lose surrounding blanks and may be empty") {
    const std::string text =
        "GET / HTTP/1.1\r\nHost:x\r\nA: \t spaced  out \t\r\nB:\r\nC:   \r\n\r\n";
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->find_header("host")->value == "x");
    CHECK(r->find_header("a")->value == "spaced  out");
    CHECK(r->find_header("b")->value.empty());
    CHECK(r->find_header("c")->value.empty());
  }
  SECTION("bytes after the head are not looked at") {
    const std::string text = raw("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n\0\xff\r garbage");
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->head_bytes == 35);
  }
  SECTION("fields are views into the input") {
    const std::string text = "GET /metrics?x HTTP/1.1\r\nHost: h\r\n\r\n";
    auto r = parse(text);
    REQUIRE(r.ok());
    CHECK(r->method.data() == text.data());
    CHECK(r->query.data() == text.data() + 13);
    CHECK(r->headers[0].value.data() == text.data() + 31);
  }
}

TEST_CASE("http request: every strict prefix of a good request is incomplete", "[unit][metrics]") {
  for (const std::string& text : good_requests) {
    CAPTURE(text);
    REQUIRE(parse(text).ok());
    for (std::size_t k = 0; k < text.size(); ++k) {
      CAPTURE(k);
      CHECK(parse_error(text.substr(0, k)) == HttpError::incomplete);
    }
  }
}

TEST_CASE("http request: bad request lines", "[unit][metrics]") {
  const char* bad[] = {
      "\r\n",                                   // no request line
      "\r\nGET /metrics HTTP/1.1\r\n\r\n",      // an empty line before it
      "GET\r\n\r\n",                            // no target
      "GET /metrics\r\n\r\n",                   // no version (HTTP/0.9 style)
      "GET  /metrics HTTP/1.1\r\n\r\n",         // two spaces
      "GET /metrics  HTTP/1.1\r\n\r\n",         // two spaces
      "GET /metrics HTTP/1.1 \r\n\r\n",         // trailing space
      " GET /metrics HTTP/1.1\r\n\r\n",         // leading space
      "GET\t/metrics\tHTTP/1.1\r\n\r\n",        // tabs
      "G(T /metrics HTTP/1.1\r\n\r\n",          // not a token
      "GET metrics HTTP/1.1\r\n\r\n",           // not origin form
      "GET http://x/metrics HTTP/1.1\r\n\r\n",  // absolute form
      "OPTIONS * HTTP/1.1\r\n\r\n",             // asterisk form
      "GET /metrics#top HTTP/1.1\r\n\r\n",      // a fragment
      "GET /metrics HTTP/1\r\n\r\n",
      "GET /metrics HTTP/1.10\r\n\r\n",
      "GET /metrics HTTP/1.x\r\n\r\n",
      "GET /metrics http/1.1\r\n\r\n",
      "GET /metrics HTTPS/1.1\r\n\r\n",
      "GET /a /b HTTP/1.1\r\n\r\n",
      "hello world\r\n\r\n",
  };
  for (const char* text : bad) {
    CAPTURE(text);
    CHECK(parse_error(text) == HttpError::bad_request_line);
  }
  // A bad request line is refused as soon as it is complete.
  CHECK(parse_error("GARBAGE\r\n") == HttpError::bad_request_line);

  CHECK(parse_error("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n") == HttpError::unsupported_version);
  CHECK(parse_error("GET /metrics HTTP/0.9\r\n\r\n") == HttpError::unsupported_version);
}

TEST_CASE("http request: bad headers", "[unit][metrics]") {
  const std::string line = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  const char* bad[] = {
      "NoColon\r\n\r\n",
      "Name : value\r\n\r\n",      // blank before the colon
      ": value\r\n\r\n",           // empty name
      "Na(me: value\r\n\r\n",      // not a token
      "A: b\r\n folded\r\n\r\n",   // obsolete line folding
      "A: b\r\n\tfolded\r\n\r\n",  // folding with a tab
      "Host: y\r\n\r\n",           // a second Host
      "host:y\r\n\r\n",            // a second Host, other case
  };
  for (const char* headers : bad) {
    CAPTURE(headers);
    CHECK(parse_error(line + headers) == HttpError::bad_header);
  }
  // Refused as soon as the bad line is complete.
  CHECK(parse_error(line + "NoColon\r\n") == HttpError::bad_header);

  CHECK(parse_error("GET /metrics HTTP/1.1\r\n\r\n") == HttpError::missing_host);
  CHECK(parse_error("GET /metrics HTTP/1.1\r\nHos: x\r\n\r\n") == HttpError::missing_host);
  CHECK(parse_error("GET /metrics HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") ==
        HttpError::bad_header);
}

TEST_CASE("http request: oversized heads", "[unit][metrics]") {
  const HttpLimits small{64, 3};
  const std::string start = "GET / HTTP/1.1\r\nHost: x\r\n";  // 25 bytes
  const std::string filler(64 - start.size() - 3 - 2 - 2, 'v');
  const std::string exact = start + "A: " + filler + "\r\n";  // the blank line makes 64

  SECTION("a head of exactly the limit parses, one byte more does not") {
    const std::string text = exact + "\r\n";
    auto r = parse(text, small);
    REQUIRE(r.ok());
    CHECK(r->head_bytes == 64);
    CHECK(parse_error(start + "A: " + filler + "v\r\n\r\n", small) == HttpError::head_too_large);
    // A bare LF saves a byte, so the same head ending in LF fits.
    CHECK(parses(start + "A: " + filler + "v\r\n\n", small));
  }
  SECTION("input over the limit without an end of head is refused at once") {
    CHECK(parse_error(std::string(65, 'G'), small) == HttpError::head_too_large);
    CHECK(parse_error(std::string(64, 'G'), small) == HttpError::incomplete);
    CHECK(parse_error(exact + "\r", small) == HttpError::incomplete);
    CHECK(parse_error(exact + "X\r\n", small) == HttpError::head_too_large);
  }
  SECTION("too many header lines") {
    CHECK(parses("GET / HTTP/1.1\nHost: x\nA: 1\nB: 2\n\n", small));
    CHECK(parse_error("GET / HTTP/1.1\nHost: x\nA: 1\nB: 2\nC: 3\n\n", small) ==
          HttpError::head_too_large);
  }
  SECTION("the default limit is 8 KiB") {
    const std::string big = "GET / HTTP/1.1\r\nHost: x\r\nA: " + std::string(8192, 'v');
    CHECK(parse_error(big) == HttpError::head_too_large);
    CHECK(parse_error(big + "\r\n\r\n") == HttpError::head_too_large);
    const std::string fits = "GET / HTTP/1.1\r\nHost: x\r\nA: " + std::string(8000, 'v');
    CHECK(parses(fits + "\r\n\r\n"));
  }
}

TEST_CASE("http request: control and non-ASCII bytes", "[unit][metrics]") {
  const std::string bad[] = {
      raw("GET /met\0rics HTTP/1.1\r\nHost: x\r\n\r\n"),
      "GET /metrics HTTP/1.1\r\nHost: x\x7f\r\n\r\n",
      "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nUser-Agent: \xff\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nX-\x1b[31m: red\r\n\r\n",
      "GET /metrics\rHTTP/1.1\r\nHost: x\r\n\r\n",          // a bare CR inside a line
      "GET /metrics HTTP/1.1\r\nHost: x\r\r\n\r\n",         // CR CR LF
      "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\r\n",         // CR CR LF ending the head
      raw("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),  // a TLS ClientHello
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    CHECK(parse_error(text) == HttpError::bad_byte);
  }
  // Refused before the line, let alone the head, is complete.
  CHECK(parse_error("GET /\x01") == HttpError::bad_byte);
  CHECK(parse_error("GET / HTTP/1.1\r\nHost: \x80") == HttpError::bad_byte);
  CHECK(parse_error("GET /\rX") == HttpError::bad_byte);
}

TEST_CASE("http request: errors map to statuses", "[unit][metrics]") {
  CHECK(http_status(HttpError::incomplete) == 0);
  CHECK(http_status(HttpError::bad_byte) == 400);
  CHECK(http_status(HttpError::bad_request_line) == 400);
  CHECK(http_status(HttpError::bad_header) == 400);
  CHECK(http_status(HttpError::missing_host) == 400);
  CHECK(http_status(HttpError::head_too_large) == 431);
  CHECK(http_status(HttpError::unsupported_version) == 505);
  CHECK(std::string(to_string(HttpError::head_too_large)) == "request head too large");
}
