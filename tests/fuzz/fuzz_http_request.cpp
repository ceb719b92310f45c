// Fuzzes parse_http_request (node/http_request.hpp), the parser of the bytes
// a metrics scraper sends. The input is the raw bytes, parsed with the
// default limits and with small ones, so that both limit paths are reached.
//
// Properties, ending in __builtin_trap() when violated:
//   - a parsed head ends in LF within the input and the limit; every field is
//     a view inside it, printable ASCII; method and header names are tokens;
//     the target starts with '/'; path and query split it at the first '?';
//     there are at most max_headers headers and, for HTTP/1.1, one Host;
//   - the parser only reads what it has: a result other than incomplete for
//     a prefix is the same result (same head size, or same error) for the
//     whole input, and the head alone parses the same way as the input;
//   - incomplete is only returned for input not over the head limit, and
//     every strict prefix of a parsed head is incomplete (checked at two
//     split points).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "node/http_request.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

bool inside(std::string_view v, Bytes buf, std::size_t limit) {
  const auto begin = reinterpret_cast<std::uintptr_t>(buf.data());
  const auto vb = reinterpret_cast<std::uintptr_t>(v.data());
  if (v.empty()) return true;  // an empty view's pointer carries no bytes
  return vb >= begin && vb - begin <= limit && v.size() <= limit - (vb - begin);
}

bool printable(std::string_view s) {
  for (char c : s)
    if (c != '\t' && (c < 0x20 || c > 0x7e)) return false;
  return true;
}

bool token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c <= 0x20 || c > 0x7e || std::string_view("\"(),/:;<=>?@[\\]{}").find(c) != s.npos)
      return false;
  return true;
}

bool is_host(std::string_view name) {
  if (name.size() != 4) return false;
  for (std::size_t i = 0; i < 4; ++i)
    if ((name[i] | 0x20) != "host"[i]) return false;
  return true;
}

bool same(const Result<HttpRequest, HttpError>& a, const Result<HttpRequest, HttpError>& b) {
  if (a.ok() != b.ok()) return false;
  if (!a.ok()) return a.error() == b.error();
  return a->head_bytes == b->head_bytes && a->headers.size() == b->headers.size() &&
         a->method == b->method && a->target == b->target && a->minor_version == b->minor_version;
}

void check(Bytes buf, const HttpLimits& limits) {
  const auto r = parse_http_request(buf, limits);
  if (!r.ok()) {
    if (r.error() == HttpError::incomplete) CHECK(buf.size() <= limits.max_head_bytes);
  } else {
    const HttpRequest& q = *r;
    const std::size_t head = q.head_bytes;
    CHECK(head > 0 && head <= buf.size() && head <= limits.max_head_bytes);
    CHECK(buf[head - 1] == '\n');
    CHECK(q.headers.size() <= limits.max_headers);
    CHECK(token(q.method) && inside(q.method, buf, head));
    CHECK(!q.target.empty() && q.target.front() == '/' && inside(q.target, buf, head));
    CHECK(printable(q.target) && q.target.find(' ') == q.target.npos);
    CHECK(q.target.substr(0, q.path.size()) == q.path && inside(q.path, buf, head));
    CHECK(q.path.find('?') == q.path.npos && inside(q.query, buf, head));
    if (q.path.size() < q.target.size()) CHECK(q.target.substr(q.path.size() + 1) == q.query);
    CHECK(q.minor_version >= 0 && q.minor_version <= 9);
    std::size_t hosts = 0;
    for (const HttpHeader& h : q.headers) {
      CHECK(token(h.name) && inside(h.name, buf, head));
      CHECK(printable(h.value) && inside(h.value, buf, head));
      if (!h.value.empty()) CHECK(h.value.front() != ' ' && h.value.back() != ' ');
      if (is_host(h.name)) ++hosts;
    }
    CHECK(hosts <= 1);
    if (q.minor_version >= 1) CHECK(hosts == 1);

    // The head alone parses the same way, and is needed whole.
    CHECK(same(parse_http_request(buf.first(head), limits), r));
    for (std::size_t k : {head - 1, head / 2}) {
      const auto p = parse_http_request(buf.first(k), limits);
      CHECK(!p.ok() && p.error() == HttpError::incomplete);
    }
  }
  // Anything decided on a prefix stays decided.
  for (std::size_t k : {buf.size() / 2, buf.size() - (buf.empty() ? 0 : 1)}) {
    const auto p = parse_http_request(buf.first(k), limits);
    if (p.ok() || p.error() != HttpError::incomplete) CHECK(same(p, r));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy the input so that ASan catches any read past its end.
  const std::vector<std::uint8_t> owned(data, data + size);
  const Bytes buf{owned.data(), owned.size()};
  check(buf, HttpLimits{});
  check(buf, HttpLimits{64, 3});
  return 0;
}
