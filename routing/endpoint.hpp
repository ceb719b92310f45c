// Endpoint: an IP address and port, parsed from the text operators and
// config files use ("127.0.0.1:9000", "[::1]:9000", "localhost:9000"). No
// DNS: a node's address must be a literal, so nothing blocks the event loop.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "routing/result.hpp"

namespace nightjar {

struct Endpoint {
  sockaddr_storage addr{};

  static Result<Endpoint, std::string> parse(std::string_view text);
  static Endpoint from_sockaddr(const sockaddr* sa);
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
  std::uint16_t port() const;
  bool is_loopback() const;
  std::string to_string() const;
};

}  // namespace nightjar
