#include "node/node.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <system_error>

#include "routing/key_file.hpp"

namespace nightjar {

namespace {

// Replication frames go to swarm peers over the node's control links.
class PeerTransport final : public ReplicationTransport {
 public:
  PeerTransport(PeerLinks& links, const DirectoryState& dir,
                std::function<bool(const NodeId&)> filter)
      : links_(links), dir_(dir), filter_(std::move(filter)) {}
  bool send(const NodeId& peer, Bytes frame) override {
    if (filter_ && !filter_(peer)) return true;  // lost in the partition
    auto info = dir_.lookup(peer);
    if (!info) return false;
    return links_.send(PeerAddress{info->endpoint, info->link_key}, frame);
  }

 private:
  PeerLinks& links_;
  const DirectoryState& dir_;
  std::function<bool(const NodeId&)> filter_;
};

constexpr std::chrono::milliseconds tick_ms{100};
constexpr std::uint64_t sweep_interval_ms = 10'000;

}  // namespace

Node::Node(uv_loop_t* loop, NodeOptions options)
    : loop_(loop),
      options_(std::move(options)),
      limiter_(options_.rate_limits),
      pad_timer_(loop, [this] {
        if (storage_) storage_->pad();
      }),
      jobs_(loop) {
  log_ = options_.log ? options_.log : spdlog::default_logger();
  options_.link.log = log_;
}

Node::~Node() { stop(); }

Result<std::unique_ptr<Node>, std::string> Node::create(uv_loop_t* loop, NodeOptions options) {
  if (!crypto::init()) return fail(std::string("libsodium failed to initialise"));
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return fail("cannot create data directory " + options.data_dir.string() + ": " + ec.message());
  std::filesystem::permissions(options.data_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);

  std::unique_ptr<Node> node(new Node(loop, std::move(options)));
  NodeOptions& o = node->options_;
  auto id = load_or_create_ed25519_key(o.data_dir / "identity.key");
  if (!id) return id.failure();
  auto link = load_or_create_x25519_key(o.data_dir / "link.key");
  if (!link) return link.failure();
  node->keys_created_ = id->created || link->created;
  node->identity_ = std::make_shared<const Ed25519KeyPair>(std::move(id->keys));
  node->link_identity_ = std::make_shared<const X25519KeyPair>(std::move(link->keys));

  if (!o.network) {
    if (!o.authority) return fail(std::string("no network file given, and not an authority"));
    const auto file = o.data_dir / "network.conf";
    if (std::filesystem::exists(file)) {
      auto cfg = NetworkConfig::load(file);
      if (!cfg) return cfg.failure();
      o.network = std::move(*cfg);
    } else {
      // A new network: its ID now, its only authority (us) once we listen.
      NetworkConfig cfg;
      crypto::random_bytes(cfg.network_id.mutable_view());
      cfg.name = "nightjar";
      o.network = std::move(cfg);
    }
  }
  if (o.authority && !o.network->authorities.empty() &&
      !o.network->find_authority(node->identity_->pub))
    return fail("this node's identity key is not one of the network's authorities (data directory " +
                o.data_dir.string() + ")");
  if (auto err = o.params.check(); o.authority && !err.empty())
    return fail("bad network parameters: " + err);
  o.link.prologue.assign(o.network->network_id.bytes.begin(), o.network->network_id.bytes.end());
  return node;
}

Endpoint Node::address() const {
  Endpoint e = options_.public_address ? *options_.public_address : options_.listen;
  if (e.port() == 0 && bound_port_ != 0) {
    auto p = Endpoint::parse(e.to_string().substr(0, e.to_string().rfind(':')) + ":" +
                             std::to_string(bound_port_));
    if (p) e = *p;
  }
  return e;
}

AuthorityInfo Node::authority_info(const std::string& name) const {
  return AuthorityInfo{name, identity_->pub, link_identity_->pub, address()};
}

std::vector<std::uint8_t> Node::descriptor() const {
  NodeDescriptor d;
  d.id = identity_->pub;
  d.link_key = link_identity_->pub;
  d.address = address();
  d.published = now_ms() / 1000;
  if (relay_) {
    const auto& ring = relay_->keyring();
    const std::uint64_t e = ring.schedule().epoch_at(d.published);
    for (std::uint64_t epoch : {e, e + 1}) {
      if (const OnionKey* k = ring.find(epoch))
        d.onion_keys.push_back(OnionKeyInfo{k->epoch, k->keys.pub, k->valid_from, k->valid_until});
    }
  }
  d.sign(identity_->sec);
  return d.encode();
}

Result<void, std::string> Node::start() {
  NodeOptions& o = options_;
  Link::Handlers accepted;
  auto make_handlers = [this](Link&) {
    Link::Handlers h;
    h.on_frame = [this](Link& l, Bytes f) { dispatch(l, f); };
    h.on_closed = [this](Link& l, CloseReason) { on_link_closed(l); };
    return h;
  };
  listener_ = std::make_unique<LinkListener>(loop_, link_identity_, o.link, o.listener, make_handlers);
  if (auto r = listener_->listen(o.listen); !r) return r;
  bound_port_ = listener_->port();

  if (o.authority && o.network->authorities.empty()) {
    o.network->authorities.push_back(authority_info("authority1"));
    const auto file = o.data_dir / "network.conf";
    if (auto r = o.network->save(file); !r) return fail("cannot write " + file.string() + ": " + r.error());
    log_->info("new network {}: wrote {}", o.network->network_id.hex().substr(0, 16), file.string());
  }

  state_ = std::make_unique<DirectoryState>(*o.network, o.data_dir / "directory.bin", log_);
  state_->load();
  peers_ = std::make_unique<PeerLinks>(loop_, link_identity_, o.link,
                                       [this](Link& l, Bytes f) { dispatch(l, f); });
  frames_.on(FrameType::dir_fetch, [this](Link& from, Bytes f) {
    if (!state_->serve_fetch(from, f)) from.close(CloseReason::protocol_error);
  });

  if (o.authority) {
    AuthorityConfig ac;
    ac.identity = identity_;
    ac.link_identity = link_identity_;
    ac.params = o.params;
    ac.link = o.link;
    ac.clock = o.clock;
    ac.log = log_;
    authority_ = std::make_unique<Authority>(loop_, std::move(ac), *state_, *peers_);
    frames_.on({FrameType::dir_register, FrameType::auth_vote, FrameType::auth_signature,
                FrameType::dir_chunk, FrameType::dir_none},
               [this](Link& from, Bytes f) { authority_->handle_frame(from, f); });
    authority_->start();
    log_->info("authority {} listening on {}", id().hex().substr(0, 16), address().to_string());
    return {};
  }

  return start_service_node();
}

Result<void, std::string> Node::start_service_node() {
  NodeOptions& o = options_;
  StoreOptions so = o.store;
  so.log = log_;
  auto store = MessageStore::open(o.data_dir / "messages", so);
  if (!store) return store.failure();
  store_ = std::move(*store);
  // Writes leave the loop: group commit on libuv's thread pool.
  store_->start_writer(loop_);

  // Relay cells with the network's parameters (the saved directory's until a
  // newer one arrives).
  const auto dir = state_->current();
  const NetworkParams params = dir ? dir->params : NetworkParams{};
  RelayConfig rc = o.relay;
  rc.cell_bytes = params.cell_bytes;
  rc.link = o.link;
  rc.clock = o.clock;
  // Onion keys survive restarts: the directory others build cells from still
  // lists the keys this node published before it stopped.
  const auto keys_file = o.data_dir / "onion.keys";
  OnionKeyring keyring(EpochSchedule{params.onion_epoch_seconds, params.onion_grace_seconds});
  if (auto bytes = read_private_file(keys_file); bytes && !keyring.load(*bytes))
    log_->warn("ignoring unreadable onion key file {}", keys_file.string());
  rc.on_keys_changed = [this, keys_file](const OnionKeyring& ring) {
    if (auto r = replace_private_file(keys_file, ring.serialize()); !r)
      log_->warn("cannot save the onion keys: {}", r.error());
    if (client_) client_->register_now();
  };
  relay_ = std::make_unique<OnionRelay>(
      loop_, link_identity_, std::move(keyring), *state_, rc,
      [this](Bytes request, Responder r) { storage_->handle(request, std::move(r)); });

  transport_ = std::make_unique<PeerTransport>(*peers_, *state_, o.replication_filter);
  ReplicationConfig repl = o.replication;
  repl.clock = o.clock;
  repl.log = log_;
  replicator_ = std::make_unique<Replicator>(*store_, *transport_, id(), repl);
  storage_ = std::make_unique<StorageService>(*store_, *replicator_, *state_, id(), o.clock, log_,
                                              o.max_long_polls);
  replicator_->set_stored_handler([this](const Mailbox& m) { storage_->wake(m); });
  state_->add_change_handler(
      [this](const Directory* previous, const Directory& current) { on_directory(previous, current); });
  if (dir) on_directory(nullptr, *dir);

  DirectoryClientConfig dc;
  dc.descriptor = [this] { return descriptor(); };
  dc.clock = o.clock;
  dc.log = log_;
  client_ = std::make_unique<DirectoryClient>(loop_, std::move(dc), *state_, *peers_);
  frames_.on({FrameType::onion_cell, FrameType::onion_reply, FrameType::onion_reply_last},
             [this](Link& from, Bytes f) { relay_->handle_frame(from, f); });
  frames_.on({FrameType::dir_register_reply, FrameType::dir_chunk, FrameType::dir_none},
             [this](Link& from, Bytes f) { client_->handle_frame(from, f); });
  frames_.on({FrameType::repl_push, FrameType::repl_push_ack, FrameType::repl_tombstone,
              FrameType::repl_summary, FrameType::repl_bucket, FrameType::repl_fetch},
             [this](Link& from, Bytes f) { replicate(from, f); });
  client_->start();

  jobs_.every(tick_ms, [this] { tick(); });
  log_->info("node {} listening on {}", id().hex().substr(0, 16), address().to_string());
  return {};
}

void Node::on_directory(const Directory*, const Directory& current) {
  if (store_)
    store_->set_recipient_quota(current.params.recipient_quota_messages,
                                current.params.recipient_quota_bytes);
  if (relay_ && relay_->cell_bytes() != current.params.cell_bytes)
    relay_->set_cell_bytes(current.params.cell_bytes);
  if (relay_)
    relay_->set_mixing(std::chrono::milliseconds(current.params.defences.mix_delay_ms),
                       std::chrono::milliseconds(current.params.defences.mix_delay_max_ms));
  if (replicator_) replicator_->set_directory(state_->current());
  if (storage_) {
    storage_->directory_changed();
    const std::uint32_t padding = current.params.defences.poll_padding_ms;
    if (padding != storage_->poll_padding()) {
      storage_->set_poll_padding(padding);
      if (padding > 0)
        pad_timer_.start(std::chrono::milliseconds(padding), std::chrono::milliseconds(padding));
      else
        pad_timer_.stop();
    }
  }
}

void Node::tick() {
  if (replicator_) replicator_->tick();
  if (storage_) storage_->tick();
  const std::uint64_t now = now_ms();
  if (store_ && now >= next_sweep_ms_) {
    store_->sweep_expired(now);
    next_sweep_ms_ = now + sweep_interval_ms;
  }
}

void Node::dispatch(Link& from, Bytes frame) {
  if (frame.empty()) return;
  if (!admit(from, frame)) return;
  if (frames_.dispatch(from, frame)) return;
  log_->debug("frame of type {} from {} dropped: not handled here", static_cast<int>(frame[0]),
              from.peer_label());
}

// Replication only between nodes of the directory, on mutual links.
void Node::replicate(Link& from, Bytes frame) {
  const auto& key = from.peer_static();
  auto peer = key ? state_->node_with_link_key(*key) : std::nullopt;
  if (!peer || (options_.replication_filter && !options_.replication_filter(*peer))) return;
  std::weak_ptr<Link> link = from.weak_from_this();
  replicator_->handle_frame(*peer, frame, [link](Bytes reply) {
    if (auto l = link.lock()) l->send(reply);
  });
}

// The per-link rate limit (node/rate_limit.hpp): an onion cell over its
// link's budget is answered "overloaded", other frames are dropped. Links
// of directory nodes and authorities have the peer budget.
bool Node::admit(Link& from, Bytes frame) {
  const bool cell = static_cast<FrameType>(frame[0]) == FrameType::onion_cell;
  const RateVerdict verdict = limiter_.admit(from.shared_from_this(), cell, uv_now(loop_),
                                             state_ ? state_->epoch() : 0,
                                             [&] { return link_class(from); });
  if (verdict == RateVerdict::pass) return true;
  if (verdict == RateVerdict::refuse && relay_)
    relay_->refuse_cell(from, frame, RelayErrorCode::overloaded);
  return false;
}

LinkClass Node::link_class(const Link& link) const {
  const auto& key = link.peer_static();
  if (!key || !state_) return LinkClass::client;
  if (state_->node_with_link_key(*key)) return LinkClass::peer;
  for (const AuthorityInfo& a : state_->network().authorities)
    if (a.link_key == *key) return LinkClass::peer;
  return LinkClass::client;
}

void Node::on_link_closed(Link& link) {
  limiter_.forget(&link);
  if (authority_) authority_->link_closed(link);
  if (client_) client_->link_closed(link);
}

void Node::stop() {
  jobs_.cancel_all();
  pad_timer_.close();
  if (client_) client_->stop();
  if (authority_) authority_->stop();
  if (relay_) relay_->close();
  if (peers_) peers_->close_all();
  if (listener_) {
    listener_->close();
    listener_->close_links();
  }
}

}  // namespace nightjar
