#include "swarm/network_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace nightjar {
namespace {

constexpr std::string_view blanks = " \t";
constexpr const char* authority_usage = "NAME ED25519-HEX X25519-HEX HOST:PORT";

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

std::vector<std::string_view> split_blanks(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (true) {
    pos = s.find_first_not_of(blanks, pos);
    if (pos == std::string_view::npos) return out;
    const auto end = std::min(s.find_first_of(blanks, pos), s.size());
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
}

// Each returns empty when fine, else what is wrong.
std::string authority_name_problem(std::string_view name) {
  if (name.empty() || name.size() > AuthorityInfo::max_name_bytes)
    return "an authority name must be 1 to 32 characters long";
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) return "an authority name may hold only letters, digits, '.', '_' and '-'";
  }
  return {};
}

std::string network_name_problem(std::string_view name) {
  if (name.size() > NetworkConfig::max_name_bytes) return "name is longer than 100 bytes";
  for (char ch : name) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte == 0x7f) return "name holds a control character";
    if (ch == '#') return "name may not hold '#' (it starts a comment)";
  }
  if (trim(name) != name) return "name may not start or end with a blank";
  return {};
}

std::string address_problem(const Endpoint& ep) {
  if (ep.ip_bytes().empty()) return "no IP address";
  if (ep.port() == 0) return "port 0";
  if (ep.addr.ss_family == AF_INET6 &&
      reinterpret_cast<const sockaddr_in6*>(&ep.addr)->sin6_scope_id != 0)
    return "an IPv6 scope ID (it names an interface of one machine)";
  return {};
}

// A line's text error, "SOURCE:LINE: what".
Failure<std::string> line_error(std::string_view source, std::size_t line,
                                const std::string& what) {
  return fail(std::string(source) + ":" + std::to_string(line) + ": " + what);
}

// Parses the value of an authority line into `out`, or says what is wrong.
std::string parse_authority(std::string_view value, AuthorityInfo& out) {
  const auto fields = split_blanks(value);
  if (fields.size() != 4)
    return std::string("authority line needs 4 fields: ") + authority_usage + " (got " +
           std::to_string(fields.size()) + ")";
  if (auto p = authority_name_problem(fields[0]); !p.empty()) return p;
  out.name = std::string(fields[0]);
  const std::string who = "authority '" + out.name + "': ";
  if (!from_hex(fields[1], out.id.mutable_view()))
    return who + "the Ed25519 key must be 64 hex digits";
  if (!from_hex(fields[2], out.link_key.mutable_view()))
    return who + "the X25519 link key must be 64 hex digits";
  if (fields[3].find('%') != std::string_view::npos)
    return who +
           "the address may not have an IPv6 scope ID ('%'): it names an interface of one "
           "machine";
  auto ep = Endpoint::parse(fields[3]);
  if (!ep) return who + ep.error();
  if (auto p = address_problem(*ep); !p.empty()) return who + "the address has " + p;
  out.address = *ep;
  return {};
}

std::string errno_text(const std::string& what, const std::filesystem::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

}  // namespace

std::uint32_t NetworkConfig::signatures_needed() const {
  if (threshold != 0) return threshold;
  return static_cast<std::uint32_t>(authorities.size() / 2 + 1);
}

const AuthorityInfo* NetworkConfig::find_authority(const Ed25519PublicKey& id) const {
  for (const AuthorityInfo& a : authorities)
    if (a.id == id) return &a;
  return nullptr;
}

std::string NetworkConfig::check() const {
  if (authorities.empty()) return "no authorities";
  if (authorities.size() > max_authorities) return "more than 16 authorities";
  if (threshold > authorities.size())
    return "threshold " + std::to_string(threshold) + " is more than the " +
           std::to_string(authorities.size()) + " authorities";
  if (auto p = network_name_problem(name); !p.empty()) return p;
  for (std::size_t i = 0; i < authorities.size(); ++i) {
    const AuthorityInfo& a = authorities[i];
    if (auto p = authority_name_problem(a.name); !p.empty()) return p;
    if (auto p = address_problem(a.address); !p.empty())
      return "authority '" + a.name + "': the address has " + p;
    for (std::size_t j = 0; j < i; ++j) {
      if (authorities[j].name == a.name) return "authority name '" + a.name + "' is used twice";
      if (authorities[j].id == a.id) return "authority '" + a.name + "' repeats an Ed25519 key";
    }
  }
  return {};
}

Result<NetworkConfig, std::string> NetworkConfig::parse(std::string_view text,
                                                        std::string_view source) {
  NetworkConfig c;
  std::size_t network_id_line = 0, name_line = 0, threshold_line = 0;
  std::vector<std::size_t> authority_lines;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;

    const auto eq = line.find('=');
    if (eq == std::string_view::npos || trim(line.substr(0, eq)).empty())
      return line_error(source, line_no, "expected KEY = VALUE, got '" + std::string(line) + "'");
    const std::string_view key = trim(line.substr(0, eq));
    const std::string_view value = trim(line.substr(eq + 1));
    auto once = [&](std::size_t& seen) -> std::string {
      if (seen != 0)
        return std::string(key) + " is set twice (first on line " + std::to_string(seen) + ")";
      seen = line_no;
      return {};
    };

    if (key == "network_id") {
      if (auto p = once(network_id_line); !p.empty()) return line_error(source, line_no, p);
      if (!from_hex(value, c.network_id.mutable_view()))
        return line_error(source, line_no, "network_id must be 64 hex digits");
    } else if (key == "name") {
      if (auto p = once(name_line); !p.empty()) return line_error(source, line_no, p);
      if (auto p = network_name_problem(value); !p.empty()) return line_error(source, line_no, p);
      c.name = std::string(value);
    } else if (key == "threshold") {
      if (auto p = once(threshold_line); !p.empty()) return line_error(source, line_no, p);
      std::uint32_t t = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), t);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || t < 1 ||
          t > max_authorities)
        return line_error(source, line_no,
                          "threshold must be a whole number from 1 to 16 (leave it out for a "
                          "majority of the authorities)");
      c.threshold = t;
    } else if (key == "authority") {
      if (c.authorities.size() == max_authorities)
        return line_error(source, line_no, "more than 16 authorities");
      AuthorityInfo a;
      if (auto p = parse_authority(value, a); !p.empty()) return line_error(source, line_no, p);
      for (std::size_t i = 0; i < c.authorities.size(); ++i) {
        const std::string first = " (first on line " + std::to_string(authority_lines[i]) + ")";
        if (c.authorities[i].name == a.name)
          return line_error(source, line_no,
                            "authority name '" + a.name + "' is used twice" + first);
        if (c.authorities[i].id == a.id)
          return line_error(source, line_no,
                            "authority '" + a.name + "' repeats the Ed25519 key of authority '" +
                                c.authorities[i].name + "'" + first);
      }
      c.authorities.push_back(std::move(a));
      authority_lines.push_back(line_no);
    } else {
      return line_error(source, line_no,
                        "unknown setting '" + std::string(key) +
                            "' (expected network_id, name, threshold or authority)");
    }
  }

  if (network_id_line == 0)
    return fail(std::string(source) + ": no network_id line (network_id = <64 hex digits>)");
  if (c.authorities.empty())
    return fail(std::string(source) + ": no authority line (authority = " + authority_usage + ")");
  if (c.threshold > c.authorities.size())
    return line_error(source, threshold_line,
                      "threshold " + std::to_string(c.threshold) + " is more than the " +
                          std::to_string(c.authorities.size()) + " authorities");
  return c;
}

std::string NetworkConfig::to_text() const {
  if (auto p = check(); !p.empty()) throw std::invalid_argument("NetworkConfig::to_text: " + p);
  std::string out;
  out += "# Nightjar network configuration. Every node and client of this network\n";
  out += "# loads the same file. Lines are 'key = value'; '#' starts a comment.\n\n";
  out += "# The network's ID. It is also the link prologue, so nodes of two networks\n";
  out += "# never link, and directories of another network are refused.\n";
  out += "network_id = " + network_id.hex() + "\n";
  if (!name.empty()) out += "\n# A name for people; nothing depends on it.\nname = " + name + "\n";
  out += "\n# Valid authority signatures a directory needs. Without this line: a\n";
  out += "# majority of the authorities (" + std::to_string(authorities.size() / 2 + 1) + " of " +
         std::to_string(authorities.size()) + ").\n";
  if (threshold != 0) out += "threshold = " + std::to_string(threshold) + "\n";
  out += "\n# Directory authorities, one per line:\n";
  out += "#   authority = NAME ED25519-SIGNING-KEY X25519-LINK-KEY HOST:PORT\n";
  for (const AuthorityInfo& a : authorities)
    out += "authority = " + a.name + " " + a.id.hex() + " " + a.link_key.hex() + " " +
           a.address.to_string() + "\n";
  return out;
}

Result<NetworkConfig, std::string> NetworkConfig::load(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const bool missing = errno == ENOENT;
    std::string err = errno_text("cannot read network config", path);
    if (missing) err += " (nightjar-node --authority writes one for a new network)";
    return fail(err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("network config " + path.string() + " is not a regular file");
  }
  if (st.st_size > static_cast<off_t>(max_file_bytes)) {
    ::close(fd);
    return fail("network config " + path.string() +
                " is larger than 64 KiB; is it the right file?");
  }
  std::string text(max_file_bytes + 1, '\0');
  std::size_t size = 0;
  while (size < text.size()) {
    const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = errno_text("cannot read network config", path);
      ::close(fd);
      return fail(err);
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (size > max_file_bytes)
    return fail("network config " + path.string() + " is larger than 64 KiB");
  text.resize(size);
  return parse(text, path.string());
}

Result<void, std::string> NetworkConfig::save(const std::filesystem::path& path) const {
  if (auto p = check(); !p.empty()) return fail("cannot save network config: " + p);
  const std::string text = to_text();
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  const std::filesystem::path tmp = path.string() + ".tmp";
  // O_TRUNC: a temporary file left by a crash mid-write is simply replaced.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return fail(errno_text("cannot create", tmp));
  ::fchmod(fd, 0644);  // independent of the umask
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = errno_text("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string err = errno_text("cannot sync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(err);
  }
  if (::close(fd) != 0) {
    std::string err = errno_text("cannot write", tmp);
    ::unlink(tmp.c_str());
    return fail(err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = errno_text("cannot replace network config", path);
    ::unlink(tmp.c_str());
    return fail(err);
  }
  // The rename is durable only once the directory is synced.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace nightjar
