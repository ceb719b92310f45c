#include "routing/endpoint.hpp"

#include <arpa/inet.h>
#include <uv.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace nightjar {

Result<Endpoint, std::string> Endpoint::parse(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(std::string("expected [IPv6]:PORT, got '") + std::string(text) + "'");
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(std::string("expected HOST:PORT, got '") + std::string(text) + "'");
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return fail(std::string("an IPv6 address needs brackets: [ADDRESS]:PORT, got '") +
                  std::string(text) + "'");
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535)
    return fail(std::string("bad port in '") + std::string(text) + "'");
  if (host == "localhost") host = "127.0.0.1";

  Endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (uv_ip4_addr(host.c_str(), static_cast<int>(port), v4) == 0 &&
      host.find(':') == std::string::npos)
    return ep;
  ep.addr = {};
  if (uv_ip6_addr(host.c_str(), static_cast<int>(port), v6) == 0) return ep;
  return fail(std::string("'") + host + "' is not an IP address (host names are not resolved)");
}

Endpoint Endpoint::from_sockaddr(const sockaddr* sa) {
  Endpoint ep;
  if (sa->sa_family == AF_INET)
    std::memcpy(&ep.addr, sa, sizeof(sockaddr_in));
  else if (sa->sa_family == AF_INET6)
    std::memcpy(&ep.addr, sa, sizeof(sockaddr_in6));
  return ep;
}

Endpoint Endpoint::from_ip(Bytes address, std::uint16_t port) {
  Endpoint ep;
  if (address.size() == 4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    std::memcpy(&v4->sin_addr, address.data(), 4);
  } else if (address.size() == 16) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    std::memcpy(&v6->sin6_addr, address.data(), 16);
  }
  return ep;
}

Bytes Endpoint::ip_bytes() const {
  if (addr.ss_family == AF_INET)
    return {reinterpret_cast<const std::uint8_t*>(
                &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr),
            4};
  if (addr.ss_family == AF_INET6)
    return {reinterpret_cast<const std::uint8_t*>(
                &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr),
            16};
  return {};
}

bool operator==(const Endpoint& a, const Endpoint& b) {
  if (a.addr.ss_family != b.addr.ss_family || a.port() != b.port()) return false;
  const Bytes x = a.ip_bytes();
  const Bytes y = b.ip_bytes();
  return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin());
}

std::uint16_t Endpoint::port() const {
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

bool Endpoint::is_loopback() const {
  if (addr.ss_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr.s_addr) >> 24) == 127;
  if (addr.ss_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr);
  return false;
}

std::string Endpoint::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&addr), buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  if (addr.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&addr), buf, sizeof buf);
    std::string out;
    out.reserve(sizeof buf + 8);
    out.push_back('[');
    out.append(buf);
    out.append("]:");
    out.append(std::to_string(port()));
    return out;
  }
  return "(no address)";
}

}  // namespace nightjar
