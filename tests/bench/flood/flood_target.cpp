#include "tests/bench/flood/flood_target.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "client/directory_fetcher.hpp"

namespace nightjar::flood {

bool ipv4_loopback(const Endpoint& e) {
  const Bytes ip = e.ip_bytes();
  return ip.size() == 4 && ip[0] == 127;
}

Result<FloodTarget, std::string> find_target(uv_loop_t* loop, const NetworkConfig& network,
                                             const Endpoint& address,
                                             std::chrono::milliseconds timeout) {
  if (!ipv4_loopback(address))
    return fail("refusing to flood " + address.to_string() + ": only 127.0.0.0/8 is allowed");
  for (const auto& a : network.authorities)
    if (!ipv4_loopback(a.address))
      return fail("authority " + a.name + " is at " + a.address.to_string() +
                  ": only networks on 127.0.0.0/8 can be flooded");

  FloodTarget t;
  t.network = network;
  t.link.prologue.assign(network.network_id.bytes.begin(), network.network_id.bytes.end());
  t.link.log = std::make_shared<spdlog::logger>("flood", std::make_shared<spdlog::sinks::null_sink_mt>());

  std::optional<Result<std::shared_ptr<const Directory>, std::string>> got;
  {
    client::DirectoryFetcher fetcher(loop, network, t.link, t.link.log);
    fetcher.fetch(nullptr, [&](auto r) { got = std::move(r); }, timeout);
    const auto until = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(1);
    while (!got && std::chrono::steady_clock::now() < until) uv_run(loop, UV_RUN_ONCE);
    fetcher.close();
  }
  uv_run(loop, UV_RUN_NOWAIT);
  if (!got) return fail(std::string("no directory from the network's authorities in time"));
  if (!*got) return fail("no directory: " + got->error());
  t.directory = got->value();
  for (const auto& e : t.directory->entries) {
    if (!ipv4_loopback(e.node.address))
      return fail("the directory lists " + e.node.address.to_string() +
                  ": only networks on 127.0.0.0/8 can be flooded");
    if (e.node.address == address) t.entry = &e;
  }
  if (!t.entry) return fail("no node of the directory listens at " + address.to_string());
  return t;
}

}  // namespace nightjar::flood
