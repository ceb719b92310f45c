#include "node/node_metrics.hpp"

#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "node/version.hpp"
#include "swarm/storage_messages.hpp"

namespace nightjar {

namespace {

using Series = std::vector<LabelledValue>;

// Label values are the enumerators' names, stable for dashboards (the
// to_string texts are sentences for logs).
constexpr std::pair<PeelDrop, const char*> peel_drops[] = {
    {PeelDrop::wrong_size, "wrong_size"},
    {PeelDrop::expired_key, "expired_key"},
    {PeelDrop::low_order_key, "low_order_key"},
    {PeelDrop::bad_mac, "bad_mac"},
    {PeelDrop::replay, "replay"},
    {PeelDrop::replay_cache_full, "replay_cache_full"},
    {PeelDrop::bad_slot, "bad_slot"},
    {PeelDrop::bad_payload, "bad_payload"}};

// By storage::Status value, from 1 (0 is ok).
constexpr const char* storage_statuses[] = {"ok",
                                            "bad_request",
                                            "wrong_swarm",
                                            "clock_skew",
                                            "bad_signature",
                                            "ttl_out_of_range",
                                            "body_too_large",
                                            "quota_messages",
                                            "quota_bytes",
                                            "disk_full",
                                            "not_found",
                                            "quorum_failed",
                                            "overloaded",
                                            "deleted",
                                            "internal",
                                            "not_ready",
                                            "stale"};
static_assert(std::size(storage_statuses) == storage::status_count);
static_assert(std::size(storage_statuses) <= std::size(StorageStats{}.rejected));

void register_relay(MetricsRegistry& r, const OnionRelay& relay) {
  const RelayStats& s = relay.stats();
  r.add_counter("nightjar_cells_received_total", "Onion cells that arrived to be peeled.",
                [&s] { return s.cells_in; });
  r.add_counter("nightjar_cells_relayed_total", "Onion cells peeled and forwarded to the next hop.",
                [&s] { return s.cells_forwarded; });
  r.add_counter("nightjar_cells_delivered_total",
                "Onion cells whose request this node handled as the destination.",
                [&s] { return s.cells_delivered; });
  r.add_counter("nightjar_cells_dropped_total",
                "Onion cells not forwarded, by reason: each peel failure, a frame of the wrong "
                "size (bad_frame), or no way on (unforwardable, answered with a relay error).",
                {"reason"}, [&s] {
                  Series out;
                  for (const auto& [d, name] : peel_drops)
                    out.push_back({{name}, s.dropped[static_cast<std::size_t>(d)]});
                  out.push_back({{"bad_frame"}, s.dropped_bad_frame});
                  out.push_back({{"unforwardable"}, s.dropped_unforwardable});
                  return out;
                });
  r.add_counter("nightjar_replay_hits_total",
                "Onion cells refused because their replay tag was seen before.",
                [&s] { return s.dropped[static_cast<std::size_t>(PeelDrop::replay)]; });
  r.add_counter("nightjar_replies_total", "Reply cells, by what happened to them.", {"result"},
                [&s] {
                  return Series{{{"forwarded"}, s.replies_forwarded},
                                {{"sent"}, s.replies_sent},
                                {{"relay_error"}, s.error_replies},
                                {{"dropped"}, s.replies_dropped}};
                });
  r.add_gauge("nightjar_relay_table_entries", "Cells in flight whose reply route is remembered.",
              [&relay] { return relay.entries(); });
  r.add_gauge("nightjar_replay_cache_bytes", "Memory held by the replay cache.",
              [&relay] { return relay.replay_memory_bytes(); });
  r.add_counter("nightjar_mix_cells_total",
                "Mixing delays (docs/ANONYMITY.md): cells and reply cells held, released, "
                "turned away or sent at once because limits.mix-held were held (overflow), and "
                "released with their route gone (stale).",
                {"event"}, [&s] {
                  return Series{{{"held"}, s.mix_held},
                                {{"released"}, s.mix_released},
                                {{"overflow"}, s.mix_overflow},
                                {{"stale"}, s.mix_stale}};
                });
  r.add_counter("nightjar_mix_held_microseconds_total",
                "Time the released cells were held for their mixing delays, summed.",
                [&s] { return s.mix_held_us_sum; });
  r.add_gauge("nightjar_mix_held_microseconds_max", "The longest any released cell was held.",
              [&s] { return s.mix_held_us_max; });
  r.add_gauge("nightjar_mix_cells_held", "Cells and reply cells held for mixing delays now.",
              [&relay] { return relay.mix_held_now(); });
}

void register_storage(MetricsRegistry& r, const StorageService& storage) {
  const StorageStats& s = storage.stats();
  r.add_counter("nightjar_storage_requests_total", "Storage API requests delivered to this node.",
                [&s] { return s.requests; });
  r.add_counter("nightjar_stores_total", "Store requests accepted (new or duplicate).",
                [&s] { return s.stores; });
  r.add_counter("nightjar_retrieves_total", "Retrieve requests answered.",
                [&s] { return s.retrieves; });
  r.add_counter("nightjar_records_published_total",
                "Public records accepted for publishing (new or duplicate).",
                [&s] { return s.publishes; });
  r.add_counter("nightjar_record_lookups_total", "Lookups of public records received.",
                [&s] { return s.lookups; });
  r.add_counter("nightjar_deletes_total", "Delete and delete-all requests carried out.",
                [&s] { return s.deletes; });
  r.add_counter("nightjar_storage_rejected_total", "Storage API requests refused, by status.",
                {"status"}, [&s] {
                  Series out;
                  for (std::size_t i = 1; i < std::size(storage_statuses); ++i)
                    out.push_back({{storage_statuses[i]}, s.rejected[i]});
                  return out;
                });
  r.add_counter("nightjar_long_polls_total", "Retrieve requests that waited for a message.",
                [&s] { return s.long_polls; });
  r.add_counter("nightjar_long_poll_segments_total",
                "Answers sent on streamed long polls that stay open for the next message.",
                [&s] { return s.poll_segments; });
  r.add_counter("nightjar_long_poll_padding_total",
                "Empty answers sent on streamed long polls only to keep the poll padding's pace.",
                [&s] { return s.padding_segments; });
  r.add_counter("nightjar_cover_cells_total", "Cover cells that reached this node, by kind.",
                {"kind"}, [&s] {
                  return Series{{{"loop"}, s.cover_loops}, {{"drop"}, s.cover_drops}};
                });
  r.add_gauge("nightjar_long_polls_waiting", "Retrieve requests waiting now.",
              [&s] { return s.waiting; });
}

void register_store(MetricsRegistry& r, MessageStore& store) {
  r.add_gauge("nightjar_store_messages", "Messages stored (expired ones until the next sweep).",
              [&store] { return store.message_count(); });
  r.add_gauge("nightjar_store_body_bytes", "Bytes of message bodies stored.",
              [&store] { return store.body_bytes(); });
  r.add_gauge("nightjar_store_disk_bytes", "Bytes the message database takes on disk.",
              [&store] { return store.disk_bytes(); });
  r.add_counter("nightjar_store_write_batches_total",
                "Batches the store's writer wrote, one fsync each (group commit).",
                [&store] { return store.writer_stats().batches; });
  r.add_counter("nightjar_store_write_operations_total",
                "Write operations (stores, replicas, deletes, sweeps) those batches carried.",
                [&store] { return store.writer_stats().operations; });
  r.add_counter("nightjar_store_write_failures_total",
                "Batches that failed to be written (their answers say internal).",
                [&store] { return store.writer_stats().failed_batches; });
  r.add_gauge("nightjar_store_writes_in_progress",
              "Write operations staged or being written: answers waiting for the disk.",
              [&store] { return store.writes_in_progress(); });
}

void register_replication(MetricsRegistry& r, const Replicator& replicator) {
  const ReplicationStats& s = replicator.stats();
  r.add_counter("nightjar_replication_pushes_total", "Replication pushes, by direction.",
                {"direction"}, [&s] {
                  return Series{{{"sent"}, s.pushes_sent}, {{"received"}, s.pushes_received}};
                });
  r.add_counter("nightjar_replication_acks_total", "Push acknowledgements received.",
                [&s] { return s.acks_received; });
  r.add_counter("nightjar_replication_quorum_total",
                "Stores whose replication reached its quorum in time, or did not.", {"result"},
                [&s] {
                  return Series{{{"reached"}, s.quorum_reached}, {{"failed"}, s.quorum_failed}};
                });
  r.add_counter("nightjar_replication_summaries_total", "Anti-entropy summaries sent.",
                [&s] { return s.summaries_sent; });
  r.add_counter("nightjar_replication_repaired_total",
                "Messages and tombstones fetched by anti-entropy.", [&s] { return s.repaired; });
  r.add_counter(
      "nightjar_replication_migrated_total", "Recipients and messages moved to another swarm.",
      {"kind"}, [&s] {
        return Series{{{"recipients"}, s.migrated_recipients}, {{"messages"}, s.migrated_messages}};
      });
  r.add_counter("nightjar_replication_wrong_swarm_total",
                "Pushes refused because their recipient is not this swarm's.",
                [&s] { return s.wrong_swarm; });
  r.add_gauge("nightjar_replication_lag",
              "Replication backlog: messages being fetched plus migrations in progress; zero when "
              "in step with the swarm.",
              [&replicator] { return replicator.backlog(); });
}

void register_directory(MetricsRegistry& r, Node& node) {
  r.add_gauge("nightjar_directory_epoch", "Epoch of the directory this node holds (0: none).",
              [&node] { return node.directory().epoch(); });
  r.add_gauge("nightjar_directory_nodes", "Nodes listed in the directory this node holds.",
              [&node] {
                auto d = node.directory().current();
                return d ? d->entries.size() : std::size_t{0};
              });
  r.add_gauge("nightjar_directory_swarms", "Swarms in the directory this node holds.", [&node] {
    auto d = node.directory().current();
    return d ? d->swarms().size() : std::size_t{0};
  });
  if (node.is_authority()) return;
  r.add_gauge("nightjar_directory_listed",
              "1 when this node is listed in the directory it holds (it relays and stores).",
              [&node] {
                auto d = node.directory().current();
                return d && d->find(node.id()) ? 1 : 0;
              });
  r.add_gauge("nightjar_directory_registered_authorities",
              "Authorities that accepted this node's last registration.", [&node] {
                const DirectoryClient* c = node.directory_client();
                return c ? c->accepted_by() : std::size_t{0};
              });
}

void register_limits(MetricsRegistry& r, Node& node) {
  r.add_gauge("nightjar_links",
              "Open links, by who dialed: accepted from nodes and clients, "
              "control links this node dialed, relay links to next hops.",
              {"kind"}, [&node] {
                const OnionRelay* relay = node.relay();
                return Series{{{"accepted"}, node.accepted_links()},
                              {{"control"}, node.control_links()},
                              {{"relay"}, relay ? relay->outgoing_links() : std::size_t{0}}};
              });
  r.add_counter("nightjar_link_descriptor_failures_total",
                "Links this process could not dial or accept for want of file descriptors "
                "(EMFILE, ENFILE): raise LimitNOFILE= or ulimit -n when it moves.",
                [] { return link_descriptor_failures(); });
  const RateLimitStats& s = node.rate_limit_stats();
  r.add_counter("nightjar_rate_limited_total",
                "Frames over their link's rate limit: onion cells answered 'overloaded' "
                "(refused), onion cells and other frames dropped.",
                {"action"}, [&s] {
                  return Series{{{"refused"}, s.cells_refused},
                                {{"cell_dropped"}, s.cells_dropped},
                                {{"frame_dropped"}, s.frames_dropped}};
                });
}

}  // namespace

void register_node_metrics(MetricsRegistry& r, Node& node, NodeMetricsOptions options) {
  r.add_build_info(std::string(nightjar_version()));
  r.add_gauge("nightjar_uptime_seconds", "Seconds since the node started.", [options] {
    return std::chrono::duration<double>(options.now() - options.started).count();
  });
  r.add_gauge("nightjar_authority", "1 when this node is a directory authority.",
              [&node] { return node.is_authority() ? 1 : 0; });
  register_directory(r, node);
  register_limits(r, node);
  if (const Authority* a = node.authority()) {
    r.add_gauge("nightjar_authority_registered", "Nodes registered with this authority.",
                [a] { return a->registered(); });
    r.add_gauge("nightjar_authority_reachable",
                "Registered nodes this authority reached on their published address.",
                [a] { return a->reachable(); });
  }
  if (const OnionRelay* relay = node.relay()) register_relay(r, *relay);
  if (const StorageService* storage = node.storage()) register_storage(r, *storage);
  if (MessageStore* store = node.store()) register_store(r, *store);
  if (const Replicator* replicator = node.replicator()) register_replication(r, *replicator);
}

}  // namespace nightjar
