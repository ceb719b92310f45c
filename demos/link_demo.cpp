// nightjar-link-demo: two link endpoints on loopback exchanging messages.
// It shows the pieces of the link layer working together: key files, the
// mutual handshake, encrypted frames and flow control over real TCP.
#include <spdlog/spdlog.h>
#include <uv.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>

#include "routing/frame.hpp"
#include "routing/key_file.hpp"
#include "routing/link.hpp"
#include "routing/runtime.hpp"

namespace po = boost::program_options;
using namespace nightjar;
using Steady = std::chrono::steady_clock;

namespace {

double ms(Steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Options {
  std::size_t messages = 1000;
  std::size_t size = 1024;
  std::filesystem::path key_dir;
  bool verbose = false;
};

// Returns 0 on success; prints why not otherwise.
int run(const Options& opt) {
  std::filesystem::create_directories(opt.key_dir);
  auto server_key = load_or_create_x25519_key(opt.key_dir / "responder.key");
  auto client_key = load_or_create_x25519_key(opt.key_dir / "dialer.key");
  if (!server_key || !client_key) {
    std::cerr << "error: " << (server_key ? client_key.error() : server_key.error()) << "\n";
    return 1;
  }
  auto server_id = std::make_shared<const X25519KeyPair>(std::move(server_key->keys));
  auto client_id = std::make_shared<const X25519KeyPair>(std::move(client_key->keys));

  uv_loop_t loop;
  uv_loop_init(&loop);
  LinkConfig config;
  config.prologue = {'d', 'e', 'm', 'o'};

  // The responder echoes every message back.
  std::shared_ptr<Link> accepted;
  LinkListener listener(&loop, server_id, config, ListenerOptions{.allow_anonymous = false},
                        [&](Link& l) {
                          accepted = l.shared_from_this();
                          Link::Handlers h;
                          h.on_frame = [](Link& link, Bytes f) { (void)link.send(f); };
                          return h;
                        });
  if (auto r = listener.listen(*Endpoint::parse("127.0.0.1:0")); !r) {
    std::cerr << "error: " << r.error() << "\n";
    return 1;
  }
  const auto at = *Endpoint::parse("127.0.0.1:" + std::to_string(listener.port()));

  std::printf("nightjar link demo: two endpoints on loopback\n");
  std::printf("  responder   %s, public key %s…%s\n", at.to_string().c_str(),
              server_id->pub.hex().substr(0, 16).c_str(),
              server_key->created ? " (new key file, mode 0600)" : "");
  std::printf("  dialer      mutual link, public key %s…%s\n",
              client_id->pub.hex().substr(0, 16).c_str(),
              client_key->created ? " (new key file, mode 0600)" : "");

  // The dialer sends message i, waits for its echo, checks it, sends i+1.
  std::vector<double> rtts;
  rtts.reserve(opt.messages);
  std::vector<std::uint8_t> msg(opt.size);
  std::size_t sent = 0, bad = 0;
  Steady::time_point start = Steady::now(), sent_at{}, established_at{};
  std::optional<CloseReason> closed;
  std::shared_ptr<Link> link;

  auto send_next = [&](Link& l) {
    for (std::size_t k = 0; k < msg.size(); ++k)
      msg[k] = static_cast<std::uint8_t>(sent * 31 + k);
    // Frame types 04 and 05 belong to the link itself (its echo would never come).
    if (!msg.empty() && is_link_internal(msg[0])) msg[0] = 0xff;
    sent_at = Steady::now();
    if (l.send(msg) != SendStatus::ok) ++bad;
    ++sent;
  };
  Link::Handlers h;
  h.on_established = [&](Link& l) {
    established_at = Steady::now();
    send_next(l);
  };
  h.on_frame = [&](Link& l, Bytes f) {
    rtts.push_back(ms(Steady::now() - sent_at));
    if (!std::equal(f.begin(), f.end(), msg.begin(), msg.end())) ++bad;
    if (sent < opt.messages)
      send_next(l);
    else
      l.shutdown();
  };
  h.on_closed = [&](Link&, CloseReason r) {
    closed = r;
    listener.close_links();
    listener.close();
  };
  link = Link::dial(&loop, at, server_id->pub, client_id, config, h);

  // Bounded: the demo stops by itself after 60 s whatever happens.
  Timer guard(&loop, [&link] {
    std::cerr << "error: demo did not finish within 60 s\n";
    link->close();
  });
  guard.unref();
  guard.start(std::chrono::seconds(60));
  uv_run(&loop, UV_RUN_DEFAULT);
  guard.close();
  uv_run(&loop, UV_RUN_DEFAULT);
  const bool clean = uv_loop_close(&loop) == 0;

  if (established_at == Steady::time_point{}) {
    std::printf("  handshake   FAILED (%s)\n", closed ? to_string(*closed) : "no result");
    return 1;
  }
  std::printf("  handshake   %.2f ms (connect + IK handshake)\n", ms(established_at - start));
  std::sort(rtts.begin(), rtts.end());
  auto pct = [&](double p) {
    return rtts.empty()
               ? 0.0
               : rtts[std::min(rtts.size() - 1,
                               static_cast<std::size_t>(p * static_cast<double>(rtts.size())))];
  };
  std::printf("  exchanged   %zu of %zu messages of %zu bytes, echoed back: %s\n", rtts.size(),
              opt.messages, opt.size,
              bad == 0 && rtts.size() == opt.messages ? "all intact" : "ERRORS");
  std::printf("  round trip  p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", pct(0.5), pct(0.99),
              rtts.empty() ? 0.0 : rtts.back());
  std::printf("  closed      %s; every libuv handle freed: %s\n",
              closed ? to_string(*closed) : "not closed", clean ? "yes" : "NO");
  return bad == 0 && rtts.size() == opt.messages && clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  po::options_description desc(
      "nightjar-link-demo: two Nightjar link endpoints on loopback exchanging encrypted messages.\n"
      "Usage: nightjar-link-demo [options]\n\nOptions");
  desc.add_options()("help,h", "print this help and exit")(
      "messages,n", po::value<std::size_t>(&opt.messages)->default_value(1000),
      "messages to exchange (1..1000000)")("size,s",
                                           po::value<std::size_t>(&opt.size)->default_value(1024),
                                           "bytes per message (0..65536)")(
      "key-dir", po::value<std::filesystem::path>(&opt.key_dir),
      "directory for the two endpoints' key files (created on first use; default: a new "
      "temporary directory)")("verbose,v", po::bool_switch(&opt.verbose), "debug logging");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "nightjar-link-demo: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (opt.messages < 1 || opt.messages > 1'000'000) {
    std::cerr << "nightjar-link-demo: --messages must be 1..1000000\n";
    return 2;
  }
  if (opt.size > LinkSession::default_max_frame) {
    std::cerr << "nightjar-link-demo: --size must be at most " << LinkSession::default_max_frame
              << "\n";
    return 2;
  }
  if (!crypto::init()) {
    std::cerr << "nightjar-link-demo: libsodium failed to initialise\n";
    return 1;
  }
  spdlog::set_level(opt.verbose ? spdlog::level::debug : spdlog::level::warn);
  bool temp = opt.key_dir.empty();
  if (temp) {
    char tmpl[] = "/tmp/nightjar-demo-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      std::perror("nightjar-link-demo: mkdtemp");
      return 1;
    }
    opt.key_dir = tmpl;
  }
  int rc = run(opt);
  if (temp) {
    std::error_code ec;
    std::filesystem::remove_all(opt.key_dir, ec);
  }
  std::printf("%s\n", rc == 0 ? "demo OK" : "demo FAILED");
  return rc;
}
