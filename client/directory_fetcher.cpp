#include "client/directory_fetcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace nightjar::client {

namespace {
constexpr std::chrono::milliseconds attempt_timeout{4000};
constexpr std::chrono::milliseconds round_pause{500};
constexpr std::size_t node_sources = 3;
}  // namespace

DirectoryFetcher::DirectoryFetcher(uv_loop_t* loop, NetworkConfig network, LinkConfig link,
                                   std::shared_ptr<spdlog::logger> log)
    : loop_(loop),
      network_(std::move(network)),
      link_(std::move(link)),
      log_(std::move(log)),
      timer_(loop),
      jobs_(loop) {
  if (!log_) log_ = spdlog::default_logger();
}

DirectoryFetcher::~DirectoryFetcher() { close(); }

void DirectoryFetcher::close() {
  closed_ = true;
  jobs_.cancel_all();
  timer_.close();
  ++attempt_;
  if (link_in_use_) {
    link_in_use_->close();
    link_in_use_.reset();
  }
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) w(fail(std::string("stopped")));
}

void DirectoryFetcher::fetch(std::shared_ptr<const Directory> held, Handler done,
                             std::chrono::milliseconds timeout) {
  waiting_.push_back(std::move(done));
  if (waiting_.size() > 1) return;  // joins the fetch under way
  held_ = std::move(held);
  sources_.clear();
  next_ = 0;
  last_error_ = "no source answered";
  if (held_) {
    std::vector<const DirectoryEntry*> nodes;
    for (const auto& e : held_->entries) nodes.push_back(&e);
    for (std::size_t i = nodes.size(); i > 1; --i)
      std::swap(nodes[i - 1], nodes[crypto::random_uniform(static_cast<std::uint32_t>(i))]);
    for (std::size_t i = 0; i < nodes.size() && i < node_sources; ++i)
      sources_.push_back(Source{nodes[i]->node.address, nodes[i]->node.link_key,
                                nodes[i]->node.address.to_string()});
  }
  for (const auto& a : network_.authorities)
    sources_.push_back(Source{a.address, a.link_key, "authority " + a.name});
  deadline_ms_ = uv_now(loop_) + static_cast<std::uint64_t>(timeout.count());
  next_source();
}

void DirectoryFetcher::next_source() {
  if (closed_) return;
  if (uv_now(loop_) >= deadline_ms_) return finish(fail(last_error_));
  if (next_ >= sources_.size()) {
    // Every source tried: start over after a pause, until the deadline.
    next_ = 0;
    timer_.set_callback([this] { next_source(); });
    timer_.start(round_pause);
    return;
  }
  const Source src = sources_[next_++];
  assembler_ = std::make_unique<BlobAssembler>(Directory::max_encoded_bytes);
  const std::uint64_t attempt = ++attempt_;
  auto current = [this, attempt] { return attempt == attempt_; };
  const std::uint64_t have = held_ ? held_->epoch : 0;
  Link::Handlers h;
  h.on_established = [have](Link& l) { l.send(encode_fetch(have)); };
  h.on_frame = jobs_.bind([this, current, src](Link&, Bytes f) {
    if (!current() || f.empty()) return;
    if (static_cast<FrameType>(f[0]) == FrameType::dir_none) {
      if (held_) return attempt_done(held_);
      last_error_ = src.name + " has no directory yet";
      return attempt_done(fail(last_error_));
    }
    auto chunk = decode_chunk(FrameType::dir_chunk, f);
    if (!chunk) return;
    if (assembler_->add(*chunk) != BlobAssembler::Status::complete) return;
    auto d = Directory::decode(assembler_->take());
    if (!d) {
      last_error_ = src.name + " sent a directory that does not decode";
      return attempt_done(fail(last_error_));
    }
    const std::optional<std::uint64_t> held_epoch =
        held_ ? std::optional<std::uint64_t>(held_->epoch) : std::nullopt;
    if (auto ok = check_directory(*d, network_, held_epoch); !ok) {
      if (ok.error() == DirectoryError::not_newer && held_) return attempt_done(held_);
      last_error_ = src.name + " sent a directory that was refused: " + to_string(ok.error());
      return attempt_done(fail(last_error_));
    }
    attempt_done(std::make_shared<const Directory>(std::move(*d)));
  });
  h.on_closed = jobs_.bind([this, current, src](Link&, CloseReason why) {
    if (!current()) return;
    last_error_ = src.name + ": " + to_string(why);
    attempt_done(fail(last_error_));
  });
  link_in_use_ = Link::dial(loop_, src.address, src.key, nullptr, link_, std::move(h));
  timer_.set_callback([this] {
    last_error_ = "no answer in time";
    attempt_done(fail(last_error_));
  });
  timer_.start(attempt_timeout);
}

void DirectoryFetcher::attempt_done(Result<std::shared_ptr<const Directory>, std::string> r) {
  timer_.stop();
  ++attempt_;  // this attempt's link handlers are done (they may be running now)
  if (link_in_use_) {
    auto l = std::move(link_in_use_);
    link_in_use_.reset();
    l->close();
  }
  if (r) return finish(std::move(r));
  log_->debug("directory fetch: {}", r.error());
  next_source();
}

void DirectoryFetcher::finish(Result<std::shared_ptr<const Directory>, std::string> r) {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) w(r);
}

}  // namespace nightjar::client
