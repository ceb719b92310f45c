// Adversary models over what a simnet run actually did (docs/ANONYMITY.md):
// pure functions of the run's records, so that each is tested on small
// hand-made traces with exactly known answers (tests/unit/test_adversary.cpp)
// and the same code computes the published figures.
//
// Inputs, all recorded by the simnet while the production code ran:
// - FrameEvent: every frame on every link, as a global passive observer sees
//   it (time, the two ends, the bytes on the wire), from simnet/trace.hpp;
// - RequestPath: every request a client sent, with the path it took (its
//   guard, the other relays, the destination), from ClientOptions::on_request;
// - SentMessage: the ground truth of each planned message (sender,
//   recipient, when it was handed to the client, which requests carried it).
//
// Times are milliseconds since the start of the workload, on the simnet's
// monotonic clock (the same clock as MessageRecord).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace nightjar::simnet::adversary {

// One end of a link: a service node (by node index) or a simulated client
// (by client index).
struct Party {
  enum class Kind : std::uint8_t { node, client };
  Kind kind = Kind::node;
  std::uint32_t index = 0;
  static Party node(std::uint32_t i) { return {Kind::node, i}; }
  static Party client(std::uint32_t i) { return {Kind::client, i}; }
  bool is_client() const { return kind == Kind::client; }
  friend bool operator==(const Party&, const Party&) = default;
};

// One frame on one link: what a global passive observer sees. `bytes` is
// the frame's length on the wire (sealed); every onion cell or reply cell
// of the network has the same length (cell_frame_bytes below).
struct FrameEvent {
  double t_ms = 0;
  Party from, to;
  std::uint32_t bytes = 0;
};

enum class RequestKind : std::uint8_t { store, retrieve, lookup, other, cover_loop, cover_drop };

// One request a client sent through a path. `guard` is the first relay,
// `last_relay` the relay before the destination; node indices.
struct RequestPath {
  double t_ms = 0;
  std::uint32_t client = 0;
  RequestKind kind = RequestKind::other;
  std::uint32_t guard = 0;
  std::uint32_t last_relay = 0;
  std::uint32_t destination = 0;
  // For a store: the planned message it carries (SentMessage::index), when
  // the simnet could tell; nullopt for everything else.
  std::optional<std::uint64_t> message;
};

// The ground truth of one planned 1:1 message.
struct SentMessage {
  std::uint64_t index = 0;
  std::uint32_t sender = 0, recipient = 0;  // client indices
  double sent_ms = 0;                       // handed to Client::send
  std::optional<double> received_ms;        // first handed to the recipient
};

// ---------------------------------------------------------------------------
// 1. Compromised nodes.
//
// The adversary holds the nodes in `adversary` (node indices). A message is
// *linked* when at least one store request that carried it (RequestPath with
// kind store and message == its index) had both its guard and its
// destination in the adversary's set: the guard sees the sender's address,
// the destination the recipient's mailbox, and the two match them up by
// timing (assumed perfect, as is usual for this model).
struct CompromisedFigures {
  std::size_t adversary_nodes = 0;
  std::uint64_t messages = 0;         // messages with at least one store request
  std::uint64_t linked_messages = 0;  // linked, as above
  std::size_t senders = 0;            // clients that sent at least one such message
  std::size_t senders_linked = 0;     // clients with at least one linked message
  // Per client with a linked message: the time of its first linked store
  // request, from the start of the workload (sorted ascending).
  std::vector<double> first_link_ms;
  // Guard exposure: clients that sent at least one request (any kind)
  // whose guard was the adversary's, and of those that sent any request.
  std::size_t clients = 0;
  std::size_t clients_exposed = 0;
  // The same over time: clients_exposed counted at the end of each of
  // `exposure_steps` equal slices of [0, horizon_ms].
  std::vector<std::size_t> exposed_by_step;

  double linked_fraction() const {
    return messages ? double(linked_messages) / double(messages) : 0.0;
  }
  double senders_linked_fraction() const {
    return senders ? double(senders_linked) / double(senders) : 0.0;
  }
  double exposure_fraction() const {
    return clients ? double(clients_exposed) / double(clients) : 0.0;
  }
};

CompromisedFigures compromised_nodes(const std::vector<RequestPath>& requests,
                                     const std::vector<SentMessage>& messages,
                                     const std::vector<bool>& adversary,  // by node index
                                     double horizon_ms, std::size_t exposure_steps = 10);

// `trials` adversaries of `count` nodes each, drawn uniformly without
// replacement from `nodes` nodes with a generator seeded by `seed`, their
// figures averaged: the fractions are means over the trials, and
// first_link_ms holds every trial's values together (sorted).
struct CompromisedSummary {
  double fraction_of_nodes = 0;  // count / nodes
  std::size_t trials = 0;
  double linked_fraction = 0;
  double senders_linked_fraction = 0;
  double exposure_fraction = 0;
  std::vector<double> first_link_ms;
  std::vector<double> exposure_by_step;  // fraction of clients, mean over trials
};
CompromisedSummary random_adversaries(const std::vector<RequestPath>& requests,
                                      const std::vector<SentMessage>& messages,
                                      std::size_t nodes, std::size_t count, std::size_t trials,
                                      std::uint64_t seed, double horizon_ms,
                                      std::size_t exposure_steps = 10);

// ---------------------------------------------------------------------------
// 2. Global passive observer: a timing-correlation attack.
//
// The observer sees only client links (client <-> node frames) and only
// frames of exactly `cell_frame_bytes` (cells: link pings and other frames
// have other lengths). For every cell a client c sends at time t, it looks
// for the first cell any *other* client d receives in (t, t + window_ms]
// that is *unsolicited*: d sent no cell in [that reception - reply_guard_ms,
// that reception). (Answers to d's own requests follow them within a round
// trip; a push on a parked long poll does not.) If there is one, the
// observer claims "c sent to d at t". With no candidate, no claim.
//
// A claim (c, d, t) is correct when some message from c to d was handed to
// the client in [t - carry_ms, t] (sealing, a prekey lookup and retries come
// between Client::send and the cell carrying the message).
// precision = correct claims / claims; recall = messages (received by their
// recipient) with at least one correct claim for them / messages received.
struct TimingAttackParams {
  std::uint32_t cell_frame_bytes = 0;
  double window_ms = 1000;
  double reply_guard_ms = 300;
  double carry_ms = 2000;
};
struct TimingAttackFigures {
  std::uint64_t client_cells_sent = 0;  // cells clients sent (what claims are made for)
  std::uint64_t claims = 0;
  std::uint64_t correct_claims = 0;
  std::uint64_t messages = 0;  // received messages the recall is over
  std::uint64_t messages_linked = 0;
  double precision() const { return claims ? double(correct_claims) / double(claims) : 0.0; }
  double recall() const { return messages ? double(messages_linked) / double(messages) : 0.0; }
};
TimingAttackFigures timing_attack(const std::vector<FrameEvent>& frames,
                                  const std::vector<SentMessage>& messages,
                                  const TimingAttackParams& params);

// ---------------------------------------------------------------------------
// 3. The recipient's swarm view.
//
// Sealed sender hides the sender from the swarm; what a swarm member sees of
// where a message came from is the relay that handed it the store (the last
// relay of the store's path). For each recipient with at least one received
// message, over the store requests that carried its messages (one per
// message: the last store request of the message, the one that succeeded):
// - seen_bits: the Shannon entropy of the last relays, as the swarm sees them;
// - sender_bits: the Shannon entropy of the true senders (what the swarm
//   would learn if the last relay were the sender);
// - max_bits: log2 of the number of messages (no distribution over that many
//   observations has more).
// Reported as means over recipients, weighted by their messages. seen_bits
// close to max_bits: the relays the swarm sees are spread as widely as the
// number of messages allows, and say nothing of how many senders there are.
struct SwarmViewFigures {
  std::size_t recipients = 0;
  std::uint64_t messages = 0;
  double seen_bits = 0;
  double sender_bits = 0;
  double max_bits = 0;
};
SwarmViewFigures swarm_view(const std::vector<RequestPath>& requests,
                            const std::vector<SentMessage>& messages);

// Shannon entropy in bits of a distribution given as counts (zeros ignored).
double entropy_bits(const std::vector<std::uint64_t>& counts);

}  // namespace nightjar::simnet::adversary
