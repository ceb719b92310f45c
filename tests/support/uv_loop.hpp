// A libuv loop for integration tests: run until a condition holds or a
// deadline passes (every wait is bounded), and check at the end that every
// handle was closed (uv_loop_close succeeds only then).
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "routing/bytes.hpp"

namespace nightjar::test {

class TestLoop {
 public:
  TestLoop();
  ~TestLoop();
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }
  // Runs the loop until pred() is true; false if `timeout` passed first.
  bool run_until(const std::function<bool()>& pred,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Runs the loop for a fixed time.
  void run_for(std::chrono::milliseconds d);
  // Runs until no handle is left (bounded), then closes the loop. Returns
  // false if handles were still open: a leak.
  bool drain_and_close();

 private:
  uv_loop_t loop_{};
  uv_timer_t tick_{};
  bool closed_ = false;
};

// A plain TCP client with no Nightjar protocol, for feeding a listener bad
// bytes. Freed in its close callback; close() is safe to call twice.
class RawClient {
 public:
  static std::shared_ptr<RawClient> connect(uv_loop_t* loop, std::uint16_t port);
  void write(Bytes data);
  void close();
  bool connected() const { return connected_; }
  bool closed_by_peer() const { return peer_closed_; }
  std::size_t bytes_received() const { return received_; }

 private:
  uv_tcp_t tcp_{};
  uv_connect_t req_{};
  std::shared_ptr<RawClient> self_;
  std::vector<std::vector<std::uint8_t>> queued_;
  bool connected_ = false;
  bool peer_closed_ = false;
  bool closing_ = false;
  std::size_t received_ = 0;
  char buf_[4096];
};

}  // namespace nightjar::test
