// Checks the published envelope version 2 test vectors
// (tests/vectors/envelope-v2.json): the library, run from the recorded seeds,
// makes exactly the committed file; and from the file alone, every envelope
// opens to its recorded inner for its recipient (and for nobody else), the
// record and bundle verify, and Bob's first message is derived again from the
// prekey secrets listed (X3DH and the ratchet, without the generator's code).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/conversation.hpp"
#include "client/envelope_v2.hpp"
#include "swarm/public_record.hpp"
#include "tests/vectors/envelope_v2_transcript.hpp"

using namespace nightjar;
using namespace nightjar::client;
using Json = nlohmann::ordered_json;

namespace {

std::filesystem::path vectors_path() {
#ifdef NIGHTJAR_SOURCE_DIR
  return std::filesystem::path(NIGHTJAR_SOURCE_DIR) / "tests" / "vectors" / "envelope-v2.json";
#else
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "vectors" / "envelope-v2.json";
#endif
}

const Json& vectors_file() {
  static const Json doc = [] {
    std::ifstream in(vectors_path());
    if (!in) FAIL("cannot open " << vectors_path().string());
    Json j = Json::parse(in, nullptr, false);
    if (j.is_discarded()) FAIL("not valid JSON");
    return j;
  }();
  return doc;
}

std::vector<std::uint8_t> unhex(const Json& v) {
  const std::string s = v.get<std::string>();
  std::vector<std::uint8_t> out(s.size() / 2);
  REQUIRE(from_hex(s, out));
  return out;
}

Identity identity_of(const Json& party) {
  const auto seed_bytes = unhex(party["identity_seed"]);
  Ed25519Seed seed;
  std::copy(seed_bytes.begin(), seed_bytes.end(), seed.data());
  return Identity::from_seed(seed);
}

}  // namespace

TEST_CASE("envelope-v2.json is what the library makes from the recorded seeds", "[vectors]") {
  REQUIRE(crypto::init());
  const Json made = vectors::envelope_v2_transcript();
  // Compared as text, so that a difference names the first field that moved.
  CHECK(made.dump(2) == vectors_file().dump(2));
}

TEST_CASE("envelope-v2.json: every envelope opens to its inner, and Bob's first message again from "
          "the listed prekey secrets",
          "[vectors]") {
  REQUIRE(crypto::init());
  const Json& v = vectors_file();
  const Identity alice = identity_of(v["alice"]), bob = identity_of(v["bob"]);
  CHECK(alice.account().hex() == v["alice"]["account"].get<std::string>());
  CHECK(bob.account().hex() == v["bob"]["account"].get<std::string>());

  // The public record holds the bundle, both signed by Bob.
  auto record = decode_record(unhex(v["bob_prekeys"]["record"]));
  REQUIRE(record.ok());
  CHECK(verify_record(*record));
  CHECK(record->owner == bob.account());
  CHECK(record->payload == unhex(v["bob_prekeys"]["bundle"]));
  auto bundle = decode_bundle(record->payload);
  REQUIRE(bundle.ok());
  CHECK(verify(*bundle));

  const auto sizes = v2::buckets(v["format"]["max_body_bytes"].get<std::uint32_t>());
  for (const auto& m : v["messages"]) {
    INFO(m["name"].get<std::string>());
    const bool from_alice = m["from"] == "alice";
    const Identity& to = from_alice ? bob : alice;
    const Identity& wrong = from_alice ? alice : bob;
    const auto envelope = unhex(m["envelope"]);
    CHECK(std::find(sizes.begin(), sizes.end(), envelope.size()) != sizes.end());
    auto inner = v2::open_outer(to, envelope);
    REQUIRE(inner.ok());
    CHECK(*inner == unhex(m["inner"]));
    CHECK_FALSE(v2::open_outer(wrong, envelope).ok());
    auto decoded = v2::decode_inner(*inner);
    REQUIRE(decoded.ok());
    CHECK(decoded->sender == (from_alice ? alice : bob).account());
    CHECK((decoded->kind == v2::Kind::prekey) == (m["kind"] == "prekey"));
  }

  // Bob's side of X3DH from the listed secrets opens a1 on its own.
  const auto& a1 = v["messages"][0];
  REQUIRE(a1["name"] == "a1");
  auto inner = v2::decode_inner(unhex(a1["inner"]));
  REQUIRE(inner.ok());
  auto secret_of = [&](std::uint32_t id) {
    for (const auto& s : v["bob_prekeys"]["prekey_secrets"])
      if (s["id"].get<std::uint32_t>() == id) {
        const auto b = unhex(s["secret"]);
        return X25519SecretKey::from(std::span<const std::uint8_t, 32>(b.data(), 32));
      }
    FAIL("no secret for prekey " << id);
    return X25519SecretKey{};
  };
  const auto spk = secret_of(inner->prekey.signed_prekey_id);
  const auto otk = secret_of(inner->prekey.one_time_prekey_id);
  auto keys = x3dh_respond(bob.account(), bob.x25519_secret(), spk, &otk, alice.account(),
                           inner->prekey.ephemeral);
  REQUIRE(keys.ok());
  X25519KeyPair own;
  own.sec = X25519SecretKey::from(spk.view());
  own.pub = crypto::x25519_public(own.sec);
  auto ratchet = Ratchet::responder(keys->shared, keys->header_key_a, keys->next_header_key_b,
                                    std::move(own));
  auto plain = ratchet.decrypt(inner->ratchet_message, keys->ad, 0);
  REQUIRE(plain.ok());
  auto content = v2::decode_content(*plain);
  REQUIRE(content.ok());
  CHECK(content->body == unhex(a1["content"]["body"]));
  CHECK(content->message_id.hex() == a1["content"]["message_id"].get<std::string>());
}
