// Adversary models (simnet/adversary.hpp) on small hand-made traces whose
// answers are known exactly: compromised nodes and guard exposure, random
// adversaries, the timing-correlation attack and the swarm view's entropy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "simnet/adversary.hpp"

using namespace nightjar::simnet::adversary;

namespace {

RequestPath request(double t_ms, std::uint32_t client, RequestKind kind, std::uint32_t guard,
                    std::uint32_t destination, std::optional<std::uint64_t> message = std::nullopt,
                    std::uint32_t last_relay = 0) {
  RequestPath r;
  r.t_ms = t_ms;
  r.client = client;
  r.kind = kind;
  r.guard = guard;
  r.last_relay = last_relay;
  r.destination = destination;
  r.message = message;
  return r;
}

SentMessage message(std::uint64_t index, std::uint32_t sender, std::uint32_t recipient,
                    double sent_ms, std::optional<double> received_ms = std::nullopt) {
  SentMessage m;
  m.index = index;
  m.sender = sender;
  m.recipient = recipient;
  m.sent_ms = sent_ms;
  m.received_ms = received_ms;
  return m;
}

std::vector<bool> holding(std::size_t nodes, std::vector<std::uint32_t> held) {
  std::vector<bool> adversary(nodes, false);
  for (const auto n : held) adversary[n] = true;
  return adversary;
}

// Four clients (0..3) and five nodes (0..4); the requests are out of order.
// With the adversary holding nodes 0 and 1:
// - message 0 (client 0): guard 0, destination 1: linked at 100;
// - message 1 (client 1): guard 0, destination 3: the guard only;
// - message 4 (client 1): guard 3, destination 0: the destination only;
// - message 2 (client 2): guard 2 at 300 (not linked), retried through
//   guard 1, destination 0 at 400: linked by the retry;
// - message 5 (client 0): linked at 600, after client 0's first link;
// - message 3 (client 0): never stored, so not counted;
// - a store for message 99, which is not planned, is ignored.
// Guards: client 1 meets node 1 at 50, client 0 node 0 at 100, client 2
// node 1 at 400; client 3 only ever uses node 4.
std::vector<RequestPath> trace_requests() {
  return {
      request(600, 0, RequestKind::store, 1, 0, 5),
      request(400, 2, RequestKind::store, 1, 0, 2),
      request(50, 1, RequestKind::retrieve, 1, 2),
      request(100, 0, RequestKind::store, 0, 1, 0),
      request(700, 0, RequestKind::store, 2, 3, 99),
      request(200, 1, RequestKind::store, 0, 3, 1),
      request(250, 1, RequestKind::store, 3, 0, 4),
      request(300, 2, RequestKind::store, 2, 1, 2),
      request(500, 3, RequestKind::lookup, 4, 2),
  };
}

std::vector<SentMessage> trace_messages() {
  return {message(0, 0, 1, 90),  message(1, 1, 2, 190), message(2, 2, 0, 290),
          message(3, 0, 2, 300), message(4, 1, 0, 240), message(5, 0, 1, 590)};
}

}  // namespace

// ---------------------------------------------------------------------------
// Compromised nodes.

TEST_CASE("a message is linked only when its store had adversary guard and destination",
          "[adversary]") {
  const auto f =
      compromised_nodes(trace_requests(), trace_messages(), holding(5, {0, 1}), 1000, 10);
  CHECK(f.adversary_nodes == 2);
  CHECK(f.messages == 5);
  CHECK(f.linked_messages == 3);
  CHECK(f.linked_fraction() == Approx(3.0 / 5.0));
  CHECK(f.senders == 3);
  CHECK(f.senders_linked == 2);
  CHECK(f.senders_linked_fraction() == Approx(2.0 / 3.0));
  // Client 0 first at 100 (not 600), client 2 at its retry (not 300).
  CHECK(f.first_link_ms == std::vector<double>{100, 400});
}

TEST_CASE("a retry through the adversary links a message its first store did not",
          "[adversary]") {
  const std::vector<SentMessage> messages{message(7, 0, 1, 0)};
  const std::vector<RequestPath> first_only{request(10, 0, RequestKind::store, 2, 1, 7)};
  std::vector<RequestPath> with_retry = first_only;
  with_retry.push_back(request(20, 0, RequestKind::store, 0, 1, 7));
  const auto adversary = holding(5, {0, 1});

  const auto before = compromised_nodes(first_only, messages, adversary, 100, 1);
  CHECK(before.messages == 1);
  CHECK(before.linked_messages == 0);
  CHECK(before.first_link_ms.empty());

  const auto after = compromised_nodes(with_retry, messages, adversary, 100, 1);
  CHECK(after.messages == 1);
  CHECK(after.linked_messages == 1);
  CHECK(after.first_link_ms == std::vector<double>{20});
}

TEST_CASE("guard exposure counts clients and the steps end at their slice ends",
          "[adversary]") {
  const auto f =
      compromised_nodes(trace_requests(), trace_messages(), holding(5, {0, 1}), 1000, 10);
  CHECK(f.clients == 4);
  CHECK(f.clients_exposed == 3);
  CHECK(f.exposure_fraction() == Approx(0.75));
  // Exposed at 50 and 100 (the end of the first slice counts), then 400.
  CHECK(f.exposed_by_step == std::vector<std::size_t>{2, 2, 2, 3, 3, 3, 3, 3, 3, 3});

  // Over a shorter horizon, the exposure at 400 falls in no step but still
  // counts in clients_exposed.
  const auto short_run =
      compromised_nodes(trace_requests(), trace_messages(), holding(5, {0, 1}), 300, 3);
  CHECK(short_run.clients_exposed == 3);
  CHECK(short_run.exposed_by_step == std::vector<std::size_t>{2, 2, 2});
}

TEST_CASE("an adversary holding no node links nothing and exposes no one", "[adversary]") {
  const auto f = compromised_nodes(trace_requests(), trace_messages(), holding(5, {}), 1000, 4);
  CHECK(f.adversary_nodes == 0);
  CHECK(f.messages == 5);
  CHECK(f.linked_messages == 0);
  CHECK(f.senders == 3);
  CHECK(f.senders_linked == 0);
  CHECK(f.clients == 4);
  CHECK(f.clients_exposed == 0);
  CHECK(f.exposed_by_step == std::vector<std::size_t>{0, 0, 0, 0});
}

TEST_CASE("compromised nodes over empty records gives zero figures", "[adversary]") {
  const auto f = compromised_nodes({}, {}, holding(3, {0}), 1000, 5);
  CHECK(f.adversary_nodes == 1);
  CHECK(f.messages == 0);
  CHECK(f.linked_messages == 0);
  CHECK(f.senders == 0);
  CHECK(f.clients == 0);
  CHECK(f.first_link_ms.empty());
  CHECK(f.exposed_by_step == std::vector<std::size_t>{0, 0, 0, 0, 0});
  CHECK(f.linked_fraction() == 0.0);
  CHECK(f.senders_linked_fraction() == 0.0);
  CHECK(f.exposure_fraction() == 0.0);
}

// ---------------------------------------------------------------------------
// Random adversaries.

TEST_CASE("a random adversary holding every node links every message", "[adversary]") {
  const auto s = random_adversaries(trace_requests(), trace_messages(), 5, 5, 7, 42, 1000, 10);
  CHECK(s.fraction_of_nodes == Approx(1.0));
  CHECK(s.trials == 7);
  CHECK(s.linked_fraction == Approx(1.0));
  CHECK(s.senders_linked_fraction == Approx(1.0));
  CHECK(s.exposure_fraction == Approx(1.0));
  // Each trial: client 0 at 100, client 1 at 200, client 2 at 300.
  std::vector<double> expected;
  for (const double t : {100.0, 200.0, 300.0}) expected.insert(expected.end(), 7, t);
  CHECK(s.first_link_ms == expected);
  // Exposed at 50, 100, 300 and 500, of four clients.
  const std::vector<double> by_step{0.5, 0.5, 0.75, 0.75, 1, 1, 1, 1, 1, 1};
  REQUIRE(s.exposure_by_step.size() == by_step.size());
  for (std::size_t k = 0; k < by_step.size(); ++k)
    CHECK(s.exposure_by_step[k] == Approx(by_step[k]));
}

TEST_CASE("a random adversary of no node links nothing", "[adversary]") {
  const auto s = random_adversaries(trace_requests(), trace_messages(), 5, 0, 7, 42, 1000, 10);
  CHECK(s.fraction_of_nodes == 0.0);
  CHECK(s.trials == 7);
  CHECK(s.linked_fraction == 0.0);
  CHECK(s.senders_linked_fraction == 0.0);
  CHECK(s.exposure_fraction == 0.0);
  CHECK(s.first_link_ms.empty());
  CHECK(s.exposure_by_step == std::vector<double>(10, 0.0));
}

TEST_CASE("random adversaries are the same for the same seed", "[adversary]") {
  const auto a = random_adversaries(trace_requests(), trace_messages(), 5, 2, 50, 1234, 1000, 10);
  const auto b = random_adversaries(trace_requests(), trace_messages(), 5, 2, 50, 1234, 1000, 10);
  CHECK(a.fraction_of_nodes == Approx(0.4));
  CHECK(a.trials == 50);
  CHECK(a.linked_fraction == b.linked_fraction);
  CHECK(a.senders_linked_fraction == b.senders_linked_fraction);
  CHECK(a.exposure_fraction == b.exposure_fraction);
  CHECK(a.first_link_ms == b.first_link_ms);
  CHECK(a.exposure_by_step == b.exposure_by_step);
  CHECK(std::is_sorted(a.first_link_ms.begin(), a.first_link_ms.end()));
  // Two nodes of five per trial, not all of them, over 50 trials.
  CHECK(a.linked_fraction > 0.0);
  CHECK(a.linked_fraction < 1.0);
}

TEST_CASE("each random adversary holds exactly count distinct nodes", "[adversary]") {
  // Client i only ever uses guard i: each trial exposes exactly as many of
  // the five clients as the adversary holds distinct nodes.
  std::vector<RequestPath> requests;
  for (std::uint32_t i = 0; i < 5; ++i) requests.push_back(request(0, i, RequestKind::other, i, 0));
  const auto s = random_adversaries(requests, {}, 5, 2, 200, 9, 100, 2);
  CHECK(s.exposure_fraction == Approx(0.4));
  CHECK(s.exposure_by_step[0] == Approx(0.4));
  CHECK(s.exposure_by_step[1] == Approx(0.4));
  CHECK(s.linked_fraction == 0.0);
}

TEST_CASE("random adversaries choose each node with the same chance", "[adversary]") {
  // One client through node 0: exposed in about 2 of 5 trials.
  const std::vector<RequestPath> requests{request(0, 0, RequestKind::other, 0, 1)};
  const auto s = random_adversaries(requests, {}, 5, 2, 10000, 77, 100, 1);
  CHECK(s.exposure_fraction == Approx(0.4).margin(0.03));
}

TEST_CASE("random adversaries reject more nodes than there are", "[adversary]") {
  CHECK_THROWS_AS(random_adversaries({}, {}, 3, 4, 1, 0, 100), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// Timing attack.

namespace {

constexpr std::uint32_t cell = 512;

FrameEvent client_sends(double t_ms, std::uint32_t client, std::uint32_t bytes = cell) {
  return {t_ms, Party::client(client), Party::node(0), bytes};
}
FrameEvent client_receives(double t_ms, std::uint32_t client, std::uint32_t bytes = cell) {
  return {t_ms, Party::node(0), Party::client(client), bytes};
}

TimingAttackParams params() {
  TimingAttackParams p;
  p.cell_frame_bytes = cell;
  p.window_ms = 1000;
  p.reply_guard_ms = 300;
  p.carry_ms = 2000;
  return p;
}

}  // namespace

TEST_CASE("a push to the true recipient in the window is a correct claim", "[adversary]") {
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 1900)};
  const std::vector<FrameEvent> frames{client_receives(1800, 1), client_sends(1500, 0)};
  const auto f = timing_attack(frames, messages, params());
  CHECK(f.client_cells_sent == 1);
  CHECK(f.claims == 1);
  CHECK(f.correct_claims == 1);
  CHECK(f.messages == 1);
  CHECK(f.messages_linked == 1);
  CHECK(f.precision() == Approx(1.0));
  CHECK(f.recall() == Approx(1.0));
}

TEST_CASE("a reception that follows the receiver's own send within reply_guard is no candidate",
          "[adversary]") {
  // Client 2 sends at 1250 and hears back at 1520; client 0 sends at 1500
  // and client 1 gets the push at 1800. (Client 2's send claims nothing: its
  // own reception is skipped and 1800 is past its window of 500.)
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 1900)};
  const std::vector<FrameEvent> frames{client_sends(1250, 2), client_sends(1500, 0),
                                       client_receives(1520, 2), client_receives(1800, 1)};
  auto p = params();
  p.window_ms = 500;

  const auto guarded = timing_attack(frames, messages, p);
  CHECK(guarded.client_cells_sent == 2);
  CHECK(guarded.claims == 1);
  CHECK(guarded.correct_claims == 1);
  CHECK(guarded.messages_linked == 1);

  // A guard of exactly the 270 ms round trip still covers it.
  p.reply_guard_ms = 270;
  const auto edge = timing_attack(frames, messages, p);
  CHECK(edge.claims == 1);
  CHECK(edge.correct_claims == 1);

  // With a guard shorter than the 270 ms round trip, the answer at 1520
  // looks unsolicited and draws the claim away from the recipient.
  p.reply_guard_ms = 200;
  const auto unguarded = timing_attack(frames, messages, p);
  CHECK(unguarded.claims == 1);
  CHECK(unguarded.correct_claims == 0);
  CHECK(unguarded.messages_linked == 0);
  CHECK(unguarded.precision() == 0.0);
  CHECK(unguarded.recall() == 0.0);
}

TEST_CASE("a send at the very time of a reception guards it", "[adversary]") {
  // Client 1 sends at 1800 and receives at 1800: the guard interval
  // [r - reply_guard, r) leaves that send out, so the push still counts.
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 1900)};
  const std::vector<FrameEvent> frames{client_sends(1500, 0), client_sends(1800, 1),
                                       client_receives(1800, 1)};
  const auto f = timing_attack(frames, messages, params());
  CHECK(f.client_cells_sent == 2);
  CHECK(f.claims == 1);
  CHECK(f.correct_claims == 1);
  CHECK(f.messages_linked == 1);
}

TEST_CASE("the sender's own receptions are skipped when looking for the recipient",
          "[adversary]") {
  // Client 0's unsolicited receptions at 1400 and 1450 come before client
  // 1's at 1600; the claim goes to client 1.
  const std::vector<SentMessage> messages{message(0, 0, 1, 900, 1700)};
  const std::vector<FrameEvent> frames{client_receives(1600, 1), client_receives(1450, 0),
                                       client_receives(1400, 0), client_sends(1000, 0)};
  const auto f = timing_attack(frames, messages, params());
  CHECK(f.claims == 1);
  CHECK(f.correct_claims == 1);
  CHECK(f.messages_linked == 1);
}

TEST_CASE("a decoy reception at a wrong client that comes first gives a wrong claim",
          "[adversary]") {
  // Message 0 (0 -> 1): the decoy at client 2 comes first, a wrong claim.
  // Message 1 (1 -> 0): pushed to client 0 with nothing in between, correct.
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 1800),
                                          message(1, 1, 0, 5000, 5300)};
  const std::vector<FrameEvent> frames{client_sends(1500, 0), client_receives(1600, 2),
                                       client_receives(1700, 1), client_sends(5100, 1),
                                       client_receives(5200, 0)};
  const auto f = timing_attack(frames, messages, params());
  CHECK(f.client_cells_sent == 2);
  CHECK(f.claims == 2);
  CHECK(f.correct_claims == 1);
  CHECK(f.precision() == Approx(0.5));
  CHECK(f.messages == 2);
  CHECK(f.messages_linked == 1);
  CHECK(f.recall() == Approx(0.5));
}

TEST_CASE("frames of another size are ignored by the timing attack", "[adversary]") {
  // A 64-byte frame to client 2 would be a decoy, and a 64-byte send by
  // client 0 would be a cell sent, were they cells.
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 1900)};
  const std::vector<FrameEvent> frames{client_sends(1500, 0), client_sends(1510, 0, 64),
                                       client_receives(1600, 2, 64), client_receives(1700, 1)};
  const auto f = timing_attack(frames, messages, params());
  CHECK(f.client_cells_sent == 1);
  CHECK(f.claims == 1);
  CHECK(f.correct_claims == 1);
  CHECK(f.messages_linked == 1);
}

TEST_CASE("node-to-node frames are ignored by the timing attack", "[adversary]") {
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 1900)};
  const std::vector<FrameEvent> frames{
      client_sends(1500, 0), {1550, Party::node(0), Party::node(1), cell},
      {1600, Party::node(1), Party::node(2), cell}, client_receives(1700, 1)};
  const auto f = timing_attack(frames, messages, params());
  CHECK(f.client_cells_sent == 1);
  CHECK(f.claims == 1);
  CHECK(f.correct_claims == 1);

  // Only node-to-node cells: nothing sent, nothing claimed.
  const std::vector<FrameEvent> nodes_only{{1550, Party::node(0), Party::node(1), cell},
                                           {1600, Party::node(1), Party::node(2), cell}};
  const auto g = timing_attack(nodes_only, messages, params());
  CHECK(g.client_cells_sent == 0);
  CHECK(g.claims == 0);
  CHECK(g.messages == 1);
  CHECK(g.messages_linked == 0);
}

TEST_CASE("a claim outside carry_ms of the hand-over is not correct", "[adversary]") {
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 5000)};
  const auto claim_at = [&](double t) {
    return timing_attack({client_sends(t, 0), client_receives(t + 100, 1)}, messages, params());
  };
  const auto late = claim_at(3001);  // 2001 ms after the hand-over
  CHECK(late.claims == 1);
  CHECK(late.correct_claims == 0);
  CHECK(late.messages_linked == 0);

  const auto early = claim_at(999);  // before the hand-over
  CHECK(early.claims == 1);
  CHECK(early.correct_claims == 0);
  CHECK(early.messages_linked == 0);

  for (const double t : {1000.0, 3000.0}) {  // both ends of the interval
    const auto edge = claim_at(t);
    CHECK(edge.claims == 1);
    CHECK(edge.correct_claims == 1);
    CHECK(edge.messages_linked == 1);
  }
}

TEST_CASE("the window is open at the send and closed at its end", "[adversary]") {
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 5000)};
  const auto with_reception = [&](double r) {
    return timing_attack({client_sends(1500, 0), client_receives(r, 1)}, messages, params());
  };
  CHECK(with_reception(1500).claims == 0);  // at the send itself
  CHECK(with_reception(2500).claims == 1);  // exactly window_ms after
  CHECK(with_reception(2501).claims == 0);  // past the window
}

TEST_CASE("recall is over received messages only", "[adversary]") {
  const std::vector<SentMessage> messages{message(0, 0, 1, 1000, 1900),
                                          message(1, 2, 1, 1000)};  // never received
  const auto f = timing_attack({client_sends(1500, 0), client_receives(1700, 1)}, messages,
                               params());
  CHECK(f.messages == 1);
  CHECK(f.messages_linked == 1);
  CHECK(f.recall() == Approx(1.0));
}

TEST_CASE("the timing attack over empty records gives zero figures", "[adversary]") {
  const auto f = timing_attack({}, {}, params());
  CHECK(f.client_cells_sent == 0);
  CHECK(f.claims == 0);
  CHECK(f.correct_claims == 0);
  CHECK(f.messages == 0);
  CHECK(f.messages_linked == 0);
  CHECK(f.precision() == 0.0);
  CHECK(f.recall() == 0.0);
}

// ---------------------------------------------------------------------------
// Swarm view.

namespace {

// The messages 0..n-1 to recipient 9, received, with one store each, from
// the given senders through the given last relays.
void deliver(std::vector<RequestPath>& requests, std::vector<SentMessage>& messages,
             std::uint32_t recipient, const std::vector<std::uint32_t>& senders,
             const std::vector<std::uint32_t>& relays) {
  for (std::size_t i = 0; i < senders.size(); ++i) {
    const std::uint64_t index = messages.size();
    messages.push_back(message(index, senders[i], recipient, double(index), double(index) + 50));
    requests.push_back(request(double(index) + 10, senders[i], RequestKind::store, 0, 1, index,
                               relays[i]));
  }
}

}  // namespace

TEST_CASE("four senders through four relays: the swarm sees as much as there is",
          "[adversary]") {
  std::vector<RequestPath> requests;
  std::vector<SentMessage> messages;
  deliver(requests, messages, 9, {0, 1, 2, 3}, {10, 11, 12, 13});
  const auto f = swarm_view(requests, messages);
  CHECK(f.recipients == 1);
  CHECK(f.messages == 4);
  CHECK(f.seen_bits == Approx(2.0));
  CHECK(f.sender_bits == Approx(2.0));
  CHECK(f.max_bits == Approx(2.0));
}

TEST_CASE("four senders through one relay: the swarm sees nothing", "[adversary]") {
  std::vector<RequestPath> requests;
  std::vector<SentMessage> messages;
  deliver(requests, messages, 9, {0, 1, 2, 3}, {10, 10, 10, 10});
  const auto f = swarm_view(requests, messages);
  CHECK(f.recipients == 1);
  CHECK(f.messages == 4);
  CHECK(f.seen_bits == Approx(0.0));
  CHECK(f.sender_bits == Approx(2.0));
  CHECK(f.max_bits == Approx(2.0));
}

TEST_CASE("the swarm view takes each message's last store and weights recipients",
          "[adversary]") {
  std::vector<RequestPath> requests;
  std::vector<SentMessage> messages;
  // Recipient 9: four senders through four relays (2 bits of each).
  deliver(requests, messages, 9, {0, 1, 2, 3}, {10, 11, 12, 13});
  // Recipient 8: one sender through two relays (seen 1, sender 0, max 1).
  deliver(requests, messages, 8, {4, 4}, {10, 11});
  // An earlier store of message 5 through relay 10 is not the last one;
  // recorded after the last one, it still loses to it on time.
  requests.push_back(request(0, 4, RequestKind::store, 0, 1, 5, 10));
  // Not counted: a message never received, and one received but never seen
  // stored; a retrieve through another relay is not a store.
  messages.push_back(message(100, 5, 8, 0));
  requests.push_back(request(10, 5, RequestKind::store, 0, 1, 100, 12));
  messages.push_back(message(101, 6, 8, 0, 20));
  requests.push_back(request(30, 4, RequestKind::retrieve, 0, 1, std::nullopt, 13));

  const auto f = swarm_view(requests, messages);
  CHECK(f.recipients == 2);
  CHECK(f.messages == 6);
  CHECK(f.seen_bits == Approx((4 * 2.0 + 2 * 1.0) / 6));
  CHECK(f.sender_bits == Approx((4 * 2.0 + 2 * 0.0) / 6));
  CHECK(f.max_bits == Approx((4 * 2.0 + 2 * 1.0) / 6));
}

TEST_CASE("of two last stores at the same time, the swarm view takes the one recorded later",
          "[adversary]") {
  std::vector<RequestPath> requests;
  std::vector<SentMessage> messages;
  deliver(requests, messages, 9, {0, 1}, {10, 11});
  // Message 1 stored again at the same time through relay 10.
  requests.push_back(request(requests[1].t_ms, 1, RequestKind::store, 0, 1, 1, 10));
  const auto f = swarm_view(requests, messages);
  CHECK(f.messages == 2);
  CHECK(f.seen_bits == Approx(0.0));
  CHECK(f.sender_bits == Approx(1.0));
}

TEST_CASE("the swarm view over empty records gives zero figures", "[adversary]") {
  const auto f = swarm_view({}, {});
  CHECK(f.recipients == 0);
  CHECK(f.messages == 0);
  CHECK(f.seen_bits == 0.0);
  CHECK(f.sender_bits == 0.0);
  CHECK(f.max_bits == 0.0);
}

TEST_CASE("entropy_bits of counts", "[adversary]") {
  CHECK(entropy_bits({1, 1}) == Approx(1.0));
  CHECK(entropy_bits({4}) == 0.0);
  CHECK(entropy_bits({}) == 0.0);
  CHECK(entropy_bits({0, 0}) == 0.0);
  CHECK(entropy_bits({1, 0, 1}) == Approx(1.0));
  CHECK(entropy_bits({3, 3, 3, 3}) == Approx(2.0));
  CHECK(entropy_bits({2, 1, 1}) == Approx(1.5));
}
