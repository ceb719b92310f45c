// Cover traffic (docs/ANONYMITY.md, "Cover traffic"): while the client is
// subscribed and the network's defences set rates, it sends loop cells
// (a CoverRequest the destination answers, so the cell comes back) and drop
// cells (one the destination discards), together one Poisson stream at the
// sum of the two rates, each cell a loop with probability loop/(loop+drop).
// Each goes to a node picked uniformly from the directory over a path like
// any other (the client's guard, then relays), so on the link it is a cell
// like every other: same size, same guard, a fresh path.
#include <spdlog/spdlog.h>

#include <uv.h>

#include <cmath>

#include "client/client_impl.hpp"
#include "swarm/storage_messages.hpp"

namespace nightjar::client {

namespace {

// A uniform double in (0, 1], from 53 random bits.
double uniform_open(RandomSource& rng) {
  std::uint64_t x = 0;
  rng.fill({reinterpret_cast<std::uint8_t*>(&x), sizeof x});
  return static_cast<double>((x >> 11) + 1) * 0x1.0p-53;
}

}  // namespace

void Client::Impl::update_cover() {
  const bool wanted = subscribed && directory &&
                      (directory->params.defences.loop_rate_millihertz > 0 ||
                       directory->params.defences.drop_rate_millihertz > 0);
  if (!wanted && cover_timer.active()) cover_timer.stop();
  if (wanted && !cover_timer.active()) {
    next_cover_us = uv_hrtime() / 1000;
    schedule_cover();
  }
}

// The next cell's time is drawn from the previous one's, not from when the
// timer fired, so the loop's lateness does not slow the stream down.
void Client::Impl::schedule_cover() {
  const auto& d = directory->params.defences;
  const double rate = static_cast<double>(d.loop_rate_millihertz + d.drop_rate_millihertz) / 1000.0;
  next_cover_us += static_cast<std::uint64_t>(-std::log(uniform_open(rng)) / rate * 1e6);
  const std::uint64_t now_us = uv_hrtime() / 1000;
  // After a stall of the loop, no burst to catch up: the stream goes on from now.
  if (next_cover_us + 1'000'000 < now_us) next_cover_us = now_us;
  const std::uint64_t wait_us = next_cover_us > now_us ? next_cover_us - now_us : 0;
  cover_timer.start(std::chrono::milliseconds((wait_us + 500) / 1000));
}

void Client::Impl::send_cover() {
  if (stopped || !subscribed || !directory || directory->entries.empty()) return;
  const auto& d = directory->params.defences;
  const std::uint32_t total = d.loop_rate_millihertz + d.drop_rate_millihertz;
  if (total == 0) return;
  schedule_cover();  // the next one, whatever becomes of this one
  const bool is_loop = uniform_open(rng) * total <= d.loop_rate_millihertz;
  std::uint64_t pick = 0;
  rng.fill({reinterpret_cast<std::uint8_t*>(&pick), sizeof pick});
  const NodeId destination = directory->entries[pick % directory->entries.size()].node.id;
  auto path = paths.path_to_node(destination, now_ms());
  if (!path) {
    ++stats.cover_failed;
    return;
  }
  const auto request = storage::encode(storage::Request{storage::CoverRequest{is_loop}});
  if (!is_loop) {
    ++stats.cover_drops;
    if (!onion->send_oneway(path->relays, path->destination, request)) ++stats.cover_failed;
    return;
  }
  ++stats.cover_loops;
  onion->send(path->relays, path->destination, request,
              jobs.bind([this, p = *path](Result<std::vector<std::uint8_t>, RequestFailure> r) {
                auto resp = r ? storage::decode_response(storage::Method::cover, *r)
                              : Result<storage::Response, WireError>(fail(WireError::bad_value));
                if (resp && resp->status == storage::Status::ok) {
                  ++stats.cover_loops_returned;
                  paths.report_path_success(p, now_ms());
                } else {
                  ++stats.cover_failed;
                  if (!r) paths.report_path_failure(p, r.error(), now_ms());
                }
              }));
}

}  // namespace nightjar::client
