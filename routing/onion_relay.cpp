#include "routing/onion_relay.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

#include "routing/wire.hpp"

namespace nightjar {

const char* to_string(RelayErrorCode c) {
  switch (c) {
    case RelayErrorCode::unknown_next_hop: return "unknown next hop";
    case RelayErrorCode::next_hop_unreachable: return "next hop unreachable";
    case RelayErrorCode::overloaded: return "overloaded";
  }
  return "unknown relay error";
}

// --- Responder -----------------------------------------------------------------

std::size_t Responder::max_cell_data() const { return onion::max_reply_data(cell_bytes_); }

bool Responder::reply(Bytes data) { return send_cells(data, true); }

bool Responder::reply_segment(Bytes data) { return send_cells(data, false); }

bool Responder::send_cells(Bytes data, bool ends_request) {
  auto link = prev_.lock();
  if (!link || !link->is_open()) return false;
  const std::size_t per_cell = max_cell_data();
  std::size_t off = 0;
  do {
    const std::size_t n = std::min(per_cell, data.size() - off);
    const bool last = off + n == data.size();
    const std::uint8_t code = last && !ends_request ? reply_segment_end : 0;
    auto cell = make_reply(cell_bytes_, key_, ReplyKind::response, code, data.subspan(off, n));
    if (!cell) return false;
    const FrameType type = last && ends_request ? FrameType::onion_reply_last : FrameType::onion_reply;
    if (link->send(make_onion_frame(type, id_, *cell)) != SendStatus::ok) return false;
    if (auto s = stats_.lock()) ++s->replies_sent;
    off += n;
  } while (off < data.size());
  return true;
}

// --- OnionRelay ------------------------------------------------------------------

OnionRelay::OnionRelay(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> link_identity,
                       OnionKeyring keys, const PeerDirectory& directory, RelayConfig config,
                       DeliverHandler on_deliver)
    : loop_(loop),
      link_identity_(std::move(link_identity)),
      keys_(std::move(keys)),
      replay_(config.replay_entries_per_epoch),
      directory_(directory),
      config_(std::move(config)),
      on_deliver_(std::move(on_deliver)),
      log_(config_.link.log ? config_.link.log : spdlog::default_logger()),
      peers_(loop, link_identity_, config_.link, config_.max_pending_per_peer,
             {.on_frame = [this](Link& l, Bytes f) { handle_frame(l, f); },
              .on_queued = [this](std::uint64_t out_id, Queued outcome) { peer_queued(out_id, outcome); },
              .on_closed = [this](const NodeId&, Link& l, CloseReason, std::size_t) { peer_closed(l); }}),
      mix_timer_(loop, [this] { release_held(); }),
      jobs_(loop) {
  const auto before = keys_.epochs();
  keys_.rotate(now());
  if (config_.on_keys_changed && keys_.epochs() != before) config_.on_keys_changed(keys_);
  jobs_.housekeeping(std::chrono::seconds(1), [this] { maintain(); });
}

OnionRelay::~OnionRelay() { close(); }

std::uint64_t OnionRelay::now() const { return config_.clock.unix_s(); }

void OnionRelay::close() {
  jobs_.cancel_all();
  mix_timer_.close();
  held_.clear();
  table_.clear();  // first: what the links still held fails nothing now
  expiry_.clear();
  peers_.close_all();
}

std::size_t OnionRelay::awaiting_replies() const {
  std::size_t n = 0;
  peers_.for_each_link([&n](const NodeId&, const Link& l) { n += l.awaiting(); });
  return n;
}

void OnionRelay::maintain() {
  const auto before = keys_.epochs();
  for (std::uint64_t epoch : keys_.rotate(now())) replay_.forget_epoch(epoch);
  if (config_.on_keys_changed && keys_.epochs() != before) config_.on_keys_changed(keys_);
  expire_entries();
}

void OnionRelay::expire_entries() {
  const std::uint64_t t = uv_now(loop_);
  while (!expiry_.empty() && expiry_.front().first <= t) {
    table_.erase(expiry_.front().second);
    expiry_.pop_front();
  }
}

bool OnionRelay::handle_frame(Link& from, Bytes frame) {
  if (frame.empty()) return false;
  const auto type = static_cast<FrameType>(frame[0]);
  if (type != FrameType::onion_cell && type != FrameType::onion_reply &&
      type != FrameType::onion_reply_last)
    return false;
  if (frame.size() != onion_frame_header + config_.cell_bytes) {
    ++stats_->dropped_bad_frame;
    log_->debug("onion frame of {} bytes from {} dropped: wrong size", frame.size(),
                from.peer_label());
    return true;
  }
  const std::uint64_t id = load_u64(frame.data() + 1);
  Bytes cell = frame.subspan(onion_frame_header);
  if (type == FrameType::onion_cell)
    handle_cell(from, id, cell);
  else
    handle_reply(from, type, id, cell);
  return true;
}

bool OnionRelay::refuse_cell(Link& from, Bytes frame, RelayErrorCode code) {
  if (frame.size() != onion_frame_header + config_.cell_bytes ||
      static_cast<FrameType>(frame[0]) != FrameType::onion_cell)
    return false;
  ++stats_->cells_in;
  scratch_.assign(frame.begin() + onion_frame_header, frame.end());
  auto peeled = peel_cell(keys_, replay_, scratch_, config_.cell_bytes, now());
  if (!peeled) {
    ++stats_->dropped[static_cast<std::size_t>(peeled.error())];
    return true;
  }
  send_error(from, load_u64(frame.data() + 1), peeled->reply_key, code);
  return true;
}

void OnionRelay::handle_cell(Link& from, std::uint64_t id, Bytes cell) {
  ++stats_->cells_in;
  // The outgoing frame is built in the relay's buffer, lent to this call (a
  // call from inside on_deliver_ would find it empty and use its own), so a
  // forwarded cell costs no allocation.
  std::vector<std::uint8_t> out = std::move(frame_buf_);
  out.resize(onion_frame_header + cell.size());
  peel_and_forward(from, id, cell, out);
  frame_buf_ = std::move(out);
}

void OnionRelay::peel_and_forward(Link& from, std::uint64_t id, Bytes cell,
                                  std::vector<std::uint8_t>& out) {
  // Build the outgoing frame in place: header, then the cell peeled inside it.
  MutableBytes buf{out.data() + onion_frame_header, cell.size()};
  std::memcpy(buf.data(), cell.data(), cell.size());
  auto peeled = peel_cell(keys_, replay_, buf, config_.cell_bytes, now());
  if (!peeled) {
    ++stats_->dropped[static_cast<std::size_t>(peeled.error())];
    log_->debug("cell dropped: {}", to_string(peeled.error()));
    return;
  }
  if (peeled->action == onion::SlotType::deliver) {
    ++stats_->cells_delivered;
    if (on_deliver_)
      on_deliver_(peeled->data, Responder(from.weak_from_this(), id, std::move(peeled->reply_key),
                                          config_.cell_bytes, stats_));
    return;
  }

  const std::optional<PeerInfo> next = directory_.lookup(peeled->next_hop);
  if (!next) {
    send_error(from, id, peeled->reply_key, RelayErrorCode::unknown_next_hop);
    return;
  }
  expire_entries();
  if (table_.size() >= config_.max_entries) {
    send_error(from, id, peeled->reply_key, RelayErrorCode::overloaded);
    return;
  }
  const std::uint64_t out_id = fresh_out_id();

  Entry e;
  e.prev = from.weak_from_this();
  e.prev_id = id;
  e.key = std::move(peeled->reply_key);
  e.expires = uv_now(loop_) + static_cast<std::uint64_t>(config_.entry_ttl.count()) * 1000;
  expiry_.emplace_back(e.expires, out_id);
  Entry& entry = table_.emplace(out_id, std::move(e)).first->second;
  // Entries answered early leave stale expiry records behind; keep the queue
  // proportional to the table.
  if (expiry_.size() > 2 * config_.max_entries + 1024) {
    std::erase_if(expiry_, [&](const auto& rec) {
      auto it = table_.find(rec.second);
      return it == table_.end() || it->second.expires != rec.first;
    });
  }

  write_onion_frame_header(out, FrameType::onion_cell, out_id);
  if (mix_mean_us_ > 0) {
    if (held_.size() >= config_.max_mix_held) {
      ++stats_->mix_overflow;
      fail_entry(out_id, RelayErrorCode::overloaded);
      return;
    }
    Held h;
    h.due_us = uv_hrtime() / 1000 + draw_delay_us();
    h.out_id = out_id;
    h.next = peeled->next_hop;
    h.frame.assign(out.begin(), out.end());
    hold(std::move(h));
    return;
  }
  forward(peeled->next_hop, *next, out_id, entry, out);
}

// Random words drawn from a batch: one call to the system's random source
// per 32 cells, not one per cell.
std::uint64_t OnionRelay::random_u64() {
  if (random_ids_left_ == 0) {
    crypto::random_bytes({reinterpret_cast<std::uint8_t*>(random_ids_.data()),
                          random_ids_.size() * sizeof random_ids_[0]});
    random_ids_left_ = random_ids_.size();
  }
  return random_ids_[--random_ids_left_];
}

// A random ID for the next link, not in use.
std::uint64_t OnionRelay::fresh_out_id() {
  for (;;) {
    const std::uint64_t id = random_u64();
    if (!table_.count(id)) return id;
  }
}

void OnionRelay::set_mixing(std::chrono::milliseconds mean, std::chrono::milliseconds bound) {
  mix_mean_us_ = mean.count() > 0 ? static_cast<std::uint64_t>(mean.count()) * 1000 : 0;
  mix_bound_us_ = std::max<std::uint64_t>(static_cast<std::uint64_t>(std::max<std::int64_t>(bound.count(), 0)) * 1000, mix_mean_us_);
}

// Exponential with the configured mean, from a uniform draw in (0, 1] with
// 53 random bits; cut at the bound (the tail beyond it is released at the
// bound).
std::uint64_t OnionRelay::draw_delay_us() {
  const double u = static_cast<double>((random_u64() >> 11) + 1) * 0x1.0p-53;
  const double d = -std::log(u) * static_cast<double>(mix_mean_us_);
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(d), mix_bound_us_);
}

void OnionRelay::hold(Held h) {
  h.seq = held_seq_++;
  h.since_us = uv_hrtime() / 1000;
  ++stats_->mix_held;
  const bool earliest = held_.empty() || HeldLater{}(held_.front(), h);
  held_.push_back(std::move(h));
  std::push_heap(held_.begin(), held_.end(), HeldLater{});
  if (earliest) arm_mix_timer(uv_hrtime() / 1000);
}

// Wakes in whole milliseconds, rounded down: release_held() then takes
// what is due within the millisecond, so a cell leaves at most that much
// early and is not held past its time by the timer's resolution.
void OnionRelay::arm_mix_timer(std::uint64_t now_us) {
  const std::uint64_t due = held_.front().due_us;
  mix_timer_.start(std::chrono::milliseconds(due > now_us ? (due - now_us) / 1000 : 0));
}

// Sends everything due within the next millisecond, in release order, then
// waits for the next.
void OnionRelay::release_held() {
  const std::uint64_t now_us = uv_hrtime() / 1000;
  while (!held_.empty() && held_.front().due_us < now_us + 1000) {
    std::pop_heap(held_.begin(), held_.end(), HeldLater{});
    Held h = std::move(held_.back());
    held_.pop_back();
    ++stats_->mix_released;
    const std::uint64_t held_us = now_us > h.since_us ? now_us - h.since_us : 0;
    stats_->mix_held_us_sum += held_us;
    stats_->mix_held_us_max = std::max(stats_->mix_held_us_max, held_us);
    if (config_.on_mix_released)
      config_.on_mix_released(std::chrono::microseconds(h.due_us - h.since_us),
                              std::chrono::microseconds(held_us));
    if (h.reply) {
      if (auto e = table_.find(h.out_id); e != table_.end() && e->second.replies_held > 0)
        --e->second.replies_held;
      auto prev = h.prev.lock();
      if (prev && prev->send(h.frame) == SendStatus::ok)
        ++stats_->replies_forwarded;
      else
        ++stats_->replies_dropped;
      continue;
    }
    auto it = table_.find(h.out_id);
    const std::optional<PeerInfo> peer = directory_.lookup(h.next);
    if (it == table_.end() || !peer) {
      ++stats_->mix_stale;
      if (it != table_.end()) fail_entry(h.out_id, RelayErrorCode::unknown_next_hop);
      continue;
    }
    forward(h.next, *peer, h.out_id, it->second, h.frame);
  }
  if (!held_.empty()) arm_mix_timer(now_us);
}

// One pool lookup per cell: send() answers with the link it used, on which
// the entry awaits the reply. Only the first cell to a peer dials.
void OnionRelay::forward(const NodeId& next, const PeerInfo& peer, std::uint64_t out_id,
                         Entry& entry, Bytes frame) {
  PoolSendResult sent = peers_.send(next, frame, out_id);
  if (sent.status == PoolSend::no_link) {
    peers_.dial(next, peer);
    sent = peers_.send(next, frame, out_id);
  }
  switch (sent.status) {
    case PoolSend::sent: ++stats_->cells_forwarded; break;
    case PoolSend::queued: break;  // peer_queued() reports it
    case PoolSend::no_link: fail_entry(out_id, RelayErrorCode::next_hop_unreachable); return;
    default: fail_entry(out_id, RelayErrorCode::overloaded); return;
  }
  entry.next = ReplyWait(*sent.link);
}

void OnionRelay::peer_queued(std::uint64_t out_id, Queued outcome) {
  switch (outcome) {
    case Queued::sent: ++stats_->cells_forwarded; break;
    case Queued::refused: fail_entry(out_id, RelayErrorCode::overloaded); break;
    case Queued::lost: fail_entry(out_id, RelayErrorCode::next_hop_unreachable); break;
  }
}

void OnionRelay::peer_closed(Link& link) {
  // Cells already sent on this link will get no answer on it: tell their
  // senders now rather than let them wait for their own timeouts (a long
  // poll would otherwise hang until the client gives up). Link closes are
  // rare and the table is bounded, so a scan is cheap enough.
  std::vector<std::uint64_t> stranded;
  for (const auto& [out_id, entry] : table_)
    if (entry.next.link().get() == &link) stranded.push_back(out_id);
  for (std::uint64_t out_id : stranded) fail_entry(out_id, RelayErrorCode::next_hop_unreachable);
}

void OnionRelay::fail_entry(std::uint64_t out_id, RelayErrorCode code) {
  auto it = table_.find(out_id);
  if (it == table_.end()) return;
  if (auto prev = it->second.prev.lock()) send_error(*prev, it->second.prev_id, it->second.key, code);
  table_.erase(it);  // its expiry_ record is skipped when it comes due
}

void OnionRelay::send_error(Link& to, std::uint64_t id, const ReplyKey& key, RelayErrorCode code) {
  ++stats_->dropped_unforwardable;
  log_->debug("cell not forwarded: {}", to_string(code));
  auto cell = make_reply(config_.cell_bytes, key, ReplyKind::relay_error,
                         static_cast<std::uint8_t>(code), {});
  if (!cell) return;
  if (to.send(make_onion_frame(FrameType::onion_reply_last, id, *cell)) == SendStatus::ok)
    ++stats_->error_replies;
}

void OnionRelay::handle_reply(Link& from, FrameType type, std::uint64_t id, Bytes cell) {
  auto it = table_.find(id);
  if (it == table_.end() || it->second.next.link().get() != &from) {
    ++stats_->replies_dropped;
    return;
  }
  auto prev = it->second.prev.lock();
  if (!prev) {
    ++stats_->replies_dropped;
    table_.erase(it);
    return;
  }
  scratch_.resize(onion_frame_header + cell.size());
  write_onion_frame_header(scratch_, type, it->second.prev_id);
  std::memcpy(scratch_.data() + onion_frame_header, cell.data(), cell.size());
  wrap_reply(it->second.key, {scratch_.data() + onion_frame_header, cell.size()});
  // One request's reply cells leave in the order they came: while one is
  // held, the next is held too (beyond the bound on held cells, and after
  // mixing was turned off).
  Entry& entry = it->second;
  if (entry.replies_held > 0 || (mix_mean_us_ > 0 && held_.size() < config_.max_mix_held)) {
    Held h;
    const std::uint64_t delay = mix_mean_us_ > 0 ? draw_delay_us() : 0;
    h.due_us = std::max(uv_hrtime() / 1000 + delay, entry.reply_due_us);
    entry.reply_due_us = h.due_us;
    ++entry.replies_held;
    h.reply = true;
    h.out_id = id;
    h.prev = prev;
    h.frame = scratch_;
    hold(std::move(h));
  } else {
    if (mix_mean_us_ > 0) ++stats_->mix_overflow;
    if (prev->send(scratch_) == SendStatus::ok)
      ++stats_->replies_forwarded;
    else
      ++stats_->replies_dropped;
  }
  if (type == FrameType::onion_reply_last) table_.erase(it);
}

}  // namespace nightjar
