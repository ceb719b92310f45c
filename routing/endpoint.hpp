// Endpoint: an IP address and port, parsed from the text operators and
// config files use ("127.0.0.1:9000", "[::1]:9000", "localhost:9000"). No
// DNS: a node's address must be a literal, so nothing blocks the event loop.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "routing/bytes.hpp"
#include "routing/result.hpp"

namespace nightjar {

struct Endpoint {
  sockaddr_storage addr{};

  static Result<Endpoint, std::string> parse(std::string_view text);
  static Endpoint from_sockaddr(const sockaddr* sa);
  // From raw address bytes as binary formats carry them: 4 bytes give IPv4,
  // 16 bytes IPv6; any other length gives an Endpoint with no address.
  static Endpoint from_ip(Bytes address, std::uint16_t port);
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
  std::uint16_t port() const;
  bool is_loopback() const;
  std::string to_string() const;
  // The 4 (IPv4) or 16 (IPv6) address bytes in network order; empty when no
  // address is set.
  Bytes ip_bytes() const;

  // Same family, address bytes and port. IPv6 flow info and scope ID are not
  // compared: no text or binary format carries them.
  friend bool operator==(const Endpoint& a, const Endpoint& b);
};

}  // namespace nightjar
