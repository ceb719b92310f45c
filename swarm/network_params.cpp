#include "swarm/network_params.hpp"

#include "routing/onion_cell.hpp"

namespace nightjar {

std::uint32_t NetworkParams::quorum_for(std::uint32_t swarm_size) const {
  if (swarm_size == 0) return 0;
  const std::uint32_t q = quorum == 0 ? swarm_size / 2 + 1 : quorum;
  return q < swarm_size ? q : swarm_size;
}

std::string NetworkParams::check() const {
  if (!swarm.valid()) return "swarm sizes must satisfy 1 <= min <= ideal <= max <= 64";
  // Below this, some node counts cannot be split into swarms within bounds
  // (docs/PROTOCOL.md, "Swarm placement").
  if (swarm.max + 1 < 2 * swarm.min) return "swarm sizes must satisfy max >= 2*min - 1";
  if (quorum > swarm.max) return "quorum larger than the largest swarm";
  if (!onion::valid_cell_size(cell_bytes)) return "cell size out of range (552..16384)";
  if (directory_epoch_seconds < 1 || directory_epoch_seconds > 86400)
    return "directory epoch must be 1..86400 seconds";
  if (directory_lifetime_epochs < 1 || directory_lifetime_epochs > 100)
    return "directory lifetime must be 1..100 epochs";
  if (onion_epoch_seconds < 2 || 2 * onion_grace_seconds >= onion_epoch_seconds)
    return "onion grace must be less than half the onion epoch";
  if (ttl_min_seconds < 1 || ttl_min_seconds > ttl_max_seconds)
    return "TTL range must satisfy 1 <= min <= max";
  if (max_body_bytes < 1 || max_body_bytes > 65535) return "max body must be 1..65535 bytes";
  if (recipient_quota_messages < 1 || recipient_quota_bytes < max_body_bytes)
    return "recipient quota must hold at least one message";
  const Defences& d = defences;
  if (d.mix_delay_ms > 0 && (d.mix_delay_max_ms < d.mix_delay_ms || d.mix_delay_max_ms > 10'000))
    return "mix delay bound must be at least the mean and at most 10000 ms";
  if (d.mix_delay_ms == 0 && d.mix_delay_max_ms != 0)
    return "mix delay bound without a mix delay";
  if (d.loop_rate_millihertz > 100'000 || d.drop_rate_millihertz > 100'000)
    return "cover traffic rates must be at most 100 cells per second";
  if (d.poll_padding_ms != 0 && (d.poll_padding_ms < 50 || d.poll_padding_ms > 60'000))
    return "poll padding must be 0 (off) or 50..60000 ms";
  return {};
}

void NetworkParams::encode(WireWriter& w) const {
  w.u32(swarm.min).u32(swarm.ideal).u32(swarm.max).u32(quorum).u32(cell_bytes);
  w.u32(directory_epoch_seconds).u32(directory_lifetime_epochs);
  w.u32(onion_epoch_seconds).u32(onion_grace_seconds);
  w.u32(ttl_min_seconds).u32(ttl_max_seconds).u32(max_body_bytes);
  w.u32(recipient_quota_messages).u64(recipient_quota_bytes);
  w.u32(defences.mix_delay_ms).u32(defences.mix_delay_max_ms);
  w.u32(defences.loop_rate_millihertz).u32(defences.drop_rate_millihertz);
  w.u32(defences.poll_padding_ms);
}

Result<NetworkParams, WireError> NetworkParams::decode(WireReader& r) {
  NetworkParams p;
  std::uint32_t* fields[] = {&p.swarm.min,
                             &p.swarm.ideal,
                             &p.swarm.max,
                             &p.quorum,
                             &p.cell_bytes,
                             &p.directory_epoch_seconds,
                             &p.directory_lifetime_epochs,
                             &p.onion_epoch_seconds,
                             &p.onion_grace_seconds,
                             &p.ttl_min_seconds,
                             &p.ttl_max_seconds,
                             &p.max_body_bytes,
                             &p.recipient_quota_messages};
  for (std::uint32_t* f : fields) {
    auto v = r.u32();
    if (!v) return v.failure();
    *f = *v;
  }
  auto q = r.u64();
  if (!q) return q.failure();
  p.recipient_quota_bytes = *q;
  std::uint32_t* defences[] = {&p.defences.mix_delay_ms, &p.defences.mix_delay_max_ms,
                               &p.defences.loop_rate_millihertz,
                               &p.defences.drop_rate_millihertz, &p.defences.poll_padding_ms};
  for (std::uint32_t* f : defences) {
    auto v = r.u32();
    if (!v) return v.failure();
    *f = *v;
  }
  if (!p.check().empty()) return fail(WireError::bad_value);
  return p;
}

}  // namespace nightjar
