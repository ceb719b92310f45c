// Adversary models over a simnet run's records (see adversary.hpp).
//
// Choices the header leaves open, settled here:
//
// Compromised nodes
// - The messages are those in `messages`; a store request whose `message`
//   names no SentMessage::index is ignored. A message's sender is its
//   SentMessage::sender (the ground truth), and indices are taken as unique.
// - first_link_ms holds, per sender with a linked message, the time of the
//   earliest store request that linked one of its messages (a store request
//   of a linked message that did not itself go through adversary guard and
//   destination does not count).
// - A client is a RequestPath::client value that appears in `requests`; a
//   client of which no request was recorded is not counted in `clients`.
//   Requests of every kind count, cover traffic included.
// - exposed_by_step[k] counts the clients whose first request through an
//   adversary guard was at or before the end of slice k,
//   (k + 1) * horizon_ms / exposure_steps; the last slice ends exactly at
//   horizon_ms. A client first exposed after horizon_ms counts in
//   clients_exposed but in no step.
// - Node indices at or past adversary.size() are not the adversary's.
//
// Random adversaries
// - Each trial draws `count` distinct nodes by a partial Fisher-Yates
//   shuffle of 0..nodes-1 with std::mt19937_64 seeded once with `seed`; the
//   bounded draws use rejection sampling on the generator's raw output
//   rather than std::uniform_int_distribution, whose algorithm differs
//   between standard libraries, so that a seed gives the same figures
//   everywhere. count > nodes is an error (std::invalid_argument).
// - exposure_by_step[k] is the mean over trials of exposed_by_step[k] /
//   clients (0 for a trial with no clients).
//
// Timing attack
// - Only client <-> node frames are client links: node <-> node frames, and
//   client <-> client frames should there be any, are ignored.
// - All interval tests are written as differences against the parameter
//   (r - t <= window_ms, r - s <= reply_guard_ms, t - s <= carry_ms), the
//   same way in every place, so that the claims and the recall agree even at
//   the floating-point edges.
// - A claim is correct when a message from c to d was handed over in
//   [t - carry_ms, t], whether or not it was received; recall is over the
//   messages with received_ms set. Equivalently, a received message is
//   linked when some correct claim (c = its sender, d = its recipient) has
//   t in [sent_ms, sent_ms + carry_ms].
//
// Swarm view
// - A message counts when it was received (received_ms set) and at least
//   one store request carried it; "the last store request" is the one with
//   the greatest t_ms (on a tie, the one recorded later in `requests`). A
//   recipient counts when it has at least one counted message, and its
//   weight is the number of its counted messages.
#include "simnet/adversary.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace nightjar::simnet::adversary {
namespace {

// ---------------------------------------------------------------------------
// Compromised nodes.

// What the compromised-node figures need of the records, independent of who
// the adversary is, so that random_adversaries builds it once for all trials.
struct StoreHop {
  double t_ms = 0;
  std::uint32_t guard = 0, destination = 0;
};
struct CarriedMessage {
  std::uint32_t sender = 0;
  std::vector<StoreHop> stores;  // every store request that carried it
};
struct ClientRequests {
  std::uint32_t client = 0;
  std::vector<std::pair<double, std::uint32_t>> guards;  // (t_ms, guard) of every request
};
struct Prepared {
  std::vector<CarriedMessage> carried;  // messages with at least one store request
  std::vector<ClientRequests> clients;  // clients with at least one request
};

Prepared prepare(const std::vector<RequestPath>& requests,
                 const std::vector<SentMessage>& messages) {
  std::unordered_map<std::uint64_t, std::size_t> position;  // index -> in messages
  position.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) position.emplace(messages[i].index, i);

  std::vector<std::vector<StoreHop>> stores(messages.size());
  std::map<std::uint32_t, std::vector<std::pair<double, std::uint32_t>>> by_client;
  for (const auto& r : requests) {
    by_client[r.client].emplace_back(r.t_ms, r.guard);
    if (r.kind != RequestKind::store || !r.message) continue;
    const auto it = position.find(*r.message);
    if (it == position.end()) continue;
    stores[it->second].push_back({r.t_ms, r.guard, r.destination});
  }

  Prepared p;
  for (std::size_t i = 0; i < messages.size(); ++i)
    if (!stores[i].empty()) p.carried.push_back({messages[i].sender, std::move(stores[i])});
  for (auto& [client, guards] : by_client) p.clients.push_back({client, std::move(guards)});
  return p;
}

bool held(const std::vector<bool>& adversary, std::uint32_t node) {
  return node < adversary.size() && adversary[node];
}

// The end of exposure slice k of `steps` over [0, horizon_ms].
double slice_end(double horizon_ms, std::size_t k, std::size_t steps) {
  return k + 1 == steps ? horizon_ms : horizon_ms * double(k + 1) / double(steps);
}

CompromisedFigures evaluate(const Prepared& p, const std::vector<bool>& adversary,
                            double horizon_ms, std::size_t exposure_steps) {
  CompromisedFigures f;
  f.adversary_nodes = std::size_t(std::count(adversary.begin(), adversary.end(), true));

  // Per sender: whether it has a linked message, and its first linked store.
  struct Sender {
    bool linked = false;
    double first_link_ms = std::numeric_limits<double>::infinity();
  };
  std::map<std::uint32_t, Sender> senders;
  f.messages = p.carried.size();
  for (const auto& m : p.carried) {
    auto& s = senders[m.sender];
    bool linked = false;
    for (const auto& hop : m.stores) {
      if (!held(adversary, hop.guard) || !held(adversary, hop.destination)) continue;
      linked = true;
      s.first_link_ms = std::min(s.first_link_ms, hop.t_ms);
    }
    if (linked) {
      ++f.linked_messages;
      s.linked = true;
    }
  }
  f.senders = senders.size();
  for (const auto& [client, s] : senders) {
    if (!s.linked) continue;
    ++f.senders_linked;
    f.first_link_ms.push_back(s.first_link_ms);
  }
  std::sort(f.first_link_ms.begin(), f.first_link_ms.end());

  // Guard exposure: each client's first request through an adversary guard.
  f.clients = p.clients.size();
  std::vector<double> first_exposure;
  for (const auto& c : p.clients) {
    double first = std::numeric_limits<double>::infinity();
    for (const auto& [t, guard] : c.guards)
      if (held(adversary, guard)) first = std::min(first, t);
    if (first != std::numeric_limits<double>::infinity()) first_exposure.push_back(first);
  }
  f.clients_exposed = first_exposure.size();
  std::sort(first_exposure.begin(), first_exposure.end());
  f.exposed_by_step.resize(exposure_steps);
  for (std::size_t k = 0; k < exposure_steps; ++k) {
    const double end = slice_end(horizon_ms, k, exposure_steps);
    f.exposed_by_step[k] = std::size_t(
        std::upper_bound(first_exposure.begin(), first_exposure.end(), end) -
        first_exposure.begin());
  }
  return f;
}

// A uniform draw from [0, bound) (bound > 0) by rejection: the raw outputs
// below 2^64 mod bound are dropped, so that the rest split evenly.
std::uint64_t draw_below(std::mt19937_64& gen, std::uint64_t bound) {
  const std::uint64_t reject_below = (0 - bound) % bound;
  for (;;) {
    const std::uint64_t x = gen();
    if (x >= reject_below) return x % bound;
  }
}

// ---------------------------------------------------------------------------
// Timing attack.

struct ClientEvent {
  double t_ms = 0;
  std::uint32_t client = 0;
};

std::uint64_t pair_key(std::uint32_t c, std::uint32_t d) {
  return (std::uint64_t(c) << 32) | d;
}

}  // namespace

CompromisedFigures compromised_nodes(const std::vector<RequestPath>& requests,
                                     const std::vector<SentMessage>& messages,
                                     const std::vector<bool>& adversary, double horizon_ms,
                                     std::size_t exposure_steps) {
  return evaluate(prepare(requests, messages), adversary, horizon_ms, exposure_steps);
}

CompromisedSummary random_adversaries(const std::vector<RequestPath>& requests,
                                      const std::vector<SentMessage>& messages,
                                      std::size_t nodes, std::size_t count, std::size_t trials,
                                      std::uint64_t seed, double horizon_ms,
                                      std::size_t exposure_steps) {
  if (count > nodes)
    throw std::invalid_argument("random_adversaries: count is larger than the number of nodes");
  CompromisedSummary s;
  s.fraction_of_nodes = nodes ? double(count) / double(nodes) : 0.0;
  s.trials = trials;
  s.exposure_by_step.assign(exposure_steps, 0.0);
  if (trials == 0) return s;

  const Prepared p = prepare(requests, messages);
  std::mt19937_64 gen(seed);
  std::vector<std::uint32_t> order(nodes);
  std::vector<bool> adversary(nodes);
  for (std::size_t trial = 0; trial < trials; ++trial) {
    // Partial Fisher-Yates from the identity: the first `count` entries are
    // a uniform choice of distinct nodes.
    std::iota(order.begin(), order.end(), std::uint32_t{0});
    std::fill(adversary.begin(), adversary.end(), false);
    for (std::size_t i = 0; i < count; ++i) {
      const auto j = i + std::size_t(draw_below(gen, nodes - i));
      std::swap(order[i], order[j]);
      adversary[order[i]] = true;
    }

    const CompromisedFigures f = evaluate(p, adversary, horizon_ms, exposure_steps);
    s.linked_fraction += f.linked_fraction();
    s.senders_linked_fraction += f.senders_linked_fraction();
    s.exposure_fraction += f.exposure_fraction();
    s.first_link_ms.insert(s.first_link_ms.end(), f.first_link_ms.begin(),
                           f.first_link_ms.end());
    if (f.clients)
      for (std::size_t k = 0; k < exposure_steps; ++k)
        s.exposure_by_step[k] += double(f.exposed_by_step[k]) / double(f.clients);
  }
  const double n = double(trials);
  s.linked_fraction /= n;
  s.senders_linked_fraction /= n;
  s.exposure_fraction /= n;
  for (auto& e : s.exposure_by_step) e /= n;
  std::sort(s.first_link_ms.begin(), s.first_link_ms.end());
  return s;
}

TimingAttackFigures timing_attack(const std::vector<FrameEvent>& frames,
                                  const std::vector<SentMessage>& messages,
                                  const TimingAttackParams& params) {
  TimingAttackFigures f;
  const auto by_time = [](const ClientEvent& a, const ClientEvent& b) { return a.t_ms < b.t_ms; };

  // The cells on client links, as sends (client -> node) and receptions
  // (node -> client), each sorted by time.
  std::vector<ClientEvent> sends, receptions;
  for (const auto& fr : frames) {
    if (fr.bytes != params.cell_frame_bytes || fr.from.is_client() == fr.to.is_client()) continue;
    if (fr.from.is_client())
      sends.push_back({fr.t_ms, fr.from.index});
    else
      receptions.push_back({fr.t_ms, fr.to.index});
  }
  std::stable_sort(sends.begin(), sends.end(), by_time);
  std::stable_sort(receptions.begin(), receptions.end(), by_time);
  f.client_cells_sent = sends.size();

  // Each client's send times, ascending (sends is already in time order).
  std::unordered_map<std::uint32_t, std::vector<double>> sends_of;
  for (const auto& e : sends) sends_of[e.client].push_back(e.t_ms);

  // The unsolicited receptions: d's latest send before r (strictly) is more
  // than reply_guard_ms before it, or there is none.
  std::vector<ClientEvent> unsolicited;
  for (const auto& e : receptions) {
    const auto it = sends_of.find(e.client);
    if (it != sends_of.end()) {
      const auto& times = it->second;
      const auto after = std::lower_bound(times.begin(), times.end(), e.t_ms);
      if (after != times.begin() && e.t_ms - *std::prev(after) <= params.reply_guard_ms) continue;
    }
    unsolicited.push_back(e);
  }
  // next_other[i]: the first j >= i whose client differs from unsolicited[i]'s
  // (or the end), so that skipping the sender's own receptions is one step.
  std::vector<std::size_t> next_other(unsolicited.size());
  for (std::size_t i = unsolicited.size(); i-- > 0;) {
    if (i + 1 == unsolicited.size())
      next_other[i] = unsolicited.size();
    else if (unsolicited[i + 1].client != unsolicited[i].client)
      next_other[i] = i + 1;
    else
      next_other[i] = next_other[i + 1];
  }

  // The hand-over times of the messages, per (sender, recipient), ascending.
  std::unordered_map<std::uint64_t, std::vector<double>> sent_of;
  for (const auto& m : messages) sent_of[pair_key(m.sender, m.recipient)].push_back(m.sent_ms);
  for (auto& [key, times] : sent_of) std::sort(times.begin(), times.end());

  // One claim per send at most: the first unsolicited reception at another
  // client after it, if within the window. A claim at t is correct when the
  // latest hand-over from c to d at or before t is at most carry_ms before.
  // Claim times per pair come out ascending since sends are in time order.
  std::unordered_map<std::uint64_t, std::vector<double>> correct_claims_of;
  for (const auto& e : sends) {
    auto i = std::size_t(std::upper_bound(unsolicited.begin(), unsolicited.end(), e, by_time) -
                         unsolicited.begin());
    if (i < unsolicited.size() && unsolicited[i].client == e.client) i = next_other[i];
    if (i == unsolicited.size() || unsolicited[i].t_ms - e.t_ms > params.window_ms) continue;
    ++f.claims;
    const std::uint64_t key = pair_key(e.client, unsolicited[i].client);
    const auto it = sent_of.find(key);
    if (it == sent_of.end()) continue;
    const auto& times = it->second;
    const auto after = std::upper_bound(times.begin(), times.end(), e.t_ms);
    if (after == times.begin() || e.t_ms - *std::prev(after) > params.carry_ms) continue;
    ++f.correct_claims;
    correct_claims_of[key].push_back(e.t_ms);
  }

  // Recall: a received message is linked when the earliest correct claim for
  // its pair at or after its hand-over is at most carry_ms after it.
  for (const auto& m : messages) {
    if (!m.received_ms) continue;
    ++f.messages;
    const auto it = correct_claims_of.find(pair_key(m.sender, m.recipient));
    if (it == correct_claims_of.end()) continue;
    const auto& times = it->second;
    const auto at = std::lower_bound(times.begin(), times.end(), m.sent_ms);
    if (at != times.end() && *at - m.sent_ms <= params.carry_ms) ++f.messages_linked;
  }
  return f;
}

SwarmViewFigures swarm_view(const std::vector<RequestPath>& requests,
                            const std::vector<SentMessage>& messages) {
  // The last store request of each message, by index.
  std::unordered_map<std::uint64_t, const RequestPath*> last_store;
  for (const auto& r : requests) {
    if (r.kind != RequestKind::store || !r.message) continue;
    auto& last = last_store[*r.message];
    if (!last || r.t_ms >= last->t_ms) last = &r;
  }

  // Per recipient: how many of its counted messages each last relay and
  // each sender account for.
  struct View {
    std::map<std::uint32_t, std::uint64_t> relays, senders;
    std::uint64_t messages = 0;
  };
  std::map<std::uint32_t, View> views;
  for (const auto& m : messages) {
    if (!m.received_ms) continue;
    const auto it = last_store.find(m.index);
    if (it == last_store.end()) continue;
    auto& v = views[m.recipient];
    ++v.relays[it->second->last_relay];
    ++v.senders[m.sender];
    ++v.messages;
  }

  SwarmViewFigures f;
  const auto counts = [](const std::map<std::uint32_t, std::uint64_t>& by) {
    std::vector<std::uint64_t> c;
    c.reserve(by.size());
    for (const auto& [key, n] : by) c.push_back(n);
    return c;
  };
  for (const auto& [recipient, v] : views) {
    const double w = double(v.messages);
    ++f.recipients;
    f.messages += v.messages;
    f.seen_bits += w * entropy_bits(counts(v.relays));
    f.sender_bits += w * entropy_bits(counts(v.senders));
    f.max_bits += w * std::log2(w);
  }
  if (f.messages) {
    const double total = double(f.messages);
    f.seen_bits /= total;
    f.sender_bits /= total;
    f.max_bits /= total;
  }
  return f;
}

double entropy_bits(const std::vector<std::uint64_t>& counts) {
  const std::uint64_t total = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  if (total == 0) return 0.0;
  double bits = 0;
  for (const auto n : counts) {
    if (n == 0) continue;
    const double p = double(n) / double(total);
    bits -= p * std::log2(p);
  }
  return bits;
}

}  // namespace nightjar::simnet::adversary
