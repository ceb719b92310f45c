// envelope_bench: what sealing and opening a message costs with version 2
// (forward-secret, deniable) against version 1, in units of one bare X25519
// scalar multiplication measured in the same run, and what each version adds
// to a message's size.
//
//   x25519_per_s        bare crypto_scalarmult
//   v1_seal / v1_open   seal() / open() of a 100-byte message (signed, sealed to
//                       the recipient's long-term key)
//   v2_seal / v2_open   Conversation::seal / sealed layer + Conversation::receive
//                       of 100-byte messages in one chain (no DH step: the
//                       common case of several messages in a row)
//   v2_step             one message each way in turn (every message carries a
//                       new ratchet key: a DH step on both sides), per message,
//                       seal and open together
//   v2_first            a first message: Conversation::initiate + seal, and the
//                       recipient's side (X3DH) + open, together
//   *_x25519            the cost of one operation in X25519s (x25519_per_s / rate)
//   overhead_*          bytes an envelope adds to its body (v1 175, v2 209 for a
//                       ratchet message, 249 for a prekey message)
//
// The client also saves a conversation to disk (an fsync) on every v2 seal and
// open, which this does not count: that is the profile's cost, not the
// cryptography's.
//
// Rates are per second of this thread's CPU time, measured interleaved over
// `rounds` rounds (the median reported), as in onion_bench. Every loop is
// bounded in count and time; --seconds is the budget for the run.
#include <sodium.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "client/conversation.hpp"
#include "client/envelope.hpp"
#include "client/envelope_v2.hpp"

namespace po = boost::program_options;
using namespace nightjar;
using namespace nightjar::client;

namespace {

constexpr const char* program = "envelope_bench";
constexpr int rounds = 5;
constexpr std::uint32_t max_body = 440;
constexpr std::size_t body_bytes = 100;
constexpr std::size_t pool_size = 4096;  // pre-sealed v2 messages opened in order
constexpr std::uint64_t max_calls_per_slice = 1'000'000;
constexpr double max_seconds = 600;
constexpr std::uint64_t now = 1'700'000'000'000;

struct Fail {
  std::string what;
};

// Alice and Bob, and a conversation Alice started and Bob answered.
struct Pair {
  SystemRandom rng;
  Identity alice = Identity::generate(rng);
  Identity bob = Identity::generate(rng);
  Prekeys alice_prekeys{alice};
  Prekeys bob_prekeys{bob};
  Conversation at_alice{bob.account()};
  Conversation at_bob{alice.account()};
  SealKey to_alice = *seal_key(alice.account());
  SealKey to_bob = *seal_key(bob.account());
  v2::Content content;

  Pair() {
    alice_prekeys.maintain(now);
    bob_prekeys.maintain(now);
    content.timestamp_ms = now;
    content.body.assign(body_bytes, 'm');
    if (!at_alice.initiate(alice, *bob_prekeys.bundle(prekeys::published_one_time), rng, now))
      throw Fail{"initiate"};
    open_at_bob(seal_at_alice());
    open_at_alice(seal_at_bob());
  }
  std::vector<std::uint8_t> seal_at_alice() {
    auto e = at_alice.seal(alice, to_bob, content, max_body, rng);
    if (!e) throw Fail{std::string("v2 seal: ") + to_string(e.error())};
    return std::move(*e);
  }
  std::vector<std::uint8_t> seal_at_bob() {
    auto e = at_bob.seal(bob, to_alice, content, max_body, rng);
    if (!e) throw Fail{std::string("v2 seal: ") + to_string(e.error())};
    return std::move(*e);
  }
  static void open(const Identity& me, Prekeys& prekeys, Conversation& c,
                   const std::vector<std::uint8_t>& envelope) {
    auto inner_bytes = v2::open_outer(me, envelope);
    if (!inner_bytes) throw Fail{"v2 open: sealed layer"};
    auto inner = v2::decode_inner(*inner_bytes);
    if (!inner) throw Fail{"v2 open: inner"};
    auto r = c.receive(me, prekeys, *inner, now);
    if (!r) throw Fail{std::string("v2 open: ") + to_string(r.error())};
    bench::keep(r->content.body.data());
    c.forget(r->journal_key);  // handed over, as the client does
  }
  void open_at_bob(const std::vector<std::uint8_t>& e) { open(bob, bob_prekeys, at_bob, e); }
  void open_at_alice(const std::vector<std::uint8_t>& e) { open(alice, alice_prekeys, at_alice, e); }
};

struct Measurement {
  const char* name;
  std::function<double(double)> run;  // slice seconds -> operations per CPU second
  std::vector<double> samples;
};

int run(double seconds, bool json) {
  if (sodium_init() < 0) return 1;
  Pair p;

  // Bare X25519.
  std::array<std::uint8_t, 32> x_sec{}, x_point{}, x_out{};
  randombytes_buf(x_sec.data(), x_sec.size());
  crypto_scalarmult_base(x_point.data(), x_sec.data());
  auto bare_x25519 = [&] {
    if (crypto_scalarmult(x_out.data(), x_sec.data(), x_point.data()) != 0) throw Fail{"x25519"};
  };

  // Version 1.
  const std::vector<std::uint8_t> text(body_bytes, 'm');
  Message msg;
  msg.timestamp_ms = now;
  msg.body = text;
  auto v1_seal = [&] {
    auto e = seal(p.alice, p.to_bob, msg, max_body, p.rng);
    if (!e) throw Fail{"v1 seal"};
    bench::keep(e->data());
  };
  const auto v1_envelope = *seal(p.alice, p.to_bob, msg, max_body, p.rng);
  auto v1_open = [&] {
    auto m = open(p.bob, v1_envelope);
    if (!m) throw Fail{"v1 open"};
    bench::keep(m->body.data());
  };

  // Version 2, one chain: a copy of Alice's state seals on (a fresh copy each
  // slice, restored untimed, so that the messages nobody opens do not leave
  // skipped keys in the conversation the other measurements use); Bob opens
  // a pool of her messages in order, from a saved copy of his state each
  // slice.
  const auto alice_before = p.at_alice.encode();
  std::optional<Conversation> alice_copy;
  auto v2_seal_slice = [&](double s) {
    alice_copy = Conversation::decode(alice_before).value();
    return bench::measure_rate(
               [&] {
                 auto e = alice_copy->seal(p.alice, p.to_bob, p.content, max_body, p.rng);
                 if (!e) throw Fail{"v2 seal"};
                 bench::keep(e->data());
               },
               max_calls_per_slice, s)
        .per_cpu_second();
  };
  std::vector<std::vector<std::uint8_t>> pool;
  const auto bob_before = p.at_bob.encode();
  for (std::size_t i = 0; i < pool_size; ++i) pool.push_back(p.seal_at_alice());
  std::optional<Conversation> bob_copy;
  std::size_t next = 0;
  auto v2_open_slice = [&](double s) {
    bob_copy = Conversation::decode(bob_before).value();
    next = 0;
    return bench::measure_rate(
               [&] { Pair::open(p.bob, p.bob_prekeys, *bob_copy, pool[next++]); }, pool.size(), s)
        .per_cpu_second();
  };
  // Catch Bob up with what Alice sealed, so the ping-pong below starts clean.
  for (const auto& e : pool) p.open_at_bob(e);

  // Version 2, a DH step on every message: one message each way per call.
  auto v2_step = [&] {
    p.open_at_bob(p.seal_at_alice());
    p.open_at_alice(p.seal_at_bob());
  };

  // A first message, both sides (Bob's one-time prekeys are not used: the
  // bundle has none, so the pool of them does not run out).
  PrekeyBundle bundle = *p.bob_prekeys.bundle(0);
  auto v2_first = [&] {
    Conversation start(p.bob.account()), answer(p.alice.account());
    if (!start.initiate(p.alice, bundle, p.rng, now)) throw Fail{"initiate"};
    auto e = start.seal(p.alice, p.to_bob, p.content, max_body, p.rng);
    if (!e) throw Fail{"first seal"};
    Pair::open(p.bob, p.bob_prekeys, answer, *e);
  };

  auto rate_of = [](auto& f) {
    return [&f](double s) { return bench::measure_rate(f, max_calls_per_slice, s).per_cpu_second(); };
  };
  std::array<Measurement, 7> ms{{
      {"x25519", rate_of(bare_x25519), {}},
      {"v1_seal", rate_of(v1_seal), {}},
      {"v1_open", rate_of(v1_open), {}},
      {"v2_seal", v2_seal_slice, {}},
      {"v2_open", v2_open_slice, {}},
      {"v2_step", rate_of(v2_step), {}},
      {"v2_first", rate_of(v2_first), {}},
  }};
  const double slice = seconds * 0.9 / (rounds + 1) / static_cast<double>(ms.size());
  for (auto& m : ms) (void)m.run(slice);  // warm-up
  for (int r = 0; r < rounds; ++r)
    for (std::size_t j = 0; j < ms.size(); ++j) {
      auto& m = ms[(static_cast<std::size_t>(r) + j) % ms.size()];
      m.samples.push_back(m.run(slice));
    }
  std::array<double, 7> rate{};
  for (std::size_t i = 0; i < ms.size(); ++i) rate[i] = bench::median(ms[i].samples);
  // v2_step does two messages per call.
  rate[5] *= 2;
  auto units = [&](double r) { return r > 0 ? rate[0] / r : 0.0; };

  const std::size_t ov1 = envelope_overhead, ov2 = v2::ratchet_message_overhead,
                    ov2_first = v2::prekey_message_overhead;
  if (json) {
    bench::JsonObject o;
    o.add("x25519_per_s", rate[0], 1);
    const char* names[] = {nullptr, "v1_seal", "v1_open", "v2_seal", "v2_open", "v2_step", "v2_first"};
    for (std::size_t i = 1; i < ms.size(); ++i) {
      o.add(std::string(names[i]) + "_per_s", rate[i], 1);
      o.add(std::string(names[i]) + "_x25519", units(rate[i]), 3);
    }
    o.add("v2_seal_vs_v1", rate[3] > 0 ? rate[1] / rate[3] : 0.0, 3)
        .add("v2_open_vs_v1", rate[4] > 0 ? rate[2] / rate[4] : 0.0, 3)
        .add("body_bytes", body_bytes)
        .add("max_body_bytes", max_body)
        .add("overhead_v1", ov1)
        .add("overhead_v2", ov2)
        .add("overhead_v2_first", ov2_first)
        .add("capacity_v1", fragment_capacity(max_body))
        .add("capacity_v2", v2::capacity(v2::Kind::ratchet, max_body))
        .add("capacity_v2_first", v2::capacity(v2::Kind::prekey, max_body));
    o.print();
    return 0;
  }
  std::printf("envelope_bench: %zu-byte messages, %u-byte network body limit; per CPU-second of\n"
              "one core, median of %d interleaved rounds of %.3f s slices\n",
              body_bytes, max_body, rounds, slice);
  std::printf("  %-44s %12s %10s\n", "operation", "per second", "X25519s");
  std::printf("  %-44s %12.1f %10.3f\n", "bare crypto_scalarmult", rate[0], 1.0);
  const char* labels[] = {nullptr,
                          "v1 seal (signed, sealed sender)",
                          "v1 open",
                          "v2 seal (ratchet message, same chain)",
                          "v2 open (ratchet message, same chain)",
                          "v2 message with a DH step (seal + open)",
                          "v2 first message (X3DH + seal + open)"};
  for (std::size_t i = 1; i < ms.size(); ++i)
    std::printf("  %-44s %12.1f %10.3f\n", labels[i], rate[i], units(rate[i]));
  std::printf("\n  size added to a body: v1 %zu bytes, v2 %zu (first messages %zu); at %u bytes a\n"
              "  envelope carries %zu body bytes in v1, %zu in v2 (%zu in a first message)\n",
              ov1, ov2, ov2_first, max_body, fragment_capacity(max_body),
              v2::capacity(v2::Kind::ratchet, max_body), v2::capacity(v2::Kind::prekey, max_body));
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
          "envelope_bench: sealing and opening messages, version 2 against version 1, in X25519s.",
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
