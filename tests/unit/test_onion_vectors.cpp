// Checks the published onion-cell test vectors (tests/vectors/onion.json) in
// both directions: building from the recorded inputs gives exactly the
// recorded cell, and peeling, making, wrapping and opening replies from the
// recorded bytes give exactly the recorded results, drops included (a cell
// outside its key's window, a deliver cell with non-zero bytes where zeros
// belong). A change to the cell
// format fails here until the vectors are regenerated on purpose
// (tests/vectors/README.md).
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"
#include "routing/onion_cell.hpp"
#include "routing/onion_keys.hpp"
#include "routing/random_source.hpp"

using namespace nightjar;
using Json = nlohmann::json;
using Buffer = std::vector<std::uint8_t>;

namespace {

// tests/CMakeLists.txt passes NIGHTJAR_SOURCE_DIR. Without it, the file is
// found next to this source file (tests/unit/../vectors/), which is an
// absolute path under CMake and relative to the compiler's working directory
// otherwise.
std::filesystem::path vectors_path() {
#ifdef NIGHTJAR_SOURCE_DIR
  return std::filesystem::path(NIGHTJAR_SOURCE_DIR) / "tests" / "vectors" / "onion.json";
#else
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "vectors" / "onion.json";
#endif
}

const Json& vectors_file() {
  static const Json doc = [] {
    const auto path = vectors_path();
    std::ifstream in(path);
    if (!in) FAIL("cannot open " << path.string());
    Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) FAIL(path.string() << " is not valid JSON");
    return j;
  }();
  return doc;
}

const Json& vectors() {
  const Json& doc = vectors_file();
  REQUIRE(doc.contains("vectors"));
  REQUIRE(doc["vectors"].is_array());
  REQUIRE_FALSE(doc["vectors"].empty());
  return doc["vectors"];
}

const Json& field(const Json& j, const char* key) {
  INFO("field: " << key);
  REQUIRE(j.is_object());
  REQUIRE(j.contains(key));
  return j[key];
}

std::uint64_t number(const Json& j, const char* key) {
  const Json& v = field(j, key);
  INFO("field: " << key);
  REQUIRE(v.is_number_unsigned());
  return v.get<std::uint64_t>();
}

std::string string(const Json& j, const char* key) {
  const Json& v = field(j, key);
  INFO("field: " << key);
  REQUIRE(v.is_string());
  return v.get<std::string>();
}

// Decodes a hex field; it must be lowercase, as the file promises.
Buffer bytes(const Json& j, const char* key) {
  const std::string hex = string(j, key);
  INFO("field: " << key);
  REQUIRE(hex.size() % 2 == 0);
  Buffer out(hex.size() / 2);
  REQUIRE(from_hex(hex, out));
  CHECK(to_hex(out) == hex);
  return out;
}

template <class T>
T fixed(const Json& j, const char* key) {
  const Buffer b = bytes(j, key);
  INFO("field: " << key);
  REQUIRE(b.size() == T::size());
  return T::from(std::span<const std::uint8_t, T::size_bytes>(b.data(), T::size_bytes));
}

// "" when equal, else where the first difference is (keeps failure output
// short for 1 KiB cells).
std::string diff(Bytes actual, Bytes expected) {
  if (actual.size() != expected.size())
    return "size " + std::to_string(actual.size()) + ", expected " + std::to_string(expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i])
      return "first difference at byte " + std::to_string(i) + ": " + to_hex(actual.subspan(i, 1)) +
             ", expected " + to_hex(expected.subspan(i, 1));
  }
  return "";
}

// A PeelDrop by the name the file records.
PeelDrop drop_reason(const std::string& s) {
  INFO("drop: " << s);
  static const std::pair<const char*, PeelDrop> names[] = {
      {"wrong_size", PeelDrop::wrong_size},
      {"expired_key", PeelDrop::expired_key},
      {"low_order_key", PeelDrop::low_order_key},
      {"bad_mac", PeelDrop::bad_mac},
      {"replay", PeelDrop::replay},
      {"replay_cache_full", PeelDrop::replay_cache_full},
      {"bad_slot", PeelDrop::bad_slot},
      {"bad_payload", PeelDrop::bad_payload}};
  for (const auto& [name, drop] : names)
    if (s == name) return drop;
  FAIL("unknown drop reason");
  return PeelDrop::wrong_size;
}

bool dropped(const Json& v) {
  const Json& peel = field(v, "peel");
  REQUIRE(peel.is_array());
  REQUIRE_FALSE(peel.empty());
  return string(peel.back(), "action") == "drop";
}

ReplyKind reply_kind(const std::string& s) {
  INFO("kind: " << s);
  REQUIRE((s == "response" || s == "relay_error"));
  return s == "response" ? ReplyKind::response : ReplyKind::relay_error;
}

// DeterministicRandom that records what each read returned.
class RecordingRandom final : public RandomSource {
 public:
  explicit RecordingRandom(std::span<const std::uint8_t, 32> seed) : inner_(seed) {}
  void fill(MutableBytes out) override {
    inner_.fill(out);
    draws.emplace_back(out.begin(), out.end());
  }
  std::vector<Buffer> draws;

 private:
  DeterministicRandom inner_;
};

struct Hop {
  NodeId id;
  X25519PublicKey onion_public;
  X25519SecretKey onion_secret;
  std::uint64_t key_epoch = 0;
};

// The hops of a vector, with their keys checked against the recorded seeds.
std::vector<Hop> hops_of(const Json& v) {
  const Json& hops = field(v, "hops");
  REQUIRE(hops.is_array());
  REQUIRE(!hops.empty());
  REQUIRE(hops.size() <= onion::max_hops);
  std::vector<Hop> out;
  for (std::size_t i = 0; i < hops.size(); ++i) {
    INFO("hop " << i);
    const Json& h = hops[i];
    Hop hop;
    hop.id = fixed<NodeId>(h, "node_id");
    hop.onion_public = fixed<X25519PublicKey>(h, "onion_public");
    hop.onion_secret = fixed<X25519SecretKey>(h, "onion_secret");
    hop.key_epoch = number(h, "key_epoch");
    CHECK(diff(crypto::ed25519_from_seed(fixed<Ed25519Seed>(h, "node_seed")).pub, hop.id) == "");
    CHECK(diff(crypto::x25519_public(hop.onion_secret), hop.onion_public) == "");
    out.push_back(std::move(hop));
  }
  return out;
}

EpochSchedule schedule_of(const Json& v) {
  EpochSchedule s{number(v, "epoch_seconds"), number(v, "grace_seconds")};
  REQUIRE(s.valid());
  return s;
}

// A keyring holding only the key of the hop's recorded epoch.
OnionKeyring keyring_of(const Hop& hop, const EpochSchedule& schedule) {
  OnionKeyring ring(schedule);
  OnionKey key;
  key.epoch = hop.key_epoch;
  key.keys.pub = hop.onion_public;
  key.keys.sec = X25519SecretKey::from(hop.onion_secret.view());
  key.valid_from = schedule.valid_from(hop.key_epoch);
  key.valid_until = schedule.valid_until(hop.key_epoch);
  ring.add(std::move(key));
  return ring;
}

// The reply keys as recorded by the peel steps, in path order (a hop that
// drops the cell records none).
std::vector<ReplyKey> recorded_reply_keys(const Json& v) {
  std::vector<ReplyKey> keys;
  for (const Json& step : field(v, "peel"))
    if (string(step, "action") != "drop") keys.push_back(fixed<ReplyKey>(step, "reply_key"));
  return keys;
}

}  // namespace

TEST_CASE("onion vectors: the file matches the format and covers the required paths", "[onion][vectors]") {
  const Json& format = field(vectors_file(), "format");
  CHECK(number(format, "max_hops") == onion::max_hops);
  CHECK(number(format, "slot_bytes") == onion::slot_bytes);
  CHECK(number(format, "header_bytes") == onion::header_bytes);
  CHECK(number(format, "default_cell_bytes") == onion::default_cell_bytes);
  CHECK(number(format, "min_cell_bytes") == onion::min_cell_bytes);
  CHECK(number(format, "max_cell_bytes") == onion::max_cell_bytes);

  bool default_path = false, single_hop = false, five_min = false, relay_error = false;
  // The ends of a key's acceptance window, as docs/PROTOCOL.md states it:
  // [e·T − g, (e+1)·T + g) for the key epoch e of the hop that peels last.
  // Covered: the instant before it, its first and last instants, the instant
  // after it.
  bool before_window = false, window_opens = false, window_closes = false, after_window = false;
  bool tampered_slot = false, tampered_payload = false;
  for (const Json& v : vectors()) {
    const std::size_t hops = field(v, "hops").size();
    const std::uint64_t cell_bytes = number(v, "cell_bytes");
    default_path |= hops == 4 && cell_bytes == onion::default_cell_bytes;
    single_hop |= hops == 1;
    five_min |= hops == 5 && cell_bytes == onion::min_cell_bytes;
    for (const Json& r : field(v, "replies"))
      relay_error |= string(r, "kind") == "relay_error" && number(r, "made_by") > 0;

    const Json& last = field(v, "peel").back();
    const std::uint64_t hop = number(last, "hop");
    REQUIRE(hop < hops);
    const std::uint64_t e = number(field(v, "hops")[hop], "key_epoch");
    const std::uint64_t t = number(v, "epoch_seconds"), g = number(v, "grace_seconds");
    REQUIRE(e * t >= g);
    const std::uint64_t valid_from = e * t - g, valid_until = (e + 1) * t + g;
    const std::uint64_t now = number(v, "now");
    const std::string action = string(last, "action");
    const bool expired = action == "drop" && string(last, "drop") == "expired_key";
    before_window |= now + 1 == valid_from && expired;
    window_opens |= now == valid_from && action == "deliver";
    window_closes |= now + 1 == valid_until && action == "deliver";
    after_window |= now == valid_until && expired;
    if (v.contains("tampered") && action == "drop") {
      tampered_slot |= string(last, "drop") == "bad_slot";
      tampered_payload |= string(last, "drop") == "bad_payload";
    }
  }
  CHECK(default_path);
  CHECK(single_hop);
  CHECK(five_min);
  CHECK(relay_error);
  CHECK(before_window);
  CHECK(window_opens);
  CHECK(window_closes);
  CHECK(after_window);
  CHECK(tampered_slot);
  CHECK(tampered_payload);
}

TEST_CASE("onion vectors: building from the fixed inputs gives the recorded cell", "[onion][vectors]") {
  for (const Json& v : vectors()) {
    INFO("vector: " << string(v, "name"));
    const std::size_t cell_bytes = number(v, "cell_bytes");
    const std::vector<Hop> hops = hops_of(v);
    std::vector<OnionHop> path;
    for (const auto& h : hops) path.push_back(OnionHop{h.id, h.onion_public, h.key_epoch});

    RecordingRandom rng(fixed<Hash256>(v, "rng_seed").view());
    auto built = build_cell(cell_bytes, path, bytes(v, "request"), rng);
    REQUIRE(built.ok());
    CHECK(diff(built->cell, bytes(v, "cell")) == "");
    CHECK(diff(built->first_hop, hops[0].id) == "");

    // The reads build_cell made, as listed for implementations that inject
    // their randomness directly.
    const Json& draws = field(v, "random_draws");
    REQUIRE(draws.is_array());
    REQUIRE(rng.draws.size() == draws.size());
    for (std::size_t i = 0; i < draws.size(); ++i) {
      INFO("random draw " << i);
      REQUIRE(draws[i].is_string());
      Buffer expected(draws[i].get<std::string>().size() / 2);
      REQUIRE(from_hex(draws[i].get<std::string>(), expected));
      CHECK(diff(rng.draws[i], expected) == "");
    }

    // The client's reply keys are the ones the nodes derive.
    const std::vector<ReplyKey> keys = recorded_reply_keys(v);
    REQUIRE(built->reply_keys.size() >= keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      INFO("hop " << i);
      CHECK(diff(built->reply_keys[i].view(), keys[i].view()) == "");
    }
  }
}

TEST_CASE("onion vectors: peeling at each hop gives the recorded results", "[onion][vectors]") {
  for (const Json& v : vectors()) {
    INFO("vector: " << string(v, "name"));
    const std::size_t cell_bytes = number(v, "cell_bytes");
    const std::uint64_t now = number(v, "now");
    const EpochSchedule schedule = schedule_of(v);
    const std::vector<Hop> hops = hops_of(v);
    const Json& peel = field(v, "peel");
    REQUIRE(peel.is_array());
    // A drop ends the list; otherwise every hop peels.
    REQUIRE((peel.size() == hops.size() || (peel.size() < hops.size() && dropped(v))));

    // Hop 0 gets the built cell, or the cell tampered with after building.
    Buffer expected_in = bytes(v, "cell");
    if (v.contains("tampered")) {
      const Buffer tampered = bytes(field(v, "tampered"), "cell");
      CHECK(string(field(v, "tampered"), "change") != "");
      CHECK(diff(tampered, expected_in) != "");
      expected_in = tampered;
    }
    for (std::size_t i = 0; i < peel.size(); ++i) {
      INFO("hop " << i);
      const Json& step = peel[i];
      CHECK(number(step, "hop") == i);
      Buffer cell = bytes(step, "cell_in");
      CHECK(diff(cell, expected_in) == "");  // hop 0: the cell above; then the previous cell_out

      const OnionKeyring ring = keyring_of(hops[i], schedule);
      ReplayCache replay;
      auto p = peel_cell(ring, replay, cell, cell_bytes, now);
      if (string(step, "action") == "drop") {
        REQUIRE(i + 1 == peel.size());
        REQUIRE_FALSE(p.ok());
        CHECK(p.error() == drop_reason(string(step, "drop")));
        break;
      }
      REQUIRE(p.ok());
      CHECK(p->epoch == hops[i].key_epoch);
      CHECK(diff(p->reply_key.view(), fixed<ReplyKey>(step, "reply_key").view()) == "");

      const bool last = i + 1 == hops.size();
      if (string(step, "action") == "relay") {
        REQUIRE_FALSE(last);
        REQUIRE(p->action == onion::SlotType::relay);
        CHECK(diff(p->next_hop, fixed<NodeId>(step, "next_hop")) == "");
        CHECK(diff(p->next_hop, hops[i + 1].id) == "");
        expected_in = bytes(step, "cell_out");
        CHECK(diff(cell, expected_in) == "");
      } else {
        REQUIRE(string(step, "action") == "deliver");
        REQUIRE(last);
        REQUIRE(p->action == onion::SlotType::deliver);
        const Buffer data = bytes(step, "data");
        CHECK(diff(p->data, data) == "");
        CHECK(diff(p->data, bytes(v, "request")) == "");
      }

      // Peeled once, the cell is a replay.
      Buffer again = bytes(step, "cell_in");
      auto replayed = peel_cell(ring, replay, again, cell_bytes, now);
      REQUIRE_FALSE(replayed.ok());
      CHECK(replayed.error() == PeelDrop::replay);
    }
  }
}

TEST_CASE("onion vectors: replies are made, wrapped and opened as recorded", "[onion][vectors]") {
  for (const Json& v : vectors()) {
    INFO("vector: " << string(v, "name"));
    const std::size_t cell_bytes = number(v, "cell_bytes");
    const std::vector<ReplyKey> keys = recorded_reply_keys(v);
    const Json& replies = field(v, "replies");
    REQUIRE(replies.is_array());
    // A dropped cell gets no reply; every delivered one has at least one.
    REQUIRE(replies.empty() == dropped(v));

    for (std::size_t r = 0; r < replies.size(); ++r) {
      INFO("reply " << r);
      const Json& reply = replies[r];
      const std::size_t made_by = number(reply, "made_by");
      REQUIRE(made_by < keys.size());
      const std::uint64_t code = number(reply, "reply_code");
      REQUIRE(code <= 0xff);
      const ReplyKind kind = reply_kind(string(reply, "kind"));

      auto made = make_reply(cell_bytes, keys[made_by], kind, static_cast<std::uint8_t>(code),
                             bytes(reply, "reply_data"));
      REQUIRE(made.ok());
      Buffer expected = bytes(reply, "reply_cell");
      CHECK(diff(*made, expected) == "");

      // Each earlier hop adds its layer, from made_by - 1 back to hop 0.
      const Json& wrapped = field(reply, "wrapped");
      REQUIRE(wrapped.is_array());
      REQUIRE(wrapped.size() == made_by);
      for (std::size_t k = 0; k < wrapped.size(); ++k) {
        const std::size_t hop = made_by - 1 - k;
        INFO("wrapped by hop " << hop);
        CHECK(number(wrapped[k], "hop") == hop);
        Buffer cell = expected;
        wrap_reply(keys[hop], cell);
        expected = bytes(wrapped[k], "cell");
        CHECK(diff(cell, expected) == "");
      }

      // The client opens what reaches it with all of the path's reply keys.
      const Json& opened = field(reply, "opened");
      Buffer received = expected;
      auto o = open_reply(keys, received);
      REQUIRE(o.ok());
      CHECK(o->hop == number(opened, "hop"));
      CHECK(o->hop == made_by);
      CHECK(o->kind == reply_kind(string(opened, "kind")));
      CHECK(o->kind == kind);
      CHECK(o->code == number(opened, "code"));
      CHECK(diff(o->data, bytes(opened, "data")) == "");
      CHECK(diff(o->data, bytes(reply, "reply_data")) == "");
    }
  }
}
