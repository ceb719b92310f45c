// The parser of HTTP/1.x request heads for the node's metrics endpoint
// (http_server.hpp), kept apart from the sockets so that it can be unit-tested
// and fuzzed. The server calls parse_http_request on the bytes received so
// far after every read, until it gets a request or an error to answer with.
//
// It is stricter than RFC 9112 requires, because the only legitimate callers
// are Prometheus, curl and the like:
//   - request line: METHOD SP TARGET SP HTTP/d.d with single spaces; METHOD a
//     token; TARGET in origin form ("/path?query", no '#'); major version 1
//     (any minor; others are unsupported_version, answered with 505);
//   - header lines: NAME ":" OWS VALUE OWS, NAME a token with nothing between
//     it and the colon; no obsolete line folding; an HTTP/1.1 request needs
//     exactly one Host header, an HTTP/1.0 request at most one;
//   - line ends: CRLF, or a bare LF (RFC 9112 section 2.2 allows recognising
//     it, and it makes `printf 'GET /metrics HTTP/1.0\n\n' | nc` work); a CR
//     anywhere else is an error, as is any byte outside printable ASCII
//     (0x20-0x7e) other than HTAB, so every field returned is plain text;
//   - limits: the head (request line, headers and the blank line that ends
//     them) is at most max_head_bytes, with at most max_headers header lines.
// Complete lines are checked as they arrive, so garbage is answered at once
// rather than at the server's timeout. Bytes after the head (a body) are not
// looked at: the server answers one request per connection and then closes.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/result.hpp"

namespace nightjar {

struct HttpLimits {
  std::size_t max_head_bytes = 8 * 1024;
  std::size_t max_headers = 64;
};

enum class HttpError {
  incomplete,           // not an error: the head has not ended yet, read more
  bad_byte,             // a control byte, a byte over 0x7e, or a CR not before LF
  bad_request_line,     // not METHOD SP /TARGET SP HTTP/d.d
  bad_header,           // no colon, a bad name, folding, a repeated Host
  missing_host,         // HTTP/1.1 without a Host header
  head_too_large,       // over max_head_bytes or max_headers
  unsupported_version,  // HTTP/d.d with a major version other than 1
};
const char* to_string(HttpError e);
// The status to answer with: 400, 431 or 505; 0 for incomplete.
int http_status(HttpError e);

struct HttpHeader {
  std::string_view name;   // as sent; compare case-insensitively
  std::string_view value;  // without leading and trailing blanks
};

// Views into the parsed input: valid while those bytes are.
struct HttpRequest {
  std::string_view method;  // case-sensitive: "GET", not "get"
  std::string_view target;  // as sent: "/metrics?x=1"
  std::string_view path;    // target before the first '?'
  std::string_view query;   // after that '?'; empty without one
  int minor_version = 1;    // HTTP/1.<minor_version>
  std::vector<HttpHeader> headers;
  std::size_t head_bytes = 0;  // through the blank line; a body would follow

  // The first header with this name (ASCII case-insensitive), or null.
  const HttpHeader* find_header(std::string_view name) const;
};

Result<HttpRequest, HttpError> parse_http_request(Bytes input, const HttpLimits& limits = {});

}  // namespace nightjar
