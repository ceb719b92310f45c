// The simnet's report: what happened to every message (MessageRecord), the
// figures computed from them (count_messages, summarize), the nodes' load and
// the clients' path choices, and the three ways it is written: a summary
// table on stdout (print_summary), one JSON object (to_json, --json), and
// per-message and per-node CSV files with optional gnuplot plots
// (report_files.hpp). docs/SIMNET.md defines every figure; keep them in step.
//
// Times in records are milliseconds since the start of the workload, on the
// simnet's monotonic clock.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "simnet/adversary.hpp"
#include "simnet/workload.hpp"
#include "swarm/message_store.hpp"

namespace nightjar::simnet {

struct MessageRecord {
  PlannedMessage plan;
  std::optional<double> sent_ms;      // Client::send called
  std::optional<double> acked_ms;     // the send reported success (stored with a quorum)
  std::optional<double> failed_ms;    // the send reported failure
  std::string failure;                // why, for a failed send
  std::optional<double> received_ms;  // first handed to the recipient's application
  std::uint32_t receptions = 0;       // times handed over (more than 1: duplicates)
  std::uint32_t replicas = 0;         // copies acknowledged (the fewest of any fragment)
  int attempts = 0;                   // store requests, retries included
  std::string message_id;             // the envelope's message ID, hex
  std::vector<::nightjar::MessageId> stored_ids;  // acknowledged: its fragments' storage IDs
  std::string path;                   // relays and destination, short IDs, when known
};

struct MessageCounts {
  std::uint64_t planned = 0;
  std::uint64_t sent = 0;               // handed to Client::send
  std::uint64_t acked = 0;              // success reported
  std::uint64_t send_failed = 0;        // failure reported
  std::uint64_t unanswered = 0;         // sent, neither reported by the end
  std::uint64_t delivered = 0;          // sent and received by the recipient at least once
  std::uint64_t lost = 0;               // sent and never received: sent - delivered
  std::uint64_t acked_lost = 0;         // acknowledged and never received
  std::uint64_t unacked_delivered = 0;  // received although no success was reported
  std::uint64_t duplicates = 0;         // receptions beyond the first
};
MessageCounts count_messages(const std::vector<MessageRecord>& records);

// Nearest-rank percentiles: the smallest value with at least p% of the
// values at or below it. All zero for no values.
struct LatencySummary {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
double percentile(const std::vector<double>& sorted, double p);
LatencySummary summarize(std::vector<double> values);

struct NodeReport {
  std::string name;  // node0, node1, ... (the node index)
  std::string id;    // node ID, hex (empty when never known)
  bool running = false;
  std::uint32_t restarts = 0;
  std::optional<std::uint64_t> swarm;
  std::uint64_t cells_relayed = 0;
  std::uint64_t cells_dropped = 0;
  std::uint64_t cells_delivered = 0;  // requests handled as the destination
  std::uint64_t messages_stored = 0;  // in its store at the end
  std::uint64_t stores_accepted = 0;
  // Mixing delays: cells and reply cells released, the time they were held
  // (microseconds, summed), the longest hold.
  std::uint64_t mix_released = 0;
  std::uint64_t mix_held_us_sum = 0;
  std::uint64_t mix_held_us_max = 0;
  std::uint64_t cover_cells = 0;       // loop and drop cells that reached it
  std::uint64_t padding_segments = 0;  // empty long-poll answers sent for padding
  // Process mode: links its process could not dial or accept for want of
  // file descriptors (in-process, all nodes share one count: Report's).
  std::uint64_t descriptor_failures = 0;
  bool stats_known = true;  // false: a process whose metrics could not be read
};

struct PathReport {
  std::uint64_t paths = 0;
  std::uint64_t short_paths = 0, non_diverse_paths = 0, fallback_paths = 0;
  std::uint64_t backup_guard_first_hops = 0;  // every primary guard was in backoff
  std::size_t distinct_guards = 0;    // nodes used as a first hop by any client
  double guards_per_client = 0;       // mean of distinct first hops per client
  double first_hop_entropy_bits = 0;  // of first-hop choices, all clients together
  double middle_entropy_bits = 0;     // of the other relays' choices
  double max_entropy_bits = 0;        // log2(nodes): every node chosen equally
  std::vector<std::pair<std::string, std::uint64_t>> guard_use;  // node name, first hops
};

// The closed-group workload (Scenario::groups, simnet/sim_groups.hpp).
struct GroupReport {
  std::size_t groups = 0, size = 0;
  std::size_t ready_groups = 0;      // filled and keyed within the set-up bound
  double setup_s = 0;                // clients ready to every group ready (or the bound)
  std::uint64_t setup_messages = 0;  // 1:1 control messages acknowledged during the set-up
  std::uint64_t planned = 0, sent = 0, acked = 0, send_failed = 0;
  // Receptions by members other than the sender: what every sent message
  // owed (members - 1 each), what arrived at least once, and repeats.
  std::uint64_t deliveries_expected = 0, delivered = 0, duplicates = 0;
  std::uint64_t fully_delivered = 0;  // sent messages every other member received
  std::uint64_t acked_deliveries_missing = 0;  // owed by acknowledged messages at the end
  LatencySummary stored;              // send to success reported
  LatencySummary received;            // send to one member having it, every (message, member)
  LatencySummary received_by_all;     // send to the last member having it
  // Removals: one member of each group, after the drain.
  std::uint64_t removals = 0, removals_converged = 0;
  std::uint64_t removal_messages = 0;  // 1:1 control messages acknowledged, all removals
  double removal_cpu_s = 0;            // process CPU from the removals to the last convergence
  double x25519_per_cpu_s = 0;         // bare X25519s per CPU second, this run
  LatencySummary removal_converged_ms;  // change made to every remaining member re-keyed
  // One message from each admin after its removal: what the remaining
  // members received, and what the removed ones opened (must be 0).
  std::uint64_t after_removal_expected = 0, after_removal_delivered = 0;
  std::uint64_t removed_opened = 0;
};

// What the adversary models learned (Scenario::adversary, simnet/adversary.hpp,
// docs/ANONYMITY.md), and what the defences in force cost.
struct AnonymityReport {
  // The defences the network ran with (NetworkParams::defences).
  double mix_delay_ms = 0, mix_delay_max_ms = 0, loop_rate = 0, drop_rate = 0;
  double poll_padding_ms = 0;
  // The record the models read.
  std::uint64_t client_frames = 0;    // frames on client links, recorded
  std::uint64_t frames_dropped = 0;   // beyond the record's bound (the models saw fewer)
  std::uint64_t node_link_frames = 0; // node-to-node frames (in-process), counted
  std::uint64_t requests = 0;         // client requests with their paths
  std::uint64_t stores_attributed = 0;  // store requests matched to a planned message
  std::vector<adversary::CompromisedSummary> compromised;  // one per Scenario fraction
  // A Sybil adversary's nodes, joined during the workload (none: no Sybil).
  std::size_t sybil_nodes = 0;
  double sybil_join_s = 0;
  std::optional<adversary::CompromisedFigures> sybil;
  adversary::TimingAttackParams timing_params;
  adversary::TimingAttackFigures timing;
  adversary::SwarmViewFigures swarm_view;
  // Cost: bytes per second on a client's links (both directions) over the
  // recorded time, the mean over all clients and over those that sent no
  // message (idle; none: no idle client).
  double client_bytes_per_s = 0;
  std::optional<double> idle_client_bytes_per_s;
  double recorded_s = 0;
  // Mixing as the relays did it: cells released and the mean and longest
  // time one was held (in-process: every node; process mode: from /metrics).
  std::uint64_t mix_released = 0;
  double mix_mean_held_ms = 0, mix_max_held_ms = 0;
  // Cover cells the nodes received, and empty answers they sent for padding.
  std::uint64_t cover_cells = 0, padding_segments = 0;
  // Defences the network was given that left no trace in the nodes'
  // figures (none expected: checked by --check-defences).
  std::vector<std::string> defences_unseen;
};

struct Report {
  std::string mode;
  std::uint64_t seed = 0;
  std::size_t authorities = 0, nodes = 0, clients = 0;
  double duration_s = 0;
  double ready_s = 0;  // start to every node listed
  double drain_s = 0;  // spent draining
  double wall_s = 0;   // the whole run
  MessageCounts counts;
  LatencySummary stored;                       // send to success reported
  LatencySummary received;                     // send to the recipient's client having it
  std::optional<double> replication_complete;  // fraction, see docs/SIMNET.md
  std::uint64_t replicated_messages = 0;       // stored messages that fraction is over
  // Acknowledged messages (every fragment) on every member of their final
  // swarm, and those no node holds at all (see docs/SIMNET.md).
  std::optional<std::uint64_t> acked_checked;  // acknowledged messages checked (none: no directory)
  std::uint64_t acked_on_every_member = 0;
  std::uint64_t acked_held_nowhere = 0;
  std::vector<NodeReport> node_reports;
  PathReport paths;
  std::optional<GroupReport> groups;
  std::optional<AnonymityReport> anonymity;
  std::vector<std::string> events;  // faults as applied, "12.0 s kill node3"
  std::vector<std::string> notes;   // what was skipped, and why
  double rss_mb = 0;                // the simnet process at the end
  double rss_peak_mb = 0;
  // CPU time (user + system) of the simnet process: the whole run, and from
  // the workload's start to the drain's end. In-process mode that is every
  // node's and client's; in process mode only the clients' and the simnet's.
  double cpu_s = 0;
  double workload_cpu_s = 0;
  // Links that could not be dialed or accepted for want of file descriptors
  // (link_descriptor_failures): the simnet process's, and in process mode
  // every node process's too. Above 0, some failures are the machine's.
  std::uint64_t descriptor_failures = 0;
  std::uint64_t descriptor_limit = 0;  // the simnet's RLIMIT_NOFILE during the run
};

nlohmann::json to_json(const Report& r);
void print_summary(std::ostream& out, const Report& r);

}  // namespace nightjar::simnet
