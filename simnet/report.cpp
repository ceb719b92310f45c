#include "simnet/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace nightjar::simnet {

using json = nlohmann::json;

MessageCounts count_messages(const std::vector<MessageRecord>& records) {
  MessageCounts c;
  c.planned = records.size();
  for (const auto& r : records) {
    if (!r.sent_ms) continue;
    ++c.sent;
    const bool delivered = r.receptions > 0;
    if (r.acked_ms)
      ++c.acked;
    else if (r.failed_ms)
      ++c.send_failed;
    else
      ++c.unanswered;
    if (delivered) {
      ++c.delivered;
      c.duplicates += r.receptions - 1;
      if (!r.acked_ms) ++c.unacked_delivered;
    } else {
      ++c.lost;
      if (r.acked_ms) ++c.acked_lost;
    }
  }
  return c;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const auto i = static_cast<std::size_t>(std::clamp(rank, 1.0, double(sorted.size()))) - 1;
  return sorted[i];
}

LatencySummary summarize(std::vector<double> values) {
  LatencySummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = values.size();
  s.p50 = percentile(values, 50);
  s.p90 = percentile(values, 90);
  s.p99 = percentile(values, 99);
  s.max = values.back();
  return s;
}

namespace {

double round3(double v) {
  return std::round(v * 1000) / 1000;
}

json latency_json(const LatencySummary& s) {
  return json{{"count", s.count},
              {"p50", round3(s.p50)},
              {"p90", round3(s.p90)},
              {"p99", round3(s.p99)},
              {"max", round3(s.max)}};
}

json groups_json(const GroupReport& g) {
  const double per = g.removals ? 1.0 / static_cast<double>(g.removals) : 0;
  json removal{{"removals", g.removals},
               {"converged", g.removals_converged},
               {"messages", g.removal_messages},
               {"messages_per_removal", round3(static_cast<double>(g.removal_messages) * per)},
               {"cpu_s", round3(g.removal_cpu_s)},
               {"cpu_s_per_removal", round3(g.removal_cpu_s * per)},
               {"x25519_per_cpu_s", round3(g.x25519_per_cpu_s)},
               {"x25519_per_removal", round3(g.removal_cpu_s * per * g.x25519_per_cpu_s)},
               {"converged_ms", latency_json(g.removal_converged_ms)},
               {"after_removal_expected", g.after_removal_expected},
               {"after_removal_delivered", g.after_removal_delivered},
               {"removed_opened", g.removed_opened}};
  return json{{"groups", g.groups},
              {"size", g.size},
              {"ready", g.ready_groups},
              {"setup_s", round3(g.setup_s)},
              {"setup_messages", g.setup_messages},
              {"planned", g.planned},
              {"sent", g.sent},
              {"acked", g.acked},
              {"send_failed", g.send_failed},
              {"deliveries_expected", g.deliveries_expected},
              {"delivered", g.delivered},
              {"fully_delivered", g.fully_delivered},
              {"acked_deliveries_missing", g.acked_deliveries_missing},
              {"duplicates", g.duplicates},
              {"latency_ms",
               {{"stored", latency_json(g.stored)},
                {"received", latency_json(g.received)},
                {"received_by_all", latency_json(g.received_by_all)}}},
              {"removal", removal}};
}


// docs/ANONYMITY.md names each field.
json anonymity_json(const AnonymityReport& a) {
  json compromised = json::array();
  for (const auto& c : a.compromised) {
    compromised.push_back({{"fraction_of_nodes", round3(c.fraction_of_nodes)},
                           {"trials", c.trials},
                           {"linked_fraction", round3(c.linked_fraction)},
                           {"senders_linked_fraction", round3(c.senders_linked_fraction)},
                           {"guard_exposure_fraction", round3(c.exposure_fraction)},
                           {"first_link_s", c.first_link_ms.empty()
                                                ? json(nullptr)
                                                : json(round3(percentile(c.first_link_ms, 50) / 1000))},
                           {"exposure_by_step", c.exposure_by_step}});
  }
  const auto& t = a.timing;
  return {
      {"defences",
       {{"mix_delay_ms", a.mix_delay_ms},
        {"mix_delay_max_ms", a.mix_delay_max_ms},
        {"loop_rate", a.loop_rate},
        {"drop_rate", a.drop_rate},
        {"poll_padding_ms", a.poll_padding_ms}}},
      {"record",
       {{"client_frames", a.client_frames},
        {"frames_dropped", a.frames_dropped},
        {"node_link_frames", a.node_link_frames},
        {"requests", a.requests},
        {"stores_attributed", a.stores_attributed},
        {"recorded_s", round3(a.recorded_s)}}},
      {"compromised_nodes", compromised},
      {"sybil",
       a.sybil ? json{{"nodes", a.sybil_nodes},
                      {"join_s", a.sybil_join_s},
                      {"linked_fraction", round3(a.sybil->linked_fraction())},
                      {"senders_linked_fraction", round3(a.sybil->senders_linked_fraction())},
                      {"guard_exposure_fraction", round3(a.sybil->exposure_fraction())},
                      {"first_link_s", a.sybil->first_link_ms.empty()
                                           ? json(nullptr)
                                           : json(round3(percentile(a.sybil->first_link_ms, 50) / 1000))},
                      {"exposed_by_step", a.sybil->exposed_by_step}}
               : json(nullptr)},
      {"timing_attack",
       {{"window_ms", a.timing_params.window_ms},
        {"reply_guard_ms", a.timing_params.reply_guard_ms},
        {"carry_ms", a.timing_params.carry_ms},
        {"cell_frame_bytes", a.timing_params.cell_frame_bytes},
        {"client_cells_sent", t.client_cells_sent},
        {"claims", t.claims},
        {"correct_claims", t.correct_claims},
        {"messages", t.messages},
        {"messages_linked", t.messages_linked},
        {"precision", round3(t.precision())},
        {"recall", round3(t.recall())}}},
      {"swarm_view",
       {{"recipients", a.swarm_view.recipients},
        {"messages", a.swarm_view.messages},
        {"seen_bits", round3(a.swarm_view.seen_bits)},
        {"sender_bits", round3(a.swarm_view.sender_bits)},
        {"max_bits", round3(a.swarm_view.max_bits)}}},
      {"cost",
       {{"client_bytes_per_s", round3(a.client_bytes_per_s)},
        {"idle_client_bytes_per_s",
         a.idle_client_bytes_per_s ? json(round3(*a.idle_client_bytes_per_s)) : json(nullptr)},
        {"mix_released", a.mix_released},
        {"mix_mean_held_ms", round3(a.mix_mean_held_ms)},
        {"mix_max_held_ms", round3(a.mix_max_held_ms)},
        {"cover_cells", a.cover_cells},
        {"padding_segments", a.padding_segments}}},
      {"defences_unseen", a.defences_unseen},
  };
}

}  // namespace

json to_json(const Report& r) {
  const MessageCounts& c = r.counts;
  json nodes = json::array();
  for (const auto& n : r.node_reports) {
    json j{{"name", n.name},
           {"id", n.id},
           {"running", n.running},
           {"restarts", n.restarts},
           {"cells_relayed", n.cells_relayed},
           {"cells_dropped", n.cells_dropped},
           {"cells_delivered", n.cells_delivered},
           {"messages_stored", n.messages_stored},
           {"stores_accepted", n.stores_accepted},
           {"stats_known", n.stats_known}};
    j["swarm"] = n.swarm ? json(*n.swarm) : json(nullptr);
    nodes.push_back(std::move(j));
  }
  json guards = json::object();
  for (const auto& [name, count] : r.paths.guard_use)
    guards[name] = count;
  json j{
      {"mode", r.mode},
      {"seed", r.seed},
      {"authorities", r.authorities},
      {"node_count", r.nodes},
      {"client_count", r.clients},
      {"duration_s", r.duration_s},
      {"ready_s", round3(r.ready_s)},
      {"drain_s", round3(r.drain_s)},
      {"wall_s", round3(r.wall_s)},
      {"planned", c.planned},
      {"sent", c.sent},
      {"acked", c.acked},
      {"send_failed", c.send_failed},
      {"unanswered", c.unanswered},
      {"delivered", c.delivered},
      {"lost", c.lost},
      {"acked_lost", c.acked_lost},
      {"unacked_delivered", c.unacked_delivered},
      {"duplicates", c.duplicates},
      {"latency_ms", {{"stored", latency_json(r.stored)}, {"received", latency_json(r.received)}}},
      {"replicated_messages", r.replicated_messages},
      {"nodes", nodes},
      {"paths",
       {{"paths", r.paths.paths},
        {"short_paths", r.paths.short_paths},
        {"non_diverse_paths", r.paths.non_diverse_paths},
        {"fallback_paths", r.paths.fallback_paths},
        {"backup_guard_first_hops", r.paths.backup_guard_first_hops},
        {"distinct_guards", r.paths.distinct_guards},
        {"guards_per_client", round3(r.paths.guards_per_client)},
        {"guard_use", guards},
        {"first_hop_entropy_bits", round3(r.paths.first_hop_entropy_bits)},
        {"relay_entropy_bits", round3(r.paths.middle_entropy_bits)},
        {"max_entropy_bits", round3(r.paths.max_entropy_bits)}}},
      {"events", r.events},
      {"notes", r.notes},
      {"resources",
       {{"rss_mb", round3(r.rss_mb)},
        {"rss_peak_mb", round3(r.rss_peak_mb)},
        {"cpu_s", round3(r.cpu_s)},
        {"workload_cpu_s", round3(r.workload_cpu_s)},
        {"descriptor_failures", r.descriptor_failures},
        {"descriptor_limit", r.descriptor_limit}}},
  };
  j["replication_complete"] =
      r.replication_complete ? json(round3(*r.replication_complete)) : json(nullptr);
  j["acked_checked"] = r.acked_checked ? json(*r.acked_checked) : json(nullptr);
  j["acked_on_every_member"] = r.acked_on_every_member;
  j["acked_held_nowhere"] = r.acked_held_nowhere;
  j["groups"] = r.groups ? groups_json(*r.groups) : json(nullptr);
  j["anonymity"] = r.anonymity ? anonymity_json(*r.anonymity) : json(nullptr);
  return j;
}

namespace {

void line(std::ostream& out, const char* label, const std::string& value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %-22s ", label);
  out << buf << value << "\n";
}

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

std::string latency_text(const LatencySummary& s) {
  if (s.count == 0) return "(none)";
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.1f  p90 %.1f  p99 %.1f  max %.1f ms  (%zu)", s.p50, s.p90,
                s.p99, s.max, s.count);
  return buf;
}

void print_anonymity(std::ostream& out, const AnonymityReport& a) {
  std::string defences;
  if (a.mix_delay_ms > 0)
    defences += fmt("mixing %.0f ms", a.mix_delay_ms) + fmt(" (at most %.0f) per hop", a.mix_delay_max_ms);
  if (a.loop_rate > 0) defences += (defences.empty() ? "" : ", ") + fmt("loop cells %.2f/s", a.loop_rate);
  if (a.drop_rate > 0) defences += (defences.empty() ? "" : ", ") + fmt("drop cells %.2f/s", a.drop_rate);
  if (a.poll_padding_ms > 0)
    defences += (defences.empty() ? "" : ", ") + fmt("polls padded every %.0f ms", a.poll_padding_ms);
  line(out, "defences", defences.empty() ? "none" : defences);
  for (const auto& c : a.compromised)
    line(out, fmt("adversary %.0f%% nodes", c.fraction_of_nodes * 100).c_str(),
         fmt("%.2f%% of messages linked", c.linked_fraction * 100) +
             fmt(", %.1f%% of senders", c.senders_linked_fraction * 100) +
             fmt(", %.1f%% of clients used its guard", c.exposure_fraction * 100) +
             (c.first_link_ms.empty()
                  ? std::string()
                  : fmt(", first link after %.1f s (median)", percentile(c.first_link_ms, 50) / 1000)));
  if (a.sybil)
    line(out, "Sybil nodes",
         std::to_string(a.sybil_nodes) + fmt(" joined at %.0f s: ", a.sybil_join_s) +
             fmt("%.2f%% of messages linked", a.sybil->linked_fraction() * 100) +
             fmt(", %.1f%% of senders", a.sybil->senders_linked_fraction() * 100) +
             fmt(", %.1f%% of clients used one as a guard", a.sybil->exposure_fraction() * 100));
  const auto& t = a.timing;
  line(out, "timing attack",
       fmt("precision %.3f", t.precision()) + fmt(", recall %.3f", t.recall()) + " (" +
           std::to_string(t.claims) + " claims, " + std::to_string(t.messages) +
           " messages; window " + fmt("%.0f ms)", a.timing_params.window_ms));
  line(out, "swarm view",
       fmt("last relays %.2f bits", a.swarm_view.seen_bits) +
           fmt(", senders %.2f bits", a.swarm_view.sender_bits) +
           fmt(", at most %.2f bits (", a.swarm_view.max_bits) +
           std::to_string(a.swarm_view.recipients) + " recipients)");
  std::string cost = fmt("%.0f B/s per client", a.client_bytes_per_s);
  if (a.idle_client_bytes_per_s) cost += fmt(", %.0f B/s per idle client", *a.idle_client_bytes_per_s);
  if (a.mix_released)
    cost += fmt("; relays held %.1f ms", a.mix_mean_held_ms) + fmt(" per hop (longest %.1f ms)", a.mix_max_held_ms);
  if (a.cover_cells) cost += "; " + std::to_string(a.cover_cells) + " cover cells reached nodes";
  if (a.padding_segments)
    cost += "; " + std::to_string(a.padding_segments) + " empty poll answers for padding";
  line(out, "defence cost", cost);
  for (const auto& unseen : a.defences_unseen)
    line(out, "defence unseen", unseen + " set, but the nodes' figures show none");
}

}  // namespace

void print_summary(std::ostream& out, const Report& r) {
  const MessageCounts& c = r.counts;
  out << "nightjar simnet: " << r.mode << " mode, " << r.authorities << " authorit"
      << (r.authorities == 1 ? "y" : "ies") << ", " << r.nodes << " nodes, " << r.clients
      << " clients, " << r.duration_s << " s, seed " << r.seed << "\n";
  line(out, "ready", fmt("%.1f s (every node in the directory)", r.ready_s));
  line(out, "messages",
       std::to_string(c.sent) + " sent of " + std::to_string(c.planned) + " planned; " +
           std::to_string(c.acked) + " acknowledged, " + std::to_string(c.send_failed) +
           " failed, " + std::to_string(c.unanswered) + " unanswered");
  line(out, "delivered",
       std::to_string(c.delivered) + " (" + std::to_string(c.duplicates) + " duplicates, " +
           std::to_string(c.unacked_delivered) + " without an acknowledgement)");
  line(out, "lost",
       std::to_string(c.lost) + " (acknowledged and lost: " + std::to_string(c.acked_lost) + ")");
  line(out, "stored latency", latency_text(r.stored));
  line(out, "received latency", latency_text(r.received));
  line(out, "replication",
       r.replication_complete ? fmt("%.1f%% of stored messages on every member of their swarm",
                                    100 * *r.replication_complete) +
                                    " (" + std::to_string(r.replicated_messages) + ")"
                              : std::string("not measured"));
  if (r.acked_checked)
    line(out, "acknowledged",
         std::to_string(r.acked_on_every_member) + " of " + std::to_string(*r.acked_checked) +
             " on every member of their swarm; " + std::to_string(r.acked_held_nowhere) +
             " held by no node");
  if (r.groups) {
    const GroupReport& g = *r.groups;
    line(out, "groups",
         std::to_string(g.ready_groups) + " of " + std::to_string(g.groups) + " groups of " +
             std::to_string(g.size) + " ready" + fmt(" after %.1f s", g.setup_s) + " (" +
             std::to_string(g.setup_messages) + " control messages)");
    line(out, "group messages",
         std::to_string(g.sent) + " sent of " + std::to_string(g.planned) + " planned; " +
             std::to_string(g.acked) + " acknowledged, " + std::to_string(g.send_failed) +
             " failed; " + std::to_string(g.fully_delivered) + " reached every member");
    line(out, "group deliveries",
         std::to_string(g.delivered) + " of " + std::to_string(g.deliveries_expected) + " (" +
             std::to_string(g.duplicates) + " duplicates)");
    line(out, "group latency", latency_text(g.received));
    line(out, "group, last member", latency_text(g.received_by_all));
    if (g.removals) {
      const double per = 1.0 / static_cast<double>(g.removals);
      line(out, "removal",
           std::to_string(g.removals_converged) + " of " + std::to_string(g.removals) +
               " re-keyed; " + fmt("%.0f", static_cast<double>(g.removal_messages) * per) +
               " messages and " + fmt("%.2f s CPU", g.removal_cpu_s * per) +
               fmt(" (%.0f X25519s) each", g.removal_cpu_s * per * g.x25519_per_cpu_s));
      line(out, "removal time", latency_text(g.removal_converged_ms));
      line(out, "after the removal",
           std::to_string(g.after_removal_delivered) + " of " +
               std::to_string(g.after_removal_expected) +
               " members read the next message; removed members opened " +
               std::to_string(g.removed_opened));
    }
  }
  std::uint64_t relayed = 0, max_relayed = 0, dropped = 0;
  for (const auto& n : r.node_reports) {
    relayed += n.cells_relayed;
    max_relayed = std::max(max_relayed, n.cells_relayed);
    dropped += n.cells_dropped;
  }
  const bool stats_known = std::any_of(r.node_reports.begin(), r.node_reports.end(),
                                       [](const NodeReport& n) { return n.stats_known; });
  if (!r.node_reports.empty() && !stats_known)
    line(out, "node load", "not known (see the notes)");
  else if (!r.node_reports.empty())
    line(out, "node load",
         std::to_string(relayed) + " cells relayed (busiest node " + std::to_string(max_relayed) +
             ", mean " + fmt("%.0f", double(relayed) / double(r.node_reports.size())) + "), " +
             std::to_string(dropped) + " dropped");
  line(out, "paths",
       std::to_string(r.paths.paths) + " built; relay entropy " +
           fmt("%.2f", r.paths.middle_entropy_bits) + " of " +
           fmt("%.2f", r.paths.max_entropy_bits) + " bits; " +
           std::to_string(r.paths.distinct_guards) + " nodes used as guards, " +
           std::to_string(r.paths.backup_guard_first_hops) + " paths through a backup guard");
  if (r.anonymity) print_anonymity(out, *r.anonymity);
  line(out, "memory",
       fmt("%.0f MB resident at the end", r.rss_mb) + fmt(", peak %.0f MB", r.rss_peak_mb));
  line(out, "cpu",
       fmt("%.1f s in all", r.cpu_s) + fmt(", %.1f s in the workload and drain", r.workload_cpu_s));
  line(out, "time", fmt("%.1f s in all", r.wall_s) + fmt(", %.1f s draining", r.drain_s));
  for (const auto& e : r.events)
    line(out, "fault", e);
  for (const auto& n : r.notes)
    line(out, "note", n);
}

}  // namespace nightjar::simnet
