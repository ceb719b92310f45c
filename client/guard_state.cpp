#include "client/guard_state.hpp"

#include <charconv>
#include <set>
#include <stdexcept>

namespace nightjar {

namespace {

// Decimal without sign or leading zeros, as std::to_chars writes it.
template <class T>
bool parse_decimal(std::string_view s, T& out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

bool parse_node_id(std::string_view s, NodeId& out) {
  if (s.size() != 2 * NodeId::size_bytes) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return from_hex(s, out.mutable_view());
}

// Splits on single spaces; an empty field (two spaces, or a space at either
// end) is kept as an empty token so that it is rejected.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (out.size() <= 5) {
    const std::size_t space = line.find(' ', start);
    out.push_back(line.substr(start, space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return out;
}

Failure<std::string> line_error(std::size_t line, std::string_view why) {
  return fail("guard state line " + std::to_string(line) + ": " + std::string(why));
}

}  // namespace

bool valid(const GuardRecord& r) {
  if (r.failures == 0) return r.first_failure_ms == 0 && r.last_failure_ms == 0;
  return r.first_failure_ms <= r.last_failure_ms;
}

std::string encode_guard_state(std::span<const GuardRecord> guards) {
  if (guards.size() > max_guard_state_guards)
    throw std::invalid_argument("encode_guard_state: too many guards");
  std::set<NodeId> seen;
  std::string out(guard_state_header);
  out += '\n';
  for (const GuardRecord& g : guards) {
    if (!valid(g)) throw std::invalid_argument("encode_guard_state: inconsistent failure times");
    if (!seen.insert(g.id).second)
      throw std::invalid_argument("encode_guard_state: repeated guard");
    out += "guard " + g.id.hex() + ' ' + std::to_string(g.failures) + ' ' +
           std::to_string(g.first_failure_ms) + ' ' + std::to_string(g.last_failure_ms) + '\n';
  }
  return out;
}

Result<std::vector<GuardRecord>, std::string> parse_guard_state(std::string_view text) {
  if (text.empty()) return fail(std::string("guard state is empty"));
  if (text.size() > max_guard_state_bytes)
    return fail("guard state is longer than " + std::to_string(max_guard_state_bytes) + " bytes");
  if (text.back() != '\n') return fail(std::string("guard state does not end with a newline"));

  std::vector<GuardRecord> out;
  std::set<NodeId> seen;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);  // found: text ends with '\n'
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1) {
      if (line != guard_state_header)
        return line_error(1, "expected the header \"" + std::string(guard_state_header) + "\"");
      continue;
    }
    const auto f = fields(line);
    if (f[0] != "guard") return line_error(line_no, "expected \"guard\"");
    if (f.size() != 5) return line_error(line_no, "expected 5 fields separated by single spaces");
    GuardRecord r;
    if (!parse_node_id(f[1], r.id))
      return line_error(line_no, "node ID is not 64 lowercase hex digits");
    if (!parse_decimal(f[2], r.failures) || !parse_decimal(f[3], r.first_failure_ms) ||
        !parse_decimal(f[4], r.last_failure_ms))
      return line_error(line_no, "a count or time is not a decimal number in range");
    if (!valid(r)) return line_error(line_no, "failure count and times disagree");
    if (!seen.insert(r.id).second) return line_error(line_no, "guard listed twice");
    if (out.size() == max_guard_state_guards)
      return line_error(line_no, "more than " + std::to_string(max_guard_state_guards) + " guards");
    out.push_back(r);
  }
  return out;
}

}  // namespace nightjar
