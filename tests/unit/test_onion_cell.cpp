#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "routing/onion_cell.hpp"
#include "tests/support/onion_forge.hpp"

using namespace nightjar;
namespace onion = nightjar::onion;

namespace {

constexpr std::uint64_t now = 1'000'000;
const EpochSchedule schedule{3600, 600};

// A node with an onion key for the current epoch.
struct TestNode {
  NodeId id;
  OnionKeyring ring{schedule};
  ReplayCache replay;
  TestNode() {
    id = crypto::ed25519_generate().pub;
    ring.rotate(now);
  }
  OnionHop hop() const {
    const std::uint64_t e = schedule.epoch_at(now);
    return OnionHop{id, ring.find(e)->keys.pub, e};
  }
};

std::vector<std::uint8_t> text(const std::string& s) { return {s.begin(), s.end()}; }

// Peels `cell` along `nodes` and returns the delivered data (or the drop).
struct Trip {
  std::vector<std::vector<std::uint8_t>> cells_seen;  // the cell as each hop received it
  std::optional<PeelDrop> drop;
  std::vector<std::uint8_t> delivered;
  std::vector<ReplyKey> reply_keys;  // as derived by the nodes
};

Trip travel(std::vector<TestNode>& nodes, std::vector<std::uint8_t> cell,
            std::size_t cell_bytes = onion::default_cell_bytes) {
  Trip t;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    t.cells_seen.push_back(cell);
    auto p = peel_cell(nodes[i].ring, nodes[i].replay, cell, cell_bytes, now);
    if (!p) {
      t.drop = p.error();
      return t;
    }
    t.reply_keys.push_back(std::move(p->reply_key));
    if (p->action == onion::SlotType::deliver) {
      t.delivered.assign(p->data.begin(), p->data.end());
      REQUIRE(i == nodes.size() - 1);
      return t;
    }
    REQUIRE(i + 1 < nodes.size());
    CHECK(p->next_hop == nodes[i + 1].id);
  }
  return t;
}

std::vector<OnionHop> path_of(const std::vector<TestNode>& nodes) {
  std::vector<OnionHop> p;
  for (const auto& n : nodes) p.push_back(n.hop());
  return p;
}

}  // namespace

TEST_CASE("cells of every path length reach the destination intact", "[onion]") {
  SystemRandom rng;
  for (std::size_t hops = 1; hops <= onion::max_hops; ++hops) {
    INFO("hops: " << hops);
    std::vector<TestNode> nodes(hops);
    auto msg = text("store this for the recipient, path length " + std::to_string(hops));
    auto built = build_cell(onion::default_cell_bytes, path_of(nodes), msg, rng);
    REQUIRE(built.ok());
    CHECK(built->cell.size() == onion::default_cell_bytes);
    CHECK(built->first_hop == nodes[0].id);
    auto trip = travel(nodes, built->cell);
    REQUIRE_FALSE(trip.drop.has_value());
    CHECK(trip.delivered == msg);
    REQUIRE(trip.reply_keys.size() == hops);
    for (std::size_t i = 0; i < hops; ++i)
      CHECK(crypto::equal(trip.reply_keys[i].view(), built->reply_keys[i].view()));
  }
}

TEST_CASE("a cell keeps its size and shares no 16-byte window between hops", "[onion]") {
  SystemRandom rng;
  std::vector<TestNode> nodes(4);
  std::vector<std::uint8_t> msg(onion::max_request_data(onion::default_cell_bytes), 0);
  auto built = build_cell(onion::default_cell_bytes, path_of(nodes), msg, rng);
  REQUIRE(built.ok());
  auto trip = travel(nodes, built->cell);
  REQUIRE_FALSE(trip.drop.has_value());
  REQUIRE(trip.cells_seen.size() == 4);
  for (std::size_t h = 0; h + 1 < trip.cells_seen.size(); ++h) {
    const auto& a = trip.cells_seen[h];
    const auto& b = trip.cells_seen[h + 1];
    REQUIRE(a.size() == b.size());
    std::set<std::vector<std::uint8_t>> windows;
    for (std::size_t i = 0; i + 16 <= a.size(); ++i) windows.emplace(a.begin() + long(i), a.begin() + long(i + 16));
    std::size_t shared = 0;
    for (std::size_t i = 0; i + 16 <= b.size(); ++i)
      shared += windows.count({b.begin() + long(i), b.begin() + long(i + 16)});
    CHECK(shared == 0);
  }
}

TEST_CASE("a flipped header bit is dropped at the next hop", "[onion]") {
  SystemRandom rng;
  std::vector<TestNode> nodes(4);
  auto built = build_cell(onion::default_cell_bytes, path_of(nodes), text("hi"), rng);
  REQUIRE(built.ok());
  for (std::size_t bit : {0u * 8 + 1, 40u * 8, 300u * 8 + 5, 480u * 8 + 7}) {
    auto cell = built->cell;
    cell[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    ReplayCache fresh;
    auto p = peel_cell(nodes[0].ring, fresh, cell, onion::default_cell_bytes, now);
    REQUIRE_FALSE(p.ok());
    // Bit 255 of alpha selects the key epoch: flipping it selects no live key.
    CHECK((p.error() == PeelDrop::bad_mac || p.error() == PeelDrop::expired_key));
  }
  // Flipped after the first hop: dropped at the second.
  auto cell = built->cell;
  auto p0 = peel_cell(nodes[0].ring, nodes[0].replay, cell, onion::default_cell_bytes, now);
  REQUIRE(p0.ok());
  cell[100] ^= 0x04;
  auto p1 = peel_cell(nodes[1].ring, nodes[1].replay, cell, onion::default_cell_bytes, now);
  REQUIRE_FALSE(p1.ok());
  CHECK(p1.error() == PeelDrop::bad_mac);
}

TEST_CASE("a flipped payload bit leaves nothing readable at the destination", "[onion]") {
  SystemRandom rng;
  std::vector<TestNode> nodes(4);
  std::string secret_text;
  for (int i = 0; i < 40; ++i) secret_text += "attack at dawn ";
  auto msg = text(secret_text.substr(0, onion::max_request_data(onion::default_cell_bytes)));
  auto built = build_cell(onion::default_cell_bytes, path_of(nodes), msg, rng);
  REQUIRE(built.ok());
  auto cell = built->cell;
  cell[onion::header_bytes + onion::payload_bytes(onion::default_cell_bytes) / 2] ^= 0x01;
  auto trip = travel(nodes, cell);
  REQUIRE(trip.drop.has_value());
  CHECK(*trip.drop == PeelDrop::bad_payload);

  // Look at what the destination decrypted: no 8-byte run of the message survives.
  auto last = trip.cells_seen.back();
  // Re-peel with a fresh replay cache to inspect the decrypted payload bytes.
  ReplayCache fresh;
  auto p = peel_cell(nodes.back().ring, fresh, last, onion::default_cell_bytes, now);
  REQUIRE_FALSE(p.ok());
  std::string payload(last.begin() + long(onion::header_bytes), last.end());
  for (std::size_t i = 0; i + 8 <= msg.size(); i += 4)
    CHECK(payload.find(secret_text.substr(i, 8)) == std::string::npos);
}

TEST_CASE("replays, expired epochs, garbage and wrong sizes are dropped", "[onion]") {
  SystemRandom rng;
  std::vector<TestNode> nodes(1);
  auto built = build_cell(onion::default_cell_bytes, path_of(nodes), text("x"), rng);
  REQUIRE(built.ok());

  auto c1 = built->cell;
  REQUIRE(peel_cell(nodes[0].ring, nodes[0].replay, c1, onion::default_cell_bytes, now).ok());
  auto c2 = built->cell;
  auto again = peel_cell(nodes[0].ring, nodes[0].replay, c2, onion::default_cell_bytes, now);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error() == PeelDrop::replay);

  // After the key's validity (epoch end + grace), the cell is refused.
  const std::uint64_t later = schedule.valid_until(schedule.epoch_at(now));
  auto c3 = built->cell;
  ReplayCache fresh;
  auto late = peel_cell(nodes[0].ring, fresh, c3, onion::default_cell_bytes, later);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error() == PeelDrop::expired_key);
  // Within the grace period it still works.
  auto c4 = built->cell;
  ReplayCache fresh2;
  CHECK(peel_cell(nodes[0].ring, fresh2, c4, onion::default_cell_bytes, later - 1).ok());

  std::vector<std::uint8_t> junk(onion::default_cell_bytes);
  crypto::random_bytes(junk);
  junk[31] &= 0x7f;
  junk[31] |= static_cast<std::uint8_t>((schedule.epoch_at(now) & 1) << 7);
  auto g = peel_cell(nodes[0].ring, nodes[0].replay, junk, onion::default_cell_bytes, now);
  REQUIRE_FALSE(g.ok());
  CHECK((g.error() == PeelDrop::bad_mac || g.error() == PeelDrop::low_order_key));

  std::vector<std::uint8_t> shortc(onion::default_cell_bytes - 1);
  CHECK(peel_cell(nodes[0].ring, nodes[0].replay, shortc, onion::default_cell_bytes, now).error() ==
        PeelDrop::wrong_size);

  std::vector<std::uint8_t> zero_alpha(onion::default_cell_bytes, 0);
  zero_alpha[31] = static_cast<std::uint8_t>((schedule.epoch_at(now) & 1) << 7);
  CHECK(peel_cell(nodes[0].ring, nodes[0].replay, zero_alpha, onion::default_cell_bytes, now)
            .error() == PeelDrop::low_order_key);
}

TEST_CASE("the destination drops a deliver cell with non-zero bytes where zeros belong", "[onion]") {
  // build_cell never makes these cells; a client that breaks its rules can,
  // and the destination must drop them (docs/PROTOCOL.md, "Processing at a
  // node", steps 5 and 7), so a delivered request has exactly one encoding.
  SystemRandom rng;
  std::vector<TestNode> nodes(1);
  const auto msg = text("canonical");
  auto built = build_cell(onion::default_cell_bytes, path_of(nodes), msg, rng);
  REQUIRE(built.ok());
  const X25519SecretKey& secret = nodes[0].ring.find(schedule.epoch_at(now))->keys.sec;

  // Resealing without a change gives the built cell back, so the forging
  // helper derives the same keys as the library.
  auto same = built->cell;
  REQUIRE(test::reseal_layer(secret, same, [](test::OpenedLayer) {}));
  CHECK(same == built->cell);

  using Edit = std::function<void(test::OpenedLayer)>;
  const std::size_t after_request = onion::request_prefix + msg.size();
  const std::vector<std::tuple<const char*, Edit, std::optional<PeelDrop>>> cases = {
      {"a byte of the request changed (still delivered)",
       [](test::OpenedLayer l) { l.payload[onion::request_prefix] ^= 1; }, std::nullopt},
      {"the slot's next-node field names the destination",
       [&](test::OpenedLayer l) { std::memcpy(l.routing.data() + 8, nodes[0].id.data(), 32); },
       PeelDrop::bad_slot},
      {"the slot's last byte is 01",
       [](test::OpenedLayer l) { l.routing[onion::slot_bytes - 1] = 1; }, PeelDrop::bad_slot},
      {"the byte right after the request is 01",
       [&](test::OpenedLayer l) { l.payload[after_request] = 1; }, PeelDrop::bad_payload},
      {"the payload's last byte is 80", [](test::OpenedLayer l) { l.payload.back() = 0x80; },
       PeelDrop::bad_payload},
  };
  for (const auto& [what, edit, drop] : cases) {
    INFO(what);
    auto cell = built->cell;
    REQUIRE(test::reseal_layer(secret, cell, edit));
    ReplayCache replay;
    auto p = peel_cell(nodes[0].ring, replay, cell, onion::default_cell_bytes, now);
    if (drop) {
      REQUIRE_FALSE(p.ok());
      CHECK(p.error() == *drop);
    } else {
      REQUIRE(p.ok());
      CHECK(p->action == onion::SlotType::deliver);
      CHECK(p->data.size() == msg.size());
    }
  }
}

TEST_CASE("replies travel back re-encrypted at every hop and open at the client", "[onion]") {
  SystemRandom rng;
  std::vector<TestNode> nodes(4);
  auto built = build_cell(onion::default_cell_bytes, path_of(nodes), text("question"), rng);
  REQUIRE(built.ok());
  auto trip = travel(nodes, built->cell);
  REQUIRE_FALSE(trip.drop.has_value());

  auto answer = text("answer");
  auto reply = make_reply(onion::default_cell_bytes, trip.reply_keys[3], ReplyKind::response, 0, answer);
  REQUIRE(reply.ok());
  std::vector<std::vector<std::uint8_t>> seen{*reply};
  for (std::size_t i = 3; i-- > 0;) {
    wrap_reply(trip.reply_keys[i], *reply);
    seen.push_back(*reply);
  }
  for (std::size_t h = 0; h + 1 < seen.size(); ++h) {
    CHECK(seen[h].size() == onion::default_cell_bytes);
    std::set<std::vector<std::uint8_t>> windows;
    for (std::size_t i = 0; i + 16 <= seen[h].size(); ++i)
      windows.emplace(seen[h].begin() + long(i), seen[h].begin() + long(i + 16));
    std::size_t shared = 0;
    for (std::size_t i = 0; i + 16 <= seen[h + 1].size(); ++i)
      shared += windows.count({seen[h + 1].begin() + long(i), seen[h + 1].begin() + long(i + 16)});
    CHECK(shared == 0);
  }
  auto opened = open_reply(built->reply_keys, *reply);
  REQUIRE(opened.ok());
  CHECK(opened->hop == 3);
  CHECK(opened->kind == ReplyKind::response);
  CHECK(opened->data == answer);

  // An error from the second relay opens as such.
  auto err = make_reply(onion::default_cell_bytes, trip.reply_keys[1], ReplyKind::relay_error, 7, {});
  REQUIRE(err.ok());
  wrap_reply(trip.reply_keys[0], *err);
  auto e = open_reply(built->reply_keys, *err);
  REQUIRE(e.ok());
  CHECK(e->hop == 1);
  CHECK(e->kind == ReplyKind::relay_error);
  CHECK(e->code == 7);

  // A tampered reply does not open.
  auto bad = make_reply(onion::default_cell_bytes, trip.reply_keys[3], ReplyKind::response, 0, answer);
  (*bad)[5] ^= 1;
  CHECK(open_reply(built->reply_keys, *bad).error() == ReplyError::unreadable);
}

TEST_CASE("the builder rejects bad paths and oversized data", "[onion]") {
  SystemRandom rng;
  std::vector<TestNode> six(6);
  auto p = path_of(six);
  CHECK(build_cell(onion::default_cell_bytes, p, {}, rng).error() == OnionError::bad_path_length);
  CHECK(build_cell(onion::default_cell_bytes, {}, {}, rng).error() == OnionError::bad_path_length);
  p.resize(3);
  std::vector<std::uint8_t> big(onion::max_request_data(onion::default_cell_bytes) + 1);
  CHECK(build_cell(onion::default_cell_bytes, p, big, rng).error() == OnionError::data_too_large);
  big.pop_back();
  CHECK(build_cell(onion::default_cell_bytes, p, big, rng).ok());
  CHECK(build_cell(100, p, {}, rng).error() == OnionError::bad_cell_size);
  p[1].onion_key = X25519PublicKey{};
  CHECK(build_cell(onion::default_cell_bytes, p, {}, rng).error() == OnionError::low_order_key);
}

TEST_CASE("other cell sizes work end to end", "[onion]") {
  SystemRandom rng;
  for (std::size_t size : {onion::min_cell_bytes, std::size_t{4096}}) {
    std::vector<TestNode> nodes(3);
    auto msg = text("sized");
    auto built = build_cell(size, path_of(nodes), msg, rng);
    REQUIRE(built.ok());
    auto trip = travel(nodes, built->cell, size);
    REQUIRE_FALSE(trip.drop.has_value());
    CHECK(trip.delivered == msg);
  }
}

TEST_CASE("onion frames are type, big-endian request ID, then the cell", "[onion]") {
  const std::vector<std::uint8_t> cell = {0xc0, 0xc1, 0xc2};
  const auto frame = make_onion_frame(FrameType::onion_reply_last, 0x0102030405060708ull, cell);
  CHECK(to_hex(frame) ==
        "03"
        "0102030405060708"
        "c0c1c2");
  CHECK(make_onion_frame(FrameType::onion_cell, 1, {}).size() == onion_frame_header);

  // In place, in front of a cell already in the buffer; the cell is untouched.
  std::vector<std::uint8_t> buf(onion_frame_header + cell.size(), 0xff);
  std::copy(cell.begin(), cell.end(), buf.begin() + onion_frame_header);
  write_onion_frame_header(buf, FrameType::onion_cell, 0xfedcba9876543210ull);
  CHECK(to_hex(buf) ==
        "01"
        "fedcba9876543210"
        "c0c1c2");

  std::vector<std::uint8_t> too_short(onion_frame_header - 1, 0);
  CHECK_THROWS_AS(write_onion_frame_header(too_short, FrameType::onion_cell, 1), std::length_error);
  CHECK(too_short == std::vector<std::uint8_t>(onion_frame_header - 1, 0));
}
