#include "node/http_request.hpp"

#include <algorithm>

namespace nightjar {

const char* to_string(HttpError e) {
  switch (e) {
    case HttpError::incomplete:
      return "incomplete request";
    case HttpError::bad_byte:
      return "bad byte in request head";
    case HttpError::bad_request_line:
      return "malformed request line";
    case HttpError::bad_header:
      return "malformed header";
    case HttpError::missing_host:
      return "HTTP/1.1 request without Host";
    case HttpError::head_too_large:
      return "request head too large";
    case HttpError::unsupported_version:
      return "HTTP version not supported";
  }
  return "unknown";
}

int http_status(HttpError e) {
  switch (e) {
    case HttpError::incomplete:
      return 0;
    case HttpError::head_too_large:
      return 431;
    case HttpError::unsupported_version:
      return 505;
    default:
      return 400;
  }
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 9110 tchar: the characters of methods and header names.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// Splits "GET /metrics HTTP/1.1" into `req`.
Result<void, HttpError> parse_request_line(std::string_view line, HttpRequest& req) {
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(HttpError::bad_request_line);
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(HttpError::bad_request_line);
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);

  if (!is_token(req.method)) return fail(HttpError::bad_request_line);
  // Origin form only; the byte check already excluded blanks and controls.
  if (req.target.empty() || req.target.front() != '/' ||
      req.target.find('#') != std::string_view::npos)
    return fail(HttpError::bad_request_line);
  if (version.size() != 8 || !version.starts_with("HTTP/") || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7]))
    return fail(HttpError::bad_request_line);
  if (version[5] != '1') return fail(HttpError::unsupported_version);
  req.minor_version = version[7] - '0';

  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string_view::npos ? std::string_view{} : req.target.substr(q + 1);
  return {};
}

Result<HttpHeader, HttpError> parse_header(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return fail(HttpError::bad_header);
  // A leading blank would be obsolete line folding; a blank before the colon
  // is forbidden (RFC 9112 section 5.1); is_token rejects both.
  const std::string_view name = line.substr(0, colon);
  if (!is_token(name)) return fail(HttpError::bad_header);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && is_blank(value.front()))
    value.remove_prefix(1);
  while (!value.empty() && is_blank(value.back()))
    value.remove_suffix(1);
  return HttpHeader{name, value};
}

// Printable ASCII or HTAB: a line's bytes once its line end is removed.
bool printable(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == '\t' || (c >= 0x20 && c <= 0x7e); });
}

}  // namespace

const HttpHeader* HttpRequest::find_header(std::string_view name) const {
  for (const HttpHeader& h : headers)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

Result<HttpRequest, HttpError> parse_http_request(Bytes input, const HttpLimits& limits) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  // The head must end within the limit, so nothing past it is ever scanned.
  const std::string_view head = text.substr(0, limits.max_head_bytes);

  HttpRequest req;
  std::size_t hosts = 0;
  std::size_t pos = 0;
  for (bool first = true;; first = false) {
    const std::size_t lf = head.find('\n', pos);
    // Lines are checked as they arrive, the unfinished last one too, so that
    // garbage is refused before the head is complete. A CR just before the
    // end of the input may yet be followed by its LF.
    std::string_view line = head.substr(pos, lf == std::string_view::npos ? head.npos : lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!printable(line)) return fail(HttpError::bad_byte);
    if (lf == std::string_view::npos)
      return fail(head.size() < text.size() ? HttpError::head_too_large : HttpError::incomplete);
    pos = lf + 1;

    if (first) {
      auto r = parse_request_line(line, req);
      if (!r) return r.failure();
      continue;
    }
    if (line.empty()) break;
    if (req.headers.size() >= limits.max_headers) return fail(HttpError::head_too_large);
    auto header = parse_header(line);
    if (!header) return header.failure();
    if (iequals(header->name, "host") && ++hosts > 1) return fail(HttpError::bad_header);
    req.headers.push_back(*header);
  }
  if (req.minor_version >= 1 && hosts == 0) return fail(HttpError::missing_host);
  req.head_bytes = pos;
  return req;
}

}  // namespace nightjar
