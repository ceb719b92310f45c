#include "node/directory_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace nightjar {

namespace {
// The timer is armed for the next registration or fetch, at least tick_ms
// and at most max_wait_ms ahead: those are due once per epoch, and a 50 ms
// period (the old design) woke every node 20 times a second for nothing.
// The cap bounds how late a clock that jumps (a test's, the simnet's) is
// noticed, and the quiet-authorities warning.
constexpr std::chrono::milliseconds tick_ms{50};
constexpr std::uint64_t max_wait_ms = 1000;
constexpr std::uint64_t bootstrap_poll_ms = 1000;
}  // namespace

DirectoryClient::DirectoryClient(uv_loop_t* loop, DirectoryClientConfig config,
                                 DirectoryState& state, PeerLinks& peers)
    : config_(std::move(config)),
      state_(state),
      peers_(peers),
      log_(config_.log ? config_.log : spdlog::default_logger()),
      timer_(loop, [this] { tick(); }),
      status_(state.network().authorities.size(), RegisterStatus::not_authority) {}

DirectoryClient::~DirectoryClient() { stop(); }

void DirectoryClient::start() {
  if (running_) return;
  running_ = true;
  last_answer_ms_ = config_.clock.unix_ms();
  timer_.start(std::chrono::milliseconds(0));
}

void DirectoryClient::stop() {
  running_ = false;
  timer_.close();
}

void DirectoryClient::schedule(std::uint64_t now) {
  if (!running_) return;
  std::uint64_t next = next_fetch_ms_;
  if (config_.register_node && config_.descriptor) next = std::min(next, next_register_ms_);
  const std::uint64_t wait = next > now ? next - now : 0;
  timer_.start(std::chrono::milliseconds(
      std::clamp<std::uint64_t>(wait, static_cast<std::uint64_t>(tick_ms.count()), max_wait_ms)));
}

std::uint64_t DirectoryClient::epoch_ms() const {
  auto d = state_.current();
  return d ? std::uint64_t{d->params.directory_epoch_seconds} * 1000 : 0;
}

std::size_t DirectoryClient::accepted_by() const {
  return static_cast<std::size_t>(
      std::count(status_.begin(), status_.end(), RegisterStatus::accepted));
}

void DirectoryClient::register_now() {
  next_register_ms_ = 0;
  if (running_) timer_.start(std::chrono::milliseconds(0));
}

void DirectoryClient::tick() {
  const std::uint64_t now = config_.clock.unix_ms();
  const std::uint64_t t = epoch_ms();
  if (config_.register_node && config_.descriptor && now >= next_register_ms_) {
    const auto frame = encode_register(config_.descriptor());
    for (const auto& a : state_.network().authorities)
      peers_.send(PeerAddress{a.address, a.link_key}, frame);
    // Once per epoch, in its second half, so the next vote sees a fresh one.
    next_register_ms_ = t == 0 ? now + 2 * bootstrap_poll_ms : (now / t + 1) * t + t / 2;
  }
  if (now >= next_fetch_ms_) fetch();
  // Operators must hear about a node that cannot reach its network.
  const std::uint64_t quiet = std::max<std::uint64_t>(3 * t, 30'000);
  if (now > last_answer_ms_ + quiet && now >= next_warning_ms_) {
    log_->warn("no answer from any of the {} authorities for {} s: check the network file and "
               "that the authorities are running and reachable",
               state_.network().authorities.size(), (now - last_answer_ms_) / 1000);
    next_warning_ms_ = now + 5 * quiet;
  }
  schedule(now);
}

void DirectoryClient::fetch() {
  const std::uint64_t now = config_.clock.unix_ms();
  const std::uint64_t t = epoch_ms();
  const auto& auths = state_.network().authorities;
  if (t != 0 && state_.epoch() >= now / t) {
    // Up to date: ask again shortly after the next epoch starts.
    next_fetch_ms_ = (now / t + 1) * t + std::max<std::uint64_t>(t / 10, static_cast<std::uint64_t>(tick_ms.count()));
    return;
  }
  const auto& a = auths[fetch_turn_++ % auths.size()];
  peers_.send(PeerAddress{a.address, a.link_key}, encode_fetch(state_.epoch()));
  next_fetch_ms_ = now + (t == 0 ? bootstrap_poll_ms / 2 : std::max<std::uint64_t>(t / 8, 100));
}

bool DirectoryClient::handle_frame(Link& from, Bytes frame) {
  if (frame.empty()) return false;
  const auto type = static_cast<FrameType>(frame[0]);
  if (type != FrameType::dir_register_reply && type != FrameType::dir_chunk &&
      type != FrameType::dir_none)
    return false;
  // Only the authorities answer these: anything else sending them is
  // ignored (and must not be able to fill the log).
  const auto& key = from.peer_static();
  bool from_authority = false;
  for (const auto& a : state_.network().authorities)
    if (key && a.link_key == *key) from_authority = true;
  if (!from_authority) return true;
  last_answer_ms_ = config_.clock.unix_ms();
  switch (type) {
    case FrameType::dir_register_reply: {
      auto r = decode_register_reply(frame);
      if (!r || !from.peer_static()) return true;
      const auto& auths = state_.network().authorities;
      for (std::size_t i = 0; i < auths.size(); ++i) {
        if (!(auths[i].link_key == *from.peer_static())) continue;
        if (r->status != status_[i])
          (r->status == RegisterStatus::accepted ? log_->info("registered with authority {}", auths[i].name)
                                                 : log_->warn("authority {} refused the registration: {}",
                                                              auths[i].name, to_string(r->status)));
        status_[i] = r->status;
      }
      return true;
    }
    case FrameType::dir_chunk: {
      auto chunk = decode_chunk(FrameType::dir_chunk, frame);
      if (!chunk) return true;
      auto [it, fresh] = assemblers_.try_emplace(&from, Directory::max_encoded_bytes);
      if (it->second.add(*chunk) != BlobAssembler::Status::complete) return true;
      auto r = state_.offer_encoded(it->second.take());
      if (!r) log_->warn("directory from an authority refused: {}", to_string(r.error()));
      return true;
    }
    case FrameType::dir_none: return true;
    default: return false;
  }
}

void DirectoryClient::link_closed(Link& link) { assemblers_.erase(&link); }

}  // namespace nightjar
