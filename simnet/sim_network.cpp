#include "simnet/sim_network.hpp"

#include <cmath>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <system_error>

#include "routing/key_file.hpp"

namespace nightjar::simnet {

std::size_t SimNetwork::running_count() const {
  std::size_t n = 0;
  for (const auto& node : nodes_)
    n += node.running;
  return n;
}

std::optional<std::size_t> SimNetwork::index_of(const NodeId& id) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].id == id) return i;
  return std::nullopt;
}

Result<std::pair<NodeId, X25519PublicKey>, std::string> make_node_keys(
    const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto id = load_or_create_ed25519_key(dir / "identity.key");
  if (!id) return id.failure();
  auto link = load_or_create_x25519_key(dir / "link.key");
  if (!link) return link.failure();
  return std::pair<NodeId, X25519PublicKey>{id->keys.pub, link->keys.pub};
}

std::string node_host(std::size_t index) {
  return "127." + std::to_string(1 + index % 254) + "." + std::to_string((index / 254) % 256) +
         ".1";
}

namespace {

// The kernel's range for the local ports of outgoing connections (Linux:
// /proc/sys/net/ipv4/ip_local_port_range); 32768-60999 when unreadable.
std::pair<int, int> ephemeral_ports() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(f >> low >> high) || low < 1 || high < low) return {32768, 60999};
  return {low, high};
}

// Binds `port` (0: any) on `host`; the port bound, or the error.
Result<std::uint16_t, std::string> bind_probe(const std::string& host, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    ::close(fd);
    return fail("not an IPv4 address: " + host);
  }
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return fail("cannot find a free loopback port: " + why);
  }
  ::close(fd);
  return static_cast<std::uint16_t>(ntohs(a.sin_port));
}

}  // namespace

Result<std::uint16_t, std::string> free_loopback_port(const std::string& host) {
  // A port from the kernel's ephemeral range, free a moment ago, can be taken
  // by any outgoing connection before the process that is to listen on it
  // binds it (seen: a simnet node or flood node that never came up, 1 run in
  // a few dozen). Below that range only listeners take ports, so try random
  // ports there first.
  //
  // A port handed out is free until its listener starts, which may be a
  // child process a second later: so this process never hands out the same
  // port twice (seen: two nodes of one process-mode run given the same
  // metrics port, about 1 run in 50 with ~30 ports drawn).
  static std::mutex mutex;
  static std::set<std::pair<std::string, std::uint16_t>> handed_out;
  const std::lock_guard lock(mutex);
  auto take = [&](std::uint16_t port) -> bool { return handed_out.emplace(host, port).second; };
  const auto [low, high] = ephemeral_ports();
  (void)high;
  constexpr int lowest = 10'000;
  if (low - lowest >= 1'000) {
    for (int attempt = 0; attempt < 64; ++attempt) {
      const auto port = static_cast<std::uint16_t>(
          lowest + static_cast<int>(crypto::random_uniform(static_cast<std::uint32_t>(low - lowest))));
      if (handed_out.count({host, port})) continue;
      if (auto p = bind_probe(host, port)) {
        take(*p);
        return p;
      }
    }
  }
  for (int attempt = 0; attempt < 64; ++attempt) {
    auto p = bind_probe(host, 0);
    if (!p) return p;
    if (take(*p)) return p;
  }
  return fail(std::string("cannot find a loopback port not handed out already"));
}

NetworkParams network_params(const Scenario& s) {
  NetworkParams p;
  p.directory_epoch_seconds = s.epoch_seconds;
  p.swarm = SwarmSizes{s.swarm_min, s.swarm_ideal, s.swarm_max};
  p.quorum = s.quorum;
  const DefenceSettings& d = s.defences;
  p.defences.mix_delay_ms = static_cast<std::uint32_t>(std::lround(d.mix_delay_ms));
  if (p.defences.mix_delay_ms > 0)
    p.defences.mix_delay_max_ms = static_cast<std::uint32_t>(
        std::lround(d.mix_delay_max_ms > 0 ? d.mix_delay_max_ms : 5 * d.mix_delay_ms));
  p.defences.loop_rate_millihertz = static_cast<std::uint32_t>(std::lround(d.loop_rate * 1000));
  p.defences.drop_rate_millihertz = static_cast<std::uint32_t>(std::lround(d.drop_rate * 1000));
  p.defences.poll_padding_ms = static_cast<std::uint32_t>(std::lround(d.poll_padding_ms));
  return p;
}

namespace {

using HeldByNode = std::map<NodeId, const HeldMessages*, NodeIdLess>;

HeldByNode by_node(const std::vector<NodeId>& ids, const std::vector<HeldMessages>& held) {
  HeldByNode out;
  for (std::size_t i = 0; i < ids.size() && i < held.size(); ++i)
    out[ids[i]] = &held[i];
  return out;
}

// What each member of the recipient's swarm in `d` holds for the recipient:
// null for a member that holds nothing for it or was not inspected. Empty
// when `swarms` (d's) is.
std::vector<const std::set<MessageId>*> member_holdings(const Directory& d,
                                                        const std::vector<SwarmId>& swarms,
                                                        const HeldByNode& held,
                                                        const Ed25519PublicKey& recipient) {
  std::vector<const std::set<MessageId>*> out;
  if (swarms.empty()) return out;
  for (const DirectoryEntry* e : d.members(nearest_swarm(swarms, ring_position(recipient)))) {
    const std::set<MessageId>* set = nullptr;
    if (auto it = held.find(e->node.id); it != held.end())
      if (auto r = it->second->find(recipient); r != it->second->end()) set = &r->second;
    out.push_back(set);
  }
  return out;
}

// True when every member holds every one of `msgs`.
bool on_every_member(const std::vector<const std::set<MessageId>*>& members,
                     const std::vector<MessageId>& msgs) {
  if (members.empty()) return false;
  for (const auto* set : members)
    for (const auto& id : msgs)
      if (!set || !set->count(id)) return false;
  return true;
}

}  // namespace

ReplicationFigure replication_completeness(const Directory& d, const std::vector<NodeId>& ids,
                                           const std::vector<HeldMessages>& held) {
  const HeldByNode nodes = by_node(ids, held);
  // Every recipient anyone holds messages for, with the union of its IDs.
  std::map<Ed25519PublicKey, std::set<MessageId>> all;
  for (const auto& h : held)
    for (const auto& [recipient, msgs] : h)
      all[recipient].insert(msgs.begin(), msgs.end());
  const auto swarms = d.swarms();
  ReplicationFigure fig;
  for (const auto& [recipient, msgs] : all) {
    const auto members = member_holdings(d, swarms, nodes, recipient);
    for (const auto& id : msgs) {
      ++fig.messages;
      fig.complete += on_every_member(members, {id});
    }
  }
  return fig;
}

AckedReplicationFigure acked_replication(const Directory& d, const std::vector<NodeId>& ids,
                                         const std::vector<HeldMessages>& held,
                                         const std::vector<AckedMessage>& acked) {
  const HeldByNode nodes = by_node(ids, held);
  const auto swarms = d.swarms();
  AckedReplicationFigure fig;
  for (const auto& m : acked) {
    ++fig.messages;
    fig.complete += on_every_member(member_holdings(d, swarms, nodes, m.recipient), m.stored_ids);
    for (const auto& id : m.stored_ids) {
      const bool somewhere = std::any_of(held.begin(), held.end(), [&](const HeldMessages& h) {
        auto r = h.find(m.recipient);
        return r != h.end() && r->second.count(id) > 0;
      });
      if (!somewhere) {
        ++fig.held_nowhere;
        break;
      }
    }
  }
  return fig;
}

HeldMessages held_by(MessageStore& store, std::uint64_t now_ms) {
  HeldMessages out;
  std::optional<Mailbox> after;
  // Bounded: at most 1,000 pages of mailboxes, 100,000 messages each.
  for (int page = 0; page < 1000; ++page) {
    auto recipients = store.recipients(after, 1000);
    if (recipients.empty()) break;
    for (const auto& r : recipients) {
      if (r.ns != Namespace::messages) continue;  // messages only (not public records)
      auto& set = out[r.owner];
      for (const auto& m : store.all_of(r, 100'000, now_ms))
        set.insert(m.id);
      if (set.empty()) out.erase(r.owner);
    }
    after = recipients.back();
    if (recipients.size() < 1000) break;
  }
  return out;
}

}  // namespace nightjar::simnet
