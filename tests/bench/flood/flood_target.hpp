// What a flood needs to know about the node it floods, as a client learns it:
// the network's directory (fetched from its authorities and checked), the
// target's entry in it (address, link key, onion keys) and the link settings
// of the network (the network ID is the handshake prologue). Used by
// nightjar-flood (flood_main.cpp) before it opens its first connection.
//
// The floods are test tools: they refuse any address outside 127.0.0.0/8,
// the target's and the authorities' alike.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <string>

#include "routing/endpoint.hpp"
#include "routing/link.hpp"
#include "routing/result.hpp"
#include "swarm/directory.hpp"
#include "swarm/network_config.hpp"

namespace nightjar::flood {

struct FloodTarget {
  NetworkConfig network;
  std::shared_ptr<const Directory> directory;
  const DirectoryEntry* entry = nullptr;  // points into *directory
  LinkConfig link;                        // prologue set; quiet logger
};

// True for an IPv4 address in 127.0.0.0/8.
bool ipv4_loopback(const Endpoint& e);

// Fetches the directory from the network's authorities (running `loop`
// until it arrives or `timeout` passes) and finds the node listening at
// `address`. Errors are sentences for the operator of the tool.
Result<FloodTarget, std::string> find_target(uv_loop_t* loop, const NetworkConfig& network,
                                             const Endpoint& address,
                                             std::chrono::milliseconds timeout);

}  // namespace nightjar::flood
