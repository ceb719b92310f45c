// StorageClient: a bare client of the storage API for integration tests. It
// sends storage requests through real onion paths (OnionClient: 3 random
// relays, then the chosen swarm member) and waits for the decoded answer on
// the test loop. No envelopes, no retries: tests see exactly what a node
// answers.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "client/onion_client.hpp"
#include "swarm/storage_messages.hpp"
#include "tests/support/uv_loop.hpp"

namespace nightjar::test {

class StorageClient {
 public:
  StorageClient(TestLoop& loop, const NetworkConfig& network);
  ~StorageClient();

  void set_directory(std::shared_ptr<const Directory> d);
  // Nodes never chosen as relays (stopped ones, which the directory still lists).
  void set_avoided(std::vector<NodeId> nodes) { avoided_ = std::move(nodes); }
  // Sends `request` to `destination` through random relays (none of them the
  // destination) and runs the loop until the answer arrives (bounded).
  Result<storage::Response, RequestFailure> call(const NodeId& destination,
                                                 const storage::Request& request,
                                                 storage::Method method);

  // Shorthands. Each signs with `account` where the API needs it.
  Result<storage::Response, RequestFailure> store(const NodeId& to, const Ed25519PublicKey& recipient,
                                                  Bytes body, std::uint32_t ttl_seconds = 600);
  // What arrived at `to` after `since` (none: from its start) and is stamped
  // after `floor`.
  Result<storage::Response, RequestFailure> retrieve(const NodeId& to, const Ed25519KeyPair& account,
                                                     const Cursor& floor, std::uint16_t limit,
                                                     std::uint32_t wait_ms = 0,
                                                     std::optional<std::uint64_t> timestamp = {},
                                                     ArrivalCursor since = {});
  // Every message of `account` held by `to`, in its arrival order, paging
  // with `page` messages per request.
  std::vector<StoredMessage> retrieve_all(const NodeId& to, const Ed25519KeyPair& account,
                                          std::uint16_t page = 50);

  OnionClient& onion() { return *onion_; }

 private:
  TestLoop& loop_;
  SystemRandom rng_;
  std::unique_ptr<OnionClient> onion_;
  std::vector<NodeId> avoided_;
};

}  // namespace nightjar::test
