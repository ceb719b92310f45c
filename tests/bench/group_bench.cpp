// group_bench: what a closed group costs its members (client/group.hpp), in
// units of one bare X25519 measured in the same run.
//
//   send_<n>      the sender's CPU for one group message to a group of n
//                 members (10, 100, 1000): Group::seal of a 100-byte message,
//                 the store request around it and the onion cell that carries
//                 it (build_cell, 3 relays + a swarm member). Sender keys make
//                 this independent of n.
//   seal_<n>      Group::seal alone
//   open_<n>      a member opening one such message (Group::open)
//   commit_remove_<n>  the committer's side of a removal, from its saved state
//                 (loading it counted)
//   remove_<n>    what removing one member costs the group: the committer's
//                 change (commit, signature, new epoch secret, its controls),
//                 and every remaining member's new sender key sealed to each
//                 other member as a 1:1 version 2 message (n - 1 messages per
//                 member, (n - 1)^2 in all), in X25519s and in messages
//
// Rates are per second of this thread's CPU time, median of interleaved
// rounds, as envelope_bench. The 1:1 cost of a removal is priced from one
// measured version 2 seal of a sender-key control (no DH step: members that
// talk have a session) times the number of controls; the onion cells of
// those messages are counted the same way. Every loop is bounded in count
// and time.
#include <sodium.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "client/conversation.hpp"
#include "client/group.hpp"
#include "routing/onion_cell.hpp"
#include "swarm/storage_messages.hpp"

namespace po = boost::program_options;
using namespace nightjar;
using namespace nightjar::client;

namespace {

constexpr const char* program = "group_bench";
constexpr int rounds = 5;
constexpr std::uint32_t max_body = 440;
constexpr std::size_t body_bytes = 100;
constexpr std::uint64_t max_calls_per_slice = 1'000'000;
constexpr double max_seconds = 600;
constexpr std::uint64_t now = 1'800'000'000'000;
constexpr std::array<std::size_t, 3> sizes{10, 100, 1000};
constexpr std::size_t pool_size = 2000;  // sealed messages a member opens in order

struct Fail {
  std::string what;
};

// A group of `n` members as its creator (the sender) holds it, and one other
// member's state, joined from the creator's welcome, holding the sender's key.
struct Sized {
  std::size_t n;
  SystemRandom rng;
  Identity sender = Identity::generate(rng);
  Identity reader = Identity::generate(rng);
  std::optional<group::Group> at_sender, at_reader;
  std::vector<std::uint8_t> sender_state, reader_state;
  Ed25519PublicKey mailbox;

  explicit Sized(std::size_t members) : n(members) {
    group::Actions a;
    auto g = group::Group::create(sender, "bench", now, rng, a);
    if (!g) throw Fail{"create"};
    at_sender.emplace(std::move(*g));
    // The reader first (its welcome is kept), then strangers' keys to size.
    std::vector<group::Change> batch{{group::ChangeType::add, reader.account(), group::Role::member, {}}};
    std::optional<group::Welcome> welcome;
    std::vector<group::Control> to_reader;
    auto commit = [&](std::vector<group::Change> changes) {
      group::Actions actions;
      if (!at_sender->change(std::move(changes), now, rng, actions)) throw Fail{"change"};
      for (auto& [who, controls] : actions.send)
        if (who == reader.account())
          for (auto& c : controls) to_reader.push_back(std::move(c));
    };
    commit(std::move(batch));
    std::vector<group::Change> adds;
    for (std::size_t i = 2; i < n; ++i) {
      adds.push_back({group::ChangeType::add, crypto::ed25519_generate().pub, group::Role::member, {}});
      if (adds.size() == group::max_changes) commit(std::exchange(adds, {}));
    }
    if (!adds.empty()) commit(std::move(adds));
    // The reader joins from its welcome and takes the later commits and the
    // sender's key, in order.
    group::Actions ra;
    for (auto& c : to_reader) {
      if (!at_reader) {
        auto* w = std::get_if<group::Welcome>(&c);
        if (!w) throw Fail{"welcome first"};
        auto joined = group::Group::join(reader, sender.account(), std::move(*w), now, rng, ra);
        if (!joined) throw Fail{"join"};
        at_reader.emplace(std::move(*joined));
        continue;
      }
      at_reader->receive(sender.account(), std::move(c), now, rng, ra);
    }
    if (!at_reader || at_reader->head().members.size() != n) throw Fail{"reader's membership"};
    mailbox = *at_sender->head_mailbox();
    sender_state = at_sender->encode();
    reader_state = at_reader->encode();
  }
};

struct Measurement {
  std::string name;
  std::function<double(double)> run;
  std::vector<double> samples;
};

int run(double seconds, bool json) {
  if (sodium_init() < 0) return 1;
  SystemRandom rng;

  std::array<std::uint8_t, 32> x_sec{}, x_point{}, x_out{};
  randombytes_buf(x_sec.data(), x_sec.size());
  crypto_scalarmult_base(x_point.data(), x_sec.data());
  auto bare_x25519 = [&] {
    if (crypto_scalarmult(x_out.data(), x_sec.data(), x_point.data()) != 0) throw Fail{"x25519"};
  };

  std::vector<OnionHop> path;
  for (int i = 0; i < 4; ++i)
    path.push_back(OnionHop{crypto::ed25519_generate().pub, crypto::x25519_generate().pub, 7});

  v2::Content content;
  content.timestamp_ms = now;
  content.body.assign(body_bytes, 'm');

  std::vector<std::unique_ptr<Sized>> groups;
  for (std::size_t n : sizes) groups.push_back(std::make_unique<Sized>(n));

  std::vector<Measurement> ms;
  ms.push_back({"x25519", [&](double s) {
                  return bench::measure_rate(bare_x25519, max_calls_per_slice, s).per_cpu_second();
                }, {}});
  for (auto& gp : groups) {
    Sized* g = gp.get();
    const std::string n = std::to_string(g->n);
    // Each slice seals from the saved state (restored untimed).
    ms.push_back({"seal_" + n, [g, &content](double s) {
                    g->at_sender = group::Group::decode(g->sender, g->sender_state).value();
                    return bench::measure_rate(
                               [&] {
                                 auto e = g->at_sender->seal(content, max_body, g->rng);
                                 if (!e) throw Fail{"seal"};
                                 bench::keep(e->data());
                               },
                               max_calls_per_slice, s)
                        .per_cpu_second();
                  }, {}});
    ms.push_back({"send_" + n, [g, &content, &path](double s) {
                    g->at_sender = group::Group::decode(g->sender, g->sender_state).value();
                    return bench::measure_rate(
                               [&] {
                                 auto e = g->at_sender->seal(content, max_body, g->rng);
                                 if (!e) throw Fail{"seal"};
                                 storage::StoreRequest req;
                                 req.ns = Namespace::groups;
                                 req.recipient = g->mailbox;
                                 req.ttl_seconds = 86400;
                                 req.body = std::move(*e);
                                 const auto data = storage::encode(storage::Request{std::move(req)});
                                 auto cell = build_cell(onion::default_cell_bytes, path, data, g->rng);
                                 if (!cell) throw Fail{"build_cell"};
                                 bench::keep(cell->cell.data());
                               },
                               max_calls_per_slice, s)
                        .per_cpu_second();
                  }, {}});
    // The reader opens a pool of the sender's messages, in order, from its
    // saved state each slice.
    auto pool = std::make_shared<std::vector<std::vector<std::uint8_t>>>();
    {
      auto sealer = group::Group::decode(g->sender, g->sender_state).value();
      for (std::size_t i = 0; i < pool_size; ++i) pool->push_back(*sealer.seal(content, max_body, g->rng));
    }
    ms.push_back({"open_" + n, [g, pool](double s) {
                    g->at_reader = group::Group::decode(g->reader, g->reader_state).value();
                    std::size_t next = 0;
                    return bench::measure_rate(
                               [&] {
                                 auto r = g->at_reader->open(g->mailbox, (*pool)[next++], now);
                                 if (r.status != group::OpenStatus::opened) throw Fail{"open: " + r.why};
                               },
                               pool->size(), s)
                        .per_cpu_second();
                  }, {}});
    // The committer's side of a removal (the member removed is a stranger).
    ms.push_back({"commit_remove_" + n, [g](double s) {
                    std::optional<group::Group> copy = group::Group::decode(g->sender, g->sender_state).value();
                    AccountKey victim;
                    for (const auto& m : copy->head().members)
                      if (m.account != g->sender.account() && m.account != g->reader.account()) victim = m.account;
                    return bench::measure_rate(
                               [&] {
                                 copy = group::Group::decode(g->sender, g->sender_state).value();
                                 group::Actions a;
                                 if (!copy->change({{group::ChangeType::remove, victim, group::Role::member, {}}},
                                                   now, g->rng, a))
                                   throw Fail{"remove"};
                                 for (const auto& [who, controls] : a.send) bench::keep(group::encode_controls(controls).data());
                               },
                               200, s)
                        .per_cpu_second();
                  }, {}});
  }
  // One 1:1 version 2 message carrying a sender-key control, sealed in an
  // existing session, and its onion cell: what each of a removal's
  // (n - 1)^2 messages costs its sender.
  Identity a1 = Identity::generate(rng), b1 = Identity::generate(rng);
  Prekeys b_prekeys{b1};
  b_prekeys.maintain(now);
  Conversation conv(b1.account());
  if (!conv.initiate(a1, *b_prekeys.bundle(0), rng, now)) throw Fail{"initiate"};
  const SealKey to_b = *seal_key(b1.account());
  v2::Content key_content;
  key_content.flags = v2::flag_group;
  key_content.timestamp_ms = now;
  {
    std::vector<group::Control> controls;
    controls.emplace_back(group::SenderKeyControl{});
    key_content.body = group::encode_controls(controls);
  }
  const auto conv_state = conv.encode();
  std::optional<Conversation> conv_copy;
  ms.push_back({"key_message", [&](double s) {
                  conv_copy = Conversation::decode(conv_state).value();
                  return bench::measure_rate(
                             [&] {
                               auto e = conv_copy->seal(a1, to_b, key_content, max_body, rng);
                               if (!e) throw Fail{"1:1 seal"};
                               storage::StoreRequest req;
                               req.recipient = b1.account();
                               req.ttl_seconds = 86400;
                               req.body = std::move(*e);
                               const auto data = storage::encode(storage::Request{std::move(req)});
                               auto cell = build_cell(onion::default_cell_bytes, path, data, rng);
                               if (!cell) throw Fail{"build_cell"};
                               bench::keep(cell->cell.data());
                             },
                             max_calls_per_slice, s)
                      .per_cpu_second();
                }, {}});

  const double slice = seconds * 0.9 / (rounds + 1) / static_cast<double>(ms.size());
  for (auto& m : ms) (void)m.run(slice);  // warm-up
  for (int r = 0; r < rounds; ++r)
    for (std::size_t j = 0; j < ms.size(); ++j) {
      auto& m = ms[(static_cast<std::size_t>(r) + j) % ms.size()];
      m.samples.push_back(m.run(slice));
    }
  auto rate = [&](const std::string& name) {
    for (auto& m : ms)
      if (m.name == name) return bench::median(m.samples);
    return 0.0;
  };
  const double x = rate("x25519");
  auto units = [&](double r) { return r > 0 ? x / r : 0.0; };
  const double key_message = units(rate("key_message"));
  double send_min = 1e18, send_max = 0;
  for (std::size_t n : sizes) {
    const double u = units(rate("send_" + std::to_string(n)));
    send_min = std::min(send_min, u);
    send_max = std::max(send_max, u);
  }
  const double spread = send_min > 0 ? send_max / send_min - 1 : 0;
  // A removal: the committer's change, then (n - 1)^2 1:1 messages (its
  // commit to the n - 1 others, each remaining member's new key to the
  // n - 2 others), each priced as one sealed sender-key message.
  auto removal_cost = [&](std::size_t n) {
    return units(rate("commit_remove_" + std::to_string(n))) +
           static_cast<double>((n - 1) * (n - 1)) * key_message;
  };

  if (json) {
    bench::JsonObject o;
    o.add("x25519_per_s", x, 1);
    for (std::size_t n : sizes) {
      const std::string s = std::to_string(n);
      o.add("send_" + s + "_x25519", units(rate("send_" + s)), 3)
          .add("seal_" + s + "_x25519", units(rate("seal_" + s)), 3)
          .add("open_" + s + "_x25519", units(rate("open_" + s)), 3)
          .add("commit_remove_" + s + "_x25519", units(rate("commit_remove_" + s)), 3)
          .add("remove_" + s + "_messages", static_cast<double>((n - 1) * (n - 1)), 0)
          .add("remove_" + s + "_x25519", removal_cost(n), 1);
    }
    o.add("key_message_x25519", key_message, 3).add("send_spread", spread, 3);
    o.print();
    return 0;
  }
  std::printf("group_bench: %zu-byte group messages, %u-byte body limit; per CPU-second of one core,\n"
              "median of %d interleaved rounds of %.3f s slices; bare X25519: %.0f/s\n",
              body_bytes, max_body, rounds, slice, x);
  std::printf("  %-8s %14s %12s %12s %18s %16s\n", "members", "send (X25519s)", "seal", "open",
              "removal: messages", "removal: X25519s");
  for (std::size_t n : sizes) {
    const std::string s = std::to_string(n);
    const double messages = static_cast<double>((n - 1) * (n - 1));
    const double removal = removal_cost(n);
    std::printf("  %-8zu %14.3f %12.3f %12.3f %18.0f %16.0f\n", n, units(rate("send_" + s)),
                units(rate("seal_" + s)), units(rate("open_" + s)), messages, removal);
  }
  std::printf("\n  send = Group::seal + store request + onion cell (3 relays + a swarm member);\n"
              "  the spread of send across group sizes: %.1f%%. A removal: the committer's change\n"
              "  (%s) plus each remaining member's new sender key to each other member,\n"
              "  one 1:1 version 2 message each (%.3f X25519s with its onion cell).\n",
              spread * 100, "commit, controls", key_message);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3.0;
  po::options_description specific("Benchmark");
  specific.add_options()("seconds", po::value<double>(&seconds)->default_value(seconds),
                         "time budget for the whole run, in seconds (> 0, at most 600)");
  bench::CommonOptions common;
  if (auto exit_status = bench::parse_options(
          argc, argv, program,
          "group_bench: a closed group's costs to its members (send, open, removal), in X25519s.",
          specific, common))
    return *exit_status;
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > max_seconds)
    return bench::bad_option(program, "--seconds must be > 0 and at most 600");
  try {
    return run(seconds, common.json);
  } catch (const Fail& f) {
    std::fprintf(stderr, "%s: %s failed\n", program, f.what.c_str());
    return 1;
  }
}
