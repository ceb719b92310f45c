// client_crash_child NETWORK PROFILE SEED PEER FIRST LAST: the client process
// the forward-secret crash test kills. Runs a Client with the identity from
// SEED (64 hex digits) and the profile at PROFILE on the network file
// NETWORK; prints, each with one write(2) and a newline,
//   "R <text>"  for every message it hands over (after the client did),
//   "S <i>"     when the message "b<i>" it sent to PEER (an account ID in
//               hex) is acknowledged by the swarm, for i in FIRST..LAST-1,
//               32 in flight at a time,
// and runs until it is killed, or for 120 s (a bound, not a use).
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "routing/bytes.hpp"

using namespace nightjar;

namespace {

bool write_all(const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

template <class Fixed>
bool parse_hex(const std::string& hex, Fixed& out) {
  return hex.size() == 2 * out.size() && nightjar::from_hex(hex, MutableBytes(out.data(), out.size()));
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: client_crash_child NETWORK PROFILE SEED PEER FIRST LAST\n");
    return 2;
  }
  auto network = NetworkConfig::load(argv[1]);
  Ed25519Seed seed;
  client::AccountKey peer;
  std::size_t first = 0, last = 0;
  const std::string first_s = argv[5], last_s = argv[6];
  if (!network || !parse_hex(argv[3], seed) || !parse_hex(argv[4], peer) ||
      std::from_chars(first_s.data(), first_s.data() + first_s.size(), first).ec != std::errc() ||
      std::from_chars(last_s.data(), last_s.data() + last_s.size(), last).ec != std::errc()) {
    std::fprintf(stderr, "client_crash_child: bad arguments\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  client::ClientOptions o;
  o.network = std::move(*network);
  o.profile_dir = argv[2];
  o.poll_wait_ms = 2000;
  o.request_timeout = std::chrono::milliseconds(4000);
  o.log = std::make_shared<spdlog::logger>("child", std::make_shared<spdlog::sinks::null_sink_st>());
  client::Client c(&loop, o, client::Identity::from_seed(seed));
  std::size_t next = first, in_flight = 0;
  std::vector<std::size_t> again;  // failed sends, sent again
  std::function<void()> send_more = [&] {
    while ((next < last || !again.empty()) && in_flight < 32) {
      std::size_t i = next;
      if (!again.empty()) {
        i = again.back();
        again.pop_back();
      } else {
        ++next;
      }
      ++in_flight;
      const std::string text = "b" + std::to_string(i);
      c.send(peer, as_bytes(text), [&, i](Result<client::SendReceipt, client::SendFailure> r) {
        --in_flight;
        if (r)
          write_all("S " + std::to_string(i) + "\n");
        else
          again.push_back(i);
        send_more();
      });
    }
  };
  c.start([&](Result<void, std::string> r) {
    if (!r) {
      std::fprintf(stderr, "client_crash_child: %s\n", r.error().c_str());
      std::_Exit(1);
    }
    c.subscribe([](const client::ReceivedMessage& m) {
      write_all("R " + std::string(m.text.begin(), m.text.end()) + "\n");
    });
    send_more();
  });
  uv_timer_t bound;
  uv_timer_init(&loop, &bound);
  uv_timer_start(&bound, [](uv_timer_t* t) { uv_stop(t->loop); }, 120'000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  std::_Exit(0);
}
