// Writes the onion-cell test vectors to stdout as JSON:
//
//   <build>/bin/gen_onion_vectors > tests/vectors/onion.json
//
// Every input is fixed (keys derived from labels, DeterministicRandom seeds, a
// fixed `now`), so the output is the same on every run; a change to it means
// the cell format changed. tests/unit/test_onion_vectors.cpp checks the
// committed file against the library in both directions, and
// tests/vectors/README.md describes the fields.
#include <cstdint>
#include <cstring>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"
#include "routing/onion_cell.hpp"
#include "routing/onion_keys.hpp"
#include "routing/random_source.hpp"
#include "tests/support/onion_forge.hpp"

namespace {

using namespace nightjar;
using Json = nlohmann::ordered_json;
using Buffer = std::vector<std::uint8_t>;

std::string hex(Bytes b) { return to_hex(b); }

// A fixed 32-byte value named by a label: BLAKE2b-256 of the label. Only the
// generator uses the labels; the file records the values themselves.
Hash256 fixed_bytes(const std::string& label) {
  return crypto::blake2b_256(as_bytes("nightjar onion test vectors: " + label));
}

// DeterministicRandom that also records what each read returned, so the file
// can list the draws for implementations that inject randomness directly.
class RecordingRandom final : public RandomSource {
 public:
  explicit RecordingRandom(std::span<const std::uint8_t, 32> seed) : inner_(seed) {}
  void fill(MutableBytes out) override {
    inner_.fill(out);
    draws_.emplace_back(out.begin(), out.end());
  }
  const std::vector<Buffer>& draws() const { return draws_; }

 private:
  DeterministicRandom inner_;
  std::vector<Buffer> draws_;
};

struct HopSpec {
  unsigned node = 0;        // which fixed node (selects its keys)
  std::uint64_t epoch = 0;  // key epoch the cell is built for
};

struct ReplySpec {
  std::size_t made_by = 0;  // hop index of the node that answers
  ReplyKind kind = ReplyKind::response;
  std::uint8_t code = 0;
  Buffer data;
};

struct FixedNode {
  Ed25519Seed seed;
  NodeId id;
  X25519SecretKey onion_secret;
  X25519PublicKey onion_public;
};

// A change to the built cell, made by opening hop 0's layer and sealing it
// again (tests/support/onion_forge.hpp): a cell build_cell never makes.
struct TamperSpec {
  std::string change;  // what was changed, for the file
  std::function<void(test::OpenedLayer, const FixedNode& hop0)> edit;
};

struct VectorSpec {
  std::string name;
  std::string description;
  std::string rng_label;  // names the randomness; empty: the vector's name
  std::size_t cell_bytes = onion::default_cell_bytes;
  std::uint64_t now = 0;
  EpochSchedule schedule;
  std::vector<HopSpec> hops;
  Buffer request;
  std::optional<TamperSpec> tamper;
  std::optional<PeelDrop> drop;  // the last hop must drop the cell, for this reason
  std::vector<ReplySpec> replies;
};

FixedNode fixed_node(unsigned node, std::uint64_t epoch) {
  FixedNode n;
  n.seed = Ed25519Seed::from(fixed_bytes("node seed " + std::to_string(node)).view());
  n.id = crypto::ed25519_from_seed(n.seed).pub;
  n.onion_secret = X25519SecretKey::from(
      fixed_bytes("onion secret node " + std::to_string(node) + " epoch " + std::to_string(epoch))
          .view());
  n.onion_public = crypto::x25519_public(n.onion_secret);
  return n;
}

Buffer text(const std::string& s) { return {s.begin(), s.end()}; }

// n bytes 0, 1, 2, ... (mod 256).
Buffer counting(std::size_t n) {
  Buffer b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i & 0xff);
  return b;
}

const char* kind_name(ReplyKind k) { return k == ReplyKind::response ? "response" : "relay_error"; }

// The PeelDrop enumerator's name, as the file records it.
const char* drop_name(PeelDrop d) {
  switch (d) {
    case PeelDrop::wrong_size: return "wrong_size";
    case PeelDrop::expired_key: return "expired_key";
    case PeelDrop::low_order_key: return "low_order_key";
    case PeelDrop::bad_mac: return "bad_mac";
    case PeelDrop::replay: return "replay";
    case PeelDrop::replay_cache_full: return "replay_cache_full";
    case PeelDrop::bad_slot: return "bad_slot";
    case PeelDrop::bad_payload: return "bad_payload";
  }
  return "unknown";
}

[[noreturn]] void die(const std::string& what) { throw std::runtime_error(what); }

Json make_vector(const VectorSpec& spec) {
  const std::size_t n = spec.hops.size();
  std::vector<FixedNode> nodes;
  std::vector<OnionHop> path;
  for (const auto& h : spec.hops) {
    nodes.push_back(fixed_node(h.node, h.epoch));
    path.push_back(OnionHop{nodes.back().id, nodes.back().onion_public, h.epoch});
  }

  Json v;
  v["name"] = spec.name;
  v["description"] = spec.description;
  v["cell_bytes"] = spec.cell_bytes;
  v["now"] = spec.now;
  v["epoch_seconds"] = spec.schedule.epoch_seconds;
  v["grace_seconds"] = spec.schedule.grace_seconds;
  const Hash256 rng_seed =
      fixed_bytes("rng seed " + (spec.rng_label.empty() ? spec.name : spec.rng_label));
  v["rng_seed"] = hex(rng_seed);
  v["request"] = hex(spec.request);
  Json hops = Json::array();
  for (std::size_t i = 0; i < n; ++i) {
    hops.push_back(Json{{"node_seed", hex(nodes[i].seed.view())},
                        {"node_id", hex(nodes[i].id)},
                        {"onion_secret", hex(nodes[i].onion_secret.view())},
                        {"onion_public", hex(nodes[i].onion_public)},
                        {"key_epoch", spec.hops[i].epoch}});
  }
  v["hops"] = std::move(hops);

  // Client: build.
  RecordingRandom rng(rng_seed.view());
  auto built = build_cell(spec.cell_bytes, path, spec.request, rng);
  if (!built) die(spec.name + ": build_cell: " + to_string(built.error()));
  Json draws = Json::array();
  for (const auto& d : rng.draws()) draws.push_back(hex(d));
  v["random_draws"] = std::move(draws);
  v["cell"] = hex(built->cell);

  Buffer cell = built->cell;
  if (spec.tamper) {
    if (n != 1) die(spec.name + ": only a 1-hop cell can be tampered with");
    Buffer same = cell;  // sealed again unchanged, it must come back as built
    if (!test::reseal_layer(nodes[0].onion_secret, same, [](test::OpenedLayer) {}) ||
        same != built->cell)
      die(spec.name + ": resealing disagrees with build_cell");
    if (!test::reseal_layer(nodes[0].onion_secret, cell,
                            [&](test::OpenedLayer l) { spec.tamper->edit(l, nodes[0]); }))
      die(spec.name + ": cannot reseal the cell");
    if (cell == built->cell) die(spec.name + ": tampering changed nothing");
    v["tampered"] = Json{{"change", spec.tamper->change}, {"cell", hex(cell)}};
  }

  // Nodes: peel, each with only the onion key the cell was built for.
  Json peel = Json::array();
  std::vector<ReplyKey> reply_keys;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t e = spec.hops[i].epoch;
    OnionKeyring ring(spec.schedule);
    OnionKey key;
    key.epoch = e;
    key.keys.pub = nodes[i].onion_public;
    key.keys.sec = X25519SecretKey::from(nodes[i].onion_secret.view());
    key.valid_from = spec.schedule.valid_from(e);
    key.valid_until = spec.schedule.valid_until(e);
    ring.add(std::move(key));
    ReplayCache replay;

    Json step;
    step["hop"] = i;
    step["cell_in"] = hex(cell);
    auto p = peel_cell(ring, replay, cell, spec.cell_bytes, spec.now);
    const bool last = i + 1 == n;
    if (last && spec.drop) {
      if (p) die(spec.name + ": the last hop did not drop the cell");
      if (p.error() != *spec.drop)
        die(spec.name + ": dropped for another reason: " + to_string(p.error()));
      step["action"] = "drop";
      step["drop"] = drop_name(p.error());
      peel.push_back(std::move(step));
      break;
    }
    if (!p) die(spec.name + ": peel_cell at hop " + std::to_string(i) + ": " + to_string(p.error()));
    if (!crypto::equal(p->reply_key.view(), built->reply_keys[i].view()))
      die(spec.name + ": reply keys of client and node differ at hop " + std::to_string(i));
    if (last != (p->action == onion::SlotType::deliver))
      die(spec.name + ": unexpected action at hop " + std::to_string(i));
    step["action"] = last ? "deliver" : "relay";
    if (!last) step["next_hop"] = hex(p->next_hop);
    step["reply_key"] = hex(p->reply_key.view());
    if (last)
      step["data"] = hex(p->data);
    else
      step["cell_out"] = hex(cell);
    reply_keys.push_back(std::move(p->reply_key));
    peel.push_back(std::move(step));
  }
  v["peel"] = std::move(peel);

  // Replies: made by one hop, wrapped by each hop before it, opened by the client.
  Json replies = Json::array();
  for (const auto& r : spec.replies) {
    if (r.made_by >= reply_keys.size()) die(spec.name + ": reply from a hop outside the path");
    Json out;
    out["made_by"] = r.made_by;
    out["kind"] = kind_name(r.kind);
    out["reply_code"] = r.code;
    out["reply_data"] = hex(r.data);
    auto made = make_reply(spec.cell_bytes, reply_keys[r.made_by], r.kind, r.code, r.data);
    if (!made) die(spec.name + ": make_reply: " + to_string(made.error()));
    Buffer reply = std::move(*made);
    out["reply_cell"] = hex(reply);
    Json wrapped = Json::array();
    for (std::size_t h = r.made_by; h-- > 0;) {
      wrap_reply(reply_keys[h], reply);
      wrapped.push_back(Json{{"hop", h}, {"cell", hex(reply)}});
    }
    out["wrapped"] = std::move(wrapped);
    auto opened = open_reply(built->reply_keys, reply);
    if (!opened) die(spec.name + ": open_reply: " + to_string(opened.error()));
    out["opened"] = Json{{"hop", opened->hop},
                         {"kind", kind_name(opened->kind)},
                         {"code", opened->code},
                         {"data", hex(opened->data)}};
    replies.push_back(std::move(out));
  }
  v["replies"] = std::move(replies);
  return v;
}

Json format_notes() {
  Json f;
  f["spec"] = "docs/PROTOCOL.md, section \"Onion cells\"";
  f["encoding"] = "binary values are lowercase hex strings; integers are JSON numbers";
  f["max_hops"] = onion::max_hops;
  f["slot_bytes"] = onion::slot_bytes;
  f["header_bytes"] = onion::header_bytes;
  f["default_cell_bytes"] = onion::default_cell_bytes;
  f["min_cell_bytes"] = onion::min_cell_bytes;
  f["max_cell_bytes"] = onion::max_cell_bytes;
  f["cell"] = "alpha (32) || beta (5 slots of 88 = 440) || gamma (16) || payload (cell_bytes - 488)";
  f["slot"] =
      "type (1: 01 relay, 02 deliver) || reserved (7, zero) || next node ID (32) || "
      "next alpha (32) || next gamma (16); a deliver slot is 02 followed by 87 zero bytes";
  f["alpha"] =
      "the hop's ephemeral X25519 public key; its top bit (byte 31, bit 7) is key_epoch mod 2";
  f["request_payload"] =
      "0^16 || u16 length (big-endian) || request || zeros to the end (the destination drops the "
      "cell if any of these zeros is not zero)";
  f["reply_plaintext"] =
      "0^16 || kind (00 response, 01 relay error) || code (1) || u16 length (big-endian) || "
      "data || zeros";
  f["random_draws"] =
      "build_cell reads its random source in this order: a 32-byte ephemeral X25519 secret for "
      "each hop 0..n-1, then (5 - n) * 88 bytes of padding if n < 5. rng_seed is the seed of "
      "DeterministicRandom (routing/random_source.hpp): the ChaCha20-IETF keystream under key "
      "rng_seed and an all-zero nonce from block counter 0, each read starting at the next unused "
      "64-byte block. "
      "random_draws lists the bytes each read returned.";
  f["keys"] =
      "node_id = Ed25519 public key of node_seed; onion_public = X25519 base-point multiple of "
      "onion_secret (clamped as usual); each hop holds only the onion key of its key_epoch, "
      "accepted when key_epoch * epoch_seconds - grace_seconds <= now < "
      "(key_epoch + 1) * epoch_seconds + grace_seconds (unix seconds; start inclusive, end "
      "exclusive)";
  f["peel"] =
      "one entry per hop in path order: cell_in is what the hop receives (hop 0: cell, or "
      "tampered.cell if present), cell_out is the rewritten cell a relay forwards to next_hop "
      "(the next hop's cell_in); the destination delivers data instead; action drop: the hop "
      "must drop the cell for the reason in drop (a PeelDrop name), which ends the list";
  f["tampered"] =
      "present only in vectors of a cell build_cell never makes: cell (as built) opened with hop "
      "0's keys, changed as change says, and sealed again (beta re-encrypted with rho, payload "
      "LIONESS-encrypted, gamma recomputed); tampered.cell is what hop 0 receives";
  f["replies"] =
      "empty when the cell is dropped; reply_cell is made by hop made_by with its reply_key; wrapped lists the cell after each "
      "earlier hop (made_by - 1 down to 0) adds its layer; the last one (or reply_cell if "
      "made_by is 0) is what the client receives and opens into opened";
  return f;
}

std::vector<VectorSpec> vector_specs() {
  std::vector<VectorSpec> specs;

  // An hour-long epoch, 300 s before the next one starts: both the current
  // key (epoch 472222, even) and the next (472223, odd) are live.
  const EpochSchedule hourly{3600, 600};
  const std::uint64_t now_hourly = std::uint64_t{472223} * 3600 - 300;  // 1700002500
  const std::uint64_t even = 472222;
  const std::uint64_t odd = 472223;

  {
    VectorSpec s;
    s.name = "default-path-4-hops";
    s.description =
        "The default path: 3 relays and the destination, default cell size; keys of both "
        "parities. Replies: a response from the destination, and a relay error (code 02, next "
        "hop unreachable) made at hop 1 and wrapped by hop 0.";
    s.cell_bytes = onion::default_cell_bytes;
    s.now = now_hourly;
    s.schedule = hourly;
    s.hops = {{0, even}, {1, odd}, {2, even}, {3, odd}};
    s.request = text("GET /swarm/inbox?since=0 -- a request through three relays to the destination");
    s.replies.push_back({3, ReplyKind::response, 0, text("{\"messages\":[],\"more\":false}")});
    s.replies.push_back({1, ReplyKind::relay_error, 2, {}});
    specs.push_back(std::move(s));
  }
  {
    VectorSpec s;
    s.name = "single-hop";
    s.description =
        "A 1-hop path (the destination only), default cell size, a day-long epoch, odd key "
        "epoch. The response carries no data.";
    s.cell_bytes = onion::default_cell_bytes;
    s.schedule = EpochSchedule{86400, 3600};
    s.now = 1'700'000'000;  // epoch 19675
    s.hops = {{4, 19675}};
    s.request = text("ping");
    s.replies.push_back({0, ReplyKind::response, 0, {}});
    specs.push_back(std::move(s));
  }
  {
    VectorSpec s;
    s.name = "five-hops-min-cell";
    s.description =
        "The longest path (5 hops) in the smallest cell (onion::min_cell_bytes), with a request "
        "and a response that fill the cell exactly; response code 07.";
    s.cell_bytes = onion::min_cell_bytes;
    s.now = now_hourly;
    s.schedule = hourly;
    s.hops = {{0, odd}, {1, even}, {2, odd}, {3, even}, {4, odd}};
    s.request = counting(onion::max_request_data(onion::min_cell_bytes));
    s.replies.push_back({4, ReplyKind::response, 7, counting(onion::max_reply_data(onion::min_cell_bytes))});
    specs.push_back(std::move(s));
  }

  // The ends of a key's acceptance window: one cell (the same randomness, so
  // the same bytes) for key epoch 472223, peeled at the last instant before
  // the window, its first and last instants, and the first instant after it.
  const std::uint64_t window_from = hourly.valid_from(odd);    // 1700002200, inclusive
  const std::uint64_t window_until = hourly.valid_until(odd);  // 1700007000, exclusive
  const struct {
    const char* name;
    std::uint64_t now;
    const char* when;
    bool accepted;
  } instants[] = {
      {"key-epoch-before-window", window_from - 1,
       "1700002199, one second before the window opens (epoch start 1700002800 - grace 600 - 1)",
       false},
      {"key-epoch-first-accepted", window_from,
       "1700002200, the first second of the window (epoch start 1700002800 - grace 600)", true},
      {"key-epoch-last-accepted", window_until - 1,
       "1700006999, the last second of the window (epoch end 1700006400 + grace 600 - 1)", true},
      {"key-epoch-after-window", window_until,
       "1700007000, the first second after the window (epoch end 1700006400 + grace 600)", false},
  };
  for (const auto& at : instants) {
    VectorSpec s;
    s.name = at.name;
    s.description =
        std::string("Key epoch 472223 (odd) of hour-long epochs with 600 s of grace: accepted "
                    "from 1700002200 (inclusive) until 1700007000 (exclusive). The cell, the same "
                    "in all four key-epoch vectors, is peeled at ") +
        at.when + (at.accepted ? ": delivered." : ": dropped, no live key (expired_key).");
    s.rng_label = "key-epoch-window";
    s.cell_bytes = onion::default_cell_bytes;
    s.now = at.now;
    s.schedule = hourly;
    s.hops = {{5, odd}};
    s.request = text("key epoch window");
    if (at.accepted)
      s.replies.push_back({0, ReplyKind::response, 0, text("in window")});
    else
      s.drop = PeelDrop::expired_key;
    specs.push_back(std::move(s));
  }

  // Deliver cells that are not canonical: the destination must drop them.
  {
    VectorSpec s;
    s.name = "deliver-slot-names-destination";
    s.description =
        "A 1-hop cell whose deliver slot holds the destination's own node ID in the next-node-ID "
        "field (slot bytes 8..40) instead of zeros: the destination drops it (bad_slot).";
    s.cell_bytes = onion::default_cell_bytes;
    s.now = now_hourly;
    s.schedule = hourly;
    s.hops = {{6, even}};
    s.request = text("a request in a non-canonical deliver slot");
    s.tamper = TamperSpec{
        "slot bytes 8..40 (B[8..40), the next node ID field of the deliver slot) set to hop 0's "
        "node_id",
        [](test::OpenedLayer l, const FixedNode& hop0) {
          std::memcpy(l.routing.data() + 8, hop0.id.data(), hop0.id.size());
        }};
    s.drop = PeelDrop::bad_slot;
    specs.push_back(std::move(s));
  }
  {
    VectorSpec s;
    s.name = "deliver-nonzero-after-request";
    s.description =
        "A 1-hop cell whose payload has the byte 01 right after the request, where zeros belong: "
        "the destination drops it (bad_payload).";
    s.cell_bytes = onion::default_cell_bytes;
    s.now = now_hourly;
    s.schedule = hourly;
    s.hops = {{6, odd}};
    s.request = text("a request followed by a stray byte");
    const std::size_t after = onion::request_prefix + s.request.size();
    s.tamper = TamperSpec{
        "payload byte " + std::to_string(after) +
            " (the first byte after the request, 18 + request length) set to 01",
        [after](test::OpenedLayer l, const FixedNode&) { l.payload[after] = 0x01; }};
    s.drop = PeelDrop::bad_payload;
    specs.push_back(std::move(s));
  }
  return specs;
}

}  // namespace

int main() {
  if (!crypto::init()) {
    std::cerr << "libsodium failed to initialise\n";
    return 1;
  }
  try {
    Json doc;
    doc["description"] =
        "Nightjar onion-cell test vectors: cells built from fixed keys and fixed randomness, "
        "the result of peeling them at every hop, and reply cells on the way back. Generated by "
        "tests/vectors/gen_onion_vectors.cpp; fields: tests/vectors/README.md.";
    doc["format"] = format_notes();
    Json vectors = Json::array();
    for (const auto& spec : vector_specs()) vectors.push_back(make_vector(spec));
    doc["vectors"] = std::move(vectors);
    std::cout << doc.dump(2) << '\n';
  } catch (const std::exception& e) {
    std::cerr << "gen_onion_vectors: " << e.what() << '\n';
    return 1;
  }
  return std::cout.good() ? 0 : 1;
}
