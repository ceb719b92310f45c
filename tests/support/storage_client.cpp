#include "tests/support/storage_client.hpp"

#include <algorithm>
#include <chrono>

namespace nightjar::test {

namespace {
std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}
}  // namespace

StorageClient::StorageClient(TestLoop& loop, const NetworkConfig& network) : loop_(loop) {
  OnionClientConfig cfg;
  cfg.link.prologue.assign(network.network_id.bytes.begin(), network.network_id.bytes.end());
  cfg.timeout = std::chrono::seconds(10);
  onion_ = std::make_unique<OnionClient>(loop.get(), cfg, rng_);
}

StorageClient::~StorageClient() { onion_->close(); }

void StorageClient::set_directory(std::shared_ptr<const Directory> d) {
  onion_->set_directory(std::move(d));
}

Result<storage::Response, RequestFailure> StorageClient::call(const NodeId& destination,
                                                              const storage::Request& request,
                                                              storage::Method method) {
  const auto& dir = onion_->directory();
  std::vector<NodeId> others;
  for (const auto& e : dir->entries)
    if (!(e.node.id == destination) &&
        std::find(avoided_.begin(), avoided_.end(), e.node.id) == avoided_.end())
      others.push_back(e.node.id);
  for (std::size_t i = others.size(); i > 1; --i)
    std::swap(others[i - 1], others[crypto::random_uniform(static_cast<std::uint32_t>(i))]);
  others.resize(std::min<std::size_t>(3, others.size()));

  std::optional<Result<std::vector<std::uint8_t>, RequestFailure>> answer;
  onion_->send(others, destination, storage::encode(request),
               [&](Result<std::vector<std::uint8_t>, RequestFailure> r) { answer = std::move(r); });
  loop_.run_until([&] { return answer.has_value(); }, std::chrono::seconds(70));
  if (!answer) return fail(RequestFailure{RequestError::timeout, {}, {}, 0});
  if (!*answer) return answer->failure();
  auto resp = storage::decode_response(method, answer->value());
  if (!resp) return fail(RequestFailure{RequestError::bad_reply, {}, {}, 0});
  return std::move(*resp);
}

Result<storage::Response, RequestFailure> StorageClient::store(const NodeId& to,
                                                               const Ed25519PublicKey& recipient,
                                                               Bytes body, std::uint32_t ttl) {
  storage::StoreRequest r;
  r.recipient = recipient;
  r.ttl_seconds = ttl;
  r.body.assign(body.begin(), body.end());
  return call(to, r, storage::Method::store);
}

Result<storage::Response, RequestFailure> StorageClient::retrieve(
    const NodeId& to, const Ed25519KeyPair& account, const Cursor& floor, std::uint16_t limit,
    std::uint32_t wait_ms, std::optional<std::uint64_t> timestamp, ArrivalCursor since) {
  storage::RetrieveRequest r;
  r.recipient = account.pub;
  r.since = since;
  r.floor = floor;
  r.limit = limit;
  r.wait_ms = wait_ms;
  r.timestamp_ms = timestamp ? *timestamp : now_ms();
  storage::sign(r, account.sec);
  return call(to, r, storage::Method::retrieve);
}

std::vector<StoredMessage> StorageClient::retrieve_all(const NodeId& to,
                                                       const Ed25519KeyPair& account,
                                                       std::uint16_t page) {
  std::vector<StoredMessage> all;
  ArrivalCursor since;
  for (int i = 0; i < 1000; ++i) {  // bounded
    auto r = retrieve(to, account, Cursor{}, page, 0, std::nullopt, since);
    if (!r || r->status != storage::Status::ok) break;
    const auto& got = std::get<storage::RetrieveResult>(r->body);
    if (got.messages.empty()) break;
    for (auto m : got.messages) {
      m.recipient = account.pub;
      all.push_back(std::move(m));
    }
    since = got.cursor;
    if (!got.more) break;
  }
  return all;
}

}  // namespace nightjar::test
