#include "tests/bench/flood/cell_flood.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "routing/frame.hpp"
#include "routing/onion_relay.hpp"
#include "routing/wire.hpp"
#include "swarm/storage_messages.hpp"

namespace nightjar::flood {

namespace {
// Keep this much queued per link: enough to keep the socket busy, far under
// the link's write limit.
constexpr std::size_t queue_target = 256 * 1024;
constexpr std::size_t cells_per_turn = 16;  // per link and loop turn
constexpr std::size_t max_tracked = 100'000;
constexpr std::uint64_t redial_ms = 100;

std::uint64_t unix_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}
}  // namespace

CellFlood::CellFlood(uv_loop_t* loop, const FloodTarget& target, CellFloodOptions options)
    : loop_(loop), target_(target), options_(options), conns_(std::max<std::size_t>(1, options.connections)) {}

CellFlood::~CellFlood() { stop(); }

std::uint64_t CellFlood::elapsed_ms() const { return uv_now(loop_) - start_ms_; }

void CellFlood::start() {
  uv_update_time(loop_);
  start_ms_ = uv_now(loop_);
  for (std::size_t i = 0; i < conns_.size(); ++i) open(i);
  idle_ = new uv_idle_t;
  uv_idle_init(loop_, idle_);
  idle_->data = this;
  uv_idle_start(idle_, [](uv_idle_t* h) { static_cast<CellFlood*>(h->data)->pump(); });
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

void CellFlood::stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  if (idle_) {
    uv_close(reinterpret_cast<uv_handle_t*>(idle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
    idle_ = nullptr;
  }
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  for (auto& c : conns_)
    if (c.link) c.link->close();
  conns_.clear();
}

void CellFlood::open(std::size_t slot) {
  std::weak_ptr<bool> alive = alive_;
  Link::Handlers h;
  h.on_frame = [this, alive](Link&, Bytes f) {
    if (auto a = alive.lock(); a && *a) on_frame(f);
  };
  h.on_closed = [this, alive, slot](Link& l, CloseReason reason) {
    auto a = alive.lock();
    if (!a || !*a || slot >= conns_.size() || conns_[slot].link.get() != &l) return;
    if (reason == CloseReason::connect_failed || reason == CloseReason::handshake_timeout ||
        !l.established())
      ++stats_.link_failures;
    else
      ++stats_.links_closed_by_target;
    conns_[slot].link.reset();
  };
  ++stats_.links_opened;
  conns_[slot].link = Link::dial(loop_, target_.entry->node.address, target_.entry->node.link_key,
                                 nullptr, target_.link, std::move(h));
}

std::vector<std::uint8_t> CellFlood::random_cell() {
  const std::size_t cell_bytes = target_.directory->params.cell_bytes;
  std::vector<std::uint8_t> cell(cell_bytes);
  crypto::random_bytes(cell);
  // The parity of the target's live onion key: the cell gets past the key
  // lookup and costs the target an X25519 before its MAC fails.
  if (const OnionKeyInfo* k = target_.entry->node.onion_key_at(unix_seconds()))
    cell[31] = static_cast<std::uint8_t>((cell[31] & 0x7f) | ((k->epoch & 1) << 7));
  return cell;
}

std::vector<std::uint8_t> CellFlood::built_cell(std::uint64_t request_id) {
  const auto& entries = target_.directory->entries;
  std::vector<const DirectoryEntry*> others;
  for (const auto& e : entries)
    if (&e != target_.entry) others.push_back(&e);
  if (others.size() < 3) return {};
  for (std::size_t i = 0; i < 3; ++i)  // three distinct others: two relays and a destination
    std::swap(others[i], others[i + crypto::random_uniform(static_cast<std::uint32_t>(others.size() - i))]);
  const std::uint64_t now = unix_seconds();
  std::vector<OnionHop> hops;
  for (const DirectoryEntry* e : {target_.entry, others[0], others[1], others[2]}) {
    const OnionKeyInfo* k = e->node.onion_key_at(now);
    if (!k) return {};
    hops.push_back(OnionHop{e->node.id, k->key, k->epoch});
  }
  auto built = build_cell(target_.directory->params.cell_bytes, hops,
                          storage::encode(storage::InfoRequest{}), rng_);
  if (!built) return {};
  if (built_pending_.size() < max_tracked)
    built_pending_.emplace(request_id, std::move(built->reply_keys));
  return std::move(built->cell);
}

bool CellFlood::send_one(Link& link, bool built) {
  const std::uint64_t id = next_id_++;
  std::vector<std::uint8_t> cell = built ? built_cell(id) : random_cell();
  if (cell.empty()) return false;
  frame_.resize(onion_frame_header + cell.size());
  frame_[0] = static_cast<std::uint8_t>(FrameType::onion_cell);
  store_u64(frame_.data() + 1, id);
  std::memcpy(frame_.data() + onion_frame_header, cell.data(), cell.size());
  if (link.send(frame_) != SendStatus::ok) {
    if (built) built_pending_.erase(id);
    return false;
  }
  ++stats_.cells_sent;
  if (built) ++stats_.built_sent;
  stats_.bytes_sent += frame_.size();
  return true;
}

void CellFlood::pump() {
  if (stopped_) return;
  const std::uint64_t elapsed = elapsed_ms();
  std::uint64_t allowed = options_.max_cells - std::min(options_.max_cells, stats_.cells_sent);
  if (options_.cells_per_second) {
    const std::uint64_t due = options_.cells_per_second * elapsed / 1000 + 1;
    allowed = std::min(allowed, due > stats_.cells_sent ? due - stats_.cells_sent : 0);
  }
  std::uint64_t built_due = 0;
  if (options_.built_per_second) {
    const std::uint64_t due = options_.built_per_second * elapsed / 1000 + 1;
    built_due = due > stats_.built_sent ? std::min<std::uint64_t>(due - stats_.built_sent, 4) : 0;
  }
  std::size_t sent = 0;
  for (std::size_t i = 0; i < conns_.size() && allowed > 0; ++i) {
    if (!conns_[i].link) {
      // Redial a closed link, but not in a tight loop against a dead target.
      if (elapsed >= conns_[i].redial_at_ms) {
        conns_[i].redial_at_ms = elapsed + redial_ms;
        open(i);
      }
      continue;
    }
    Link& link = *conns_[i].link;
    if (!link.established()) continue;
    for (std::size_t n = 0; n < cells_per_turn && allowed > 0 &&
                            link.write_queue_bytes() < queue_target;
         ++n) {
      const bool built = built_due > 0;
      if (!send_one(link, built)) break;
      if (built) --built_due;
      --allowed;
      ++sent;
    }
  }
  if (sent == 0 && idle_ && timer_) {
    // Nothing had room (or the rate is met): wait a millisecond instead of spinning.
    uv_idle_stop(idle_);
    uv_timer_start(
        timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<CellFlood*>(t->data);
          if (self->idle_)
            uv_idle_start(self->idle_, [](uv_idle_t* h) { static_cast<CellFlood*>(h->data)->pump(); });
        },
        1, 0);
  }
}

void CellFlood::on_frame(Bytes frame) {
  if (frame.size() < onion_frame_header) return;
  const auto type = static_cast<FrameType>(frame[0]);
  if (type != FrameType::onion_reply && type != FrameType::onion_reply_last) return;
  auto it = built_pending_.find(load_u64(frame.data() + 1));
  if (it == built_pending_.end()) return;
  std::vector<std::uint8_t> cell(frame.begin() + onion_frame_header, frame.end());
  auto opened = open_reply(it->second, cell);
  if (!opened) {
    ++stats_.other_errors;
    built_pending_.erase(it);
    return;
  }
  if (opened->kind == ReplyKind::relay_error) {
    if (opened->code == static_cast<std::uint8_t>(RelayErrorCode::overloaded))
      ++stats_.refused;
    else
      ++stats_.other_errors;
    built_pending_.erase(it);
    return;
  }
  if (type == FrameType::onion_reply_last) {
    ++stats_.answers;
    built_pending_.erase(it);
  }
}

}  // namespace nightjar::flood
