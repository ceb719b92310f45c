#include "node/directory_state.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iterator>

#include "routing/key_file.hpp"
#include "swarm/dir_messages.hpp"

namespace nightjar {

DirectoryState::DirectoryState(NetworkConfig network, std::filesystem::path file,
                               std::shared_ptr<spdlog::logger> log)
    : network_(std::move(network)), file_(std::move(file)), log_(std::move(log)) {
  if (!log_) log_ = spdlog::default_logger();
}

void DirectoryState::load() {
  if (file_.empty()) return;
  if (!std::filesystem::exists(file_)) return;
  auto bytes = read_private_file(file_, Directory::max_encoded_bytes);
  if (!bytes) {
    log_->warn("ignoring saved directory: {}", bytes.error());
    return;
  }
  auto r = offer_encoded(*bytes);
  if (!r) log_->warn("ignoring saved directory {}: {}", file_.string(), to_string(r.error()));
}

Result<bool, DirectoryError> DirectoryState::offer_encoded(Bytes encoded) {
  auto d = Directory::decode(encoded);
  if (!d) return d.failure();
  return offer(std::move(*d));
}

Result<bool, DirectoryError> DirectoryState::offer(Directory d) {
  const std::optional<std::uint64_t> held =
      current_ ? std::optional<std::uint64_t>(current_->epoch) : std::nullopt;
  if (auto ok = check_directory(d, network_, held); !ok) {
    if (ok.error() == DirectoryError::not_newer) return false;
    return ok.failure();
  }
  auto previous = current_;
  current_ = std::make_shared<const Directory>(std::move(d));
  encoded_ = current_->encode();
  by_link_key_.clear();
  for (const auto& e : current_->entries) by_link_key_.emplace(e.node.link_key, e.node.id);
  log_->info("directory for epoch {} adopted: {} nodes in {} swarms, {} signatures",
             current_->epoch, current_->entries.size(), current_->swarms().size(),
             current_->signatures.size());
  if (!file_.empty()) {
    if (auto w = replace_cache_file(file_, encoded_); !w)
      log_->warn("cannot save the directory: {}", w.error());
  }
  for (auto& h : handlers_) h(previous.get(), *current_);
  return true;
}

bool DirectoryState::serve_fetch(Link& from, Bytes frame) {
  auto have = decode_fetch(frame);
  if (!have) return false;
  if (!current_ || current_->epoch <= *have) {
    from.send(encode_none(epoch()));
    return true;
  }
  for (const auto& chunk : encode_chunks(FrameType::dir_chunk, current_->epoch, encoded_)) {
    if (from.send(chunk) != SendStatus::ok) break;  // the asker will try again
  }
  return true;
}

std::optional<PeerInfo> DirectoryState::lookup(const NodeId& node) const {
  if (!current_) return std::nullopt;
  const DirectoryEntry* e = current_->find(node);
  if (!e) return std::nullopt;
  return PeerInfo{e->node.address, e->node.link_key};
}

}  // namespace nightjar

namespace nightjar {
std::optional<NodeId> DirectoryState::node_with_link_key(const X25519PublicKey& key) const {
  auto it = by_link_key_.find(key);
  if (it == by_link_key_.end()) return std::nullopt;
  return it->second;
}
}  // namespace nightjar
