// Checks the published closed-group test vectors (tests/vectors/group.json):
// the library, run from the recorded seeds, makes exactly the committed file;
// and from the file alone, with libsodium and the formats of docs/GROUPS.md
// (not the generator's code): the epoch hashes follow from the listed genesis
// and commit bytes, the commits and the genesis are signed by whom they name,
// the mailbox and envelope keys follow from each epoch secret and open the
// envelopes' sealed layers, the message keys follow from the listed chain
// keys and decrypt the messages, and the controls carry what the file says.
#include <catch2/catch.hpp>

#include <sodium.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "client/account.hpp"
#include "client/envelope_v2.hpp"
#include "client/group.hpp"
#include "client/group_messages.hpp"
#include "client/identity.hpp"
#include "tests/vectors/group_transcript.hpp"

using namespace nightjar;
using namespace nightjar::client;
using Json = nlohmann::ordered_json;
using Buf = std::vector<std::uint8_t>;

namespace {

std::filesystem::path vectors_path() {
#ifdef NIGHTJAR_SOURCE_DIR
  return std::filesystem::path(NIGHTJAR_SOURCE_DIR) / "tests" / "vectors" / "group.json";
#else
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "vectors" / "group.json";
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

Buf unhex(const Json& v) {
  const std::string s = v.get<std::string>();
  Buf out(s.size() / 2);
  REQUIRE(from_hex(s, out));
  return out;
}

Buf cat(std::initializer_list<Buf> parts) {
  Buf out;
  for (const Buf& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Buf text(std::string_view s) { return Buf(s.begin(), s.end()); }
Buf be32(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}
std::uint64_t read_be(const Buf& b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | b.at(at + i);
  return v;
}
Buf slice(const Buf& b, std::size_t at, std::size_t n) {
  REQUIRE(at + n <= b.size());
  return Buf(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
}

// BLAKE2b-256, keyed when `key` is given (libsodium's generichash).
Buf blake2b(const Buf& in, const Buf& key = {}) {
  Buf out(32);
  crypto_generichash(out.data(), out.size(), in.data(), in.size(), key.empty() ? nullptr : key.data(),
                     key.size());
  return out;
}

// KDF(k, id) of docs/GROUPS.md.
Buf kdf(const Buf& key, std::uint64_t id) {
  Buf out(32);
  REQUIRE(crypto_kdf_derive_from_key(out.data(), out.size(), id, "njgroup1", key.data()) == 0);
  return out;
}

bool ed25519_verify(const Buf& pub, const Buf& message, const Buf& sig) {
  return pub.size() == 32 && sig.size() == 64 &&
         crypto_sign_verify_detached(sig.data(), message.data(), message.size(), pub.data()) == 0;
}

std::optional<Buf> xchacha_open(const Buf& key, const Buf& nonce, const Buf& ad, const Buf& sealed) {
  if (sealed.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) return std::nullopt;
  Buf out(sealed.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long n = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &n, nullptr, sealed.data(), sealed.size(),
                                                 ad.data(), ad.size(), nonce.data(), key.data()) != 0)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(n));
  return out;
}

const Json& epoch_of(const Json& v, std::uint64_t n) {
  for (const Json& e : v["epochs"])
    if (e["epoch"].get<std::uint64_t>() == n) return e;
  FAIL("no epoch " << n);
  return v;
}

// Everything one person sent another, decoded (the controls codec of the
// library: the bytes themselves are checked against the format below).
std::vector<group::Control> controls_between(const Json& v, const std::string& from,
                                             const std::string& to, std::uint64_t epoch) {
  std::vector<group::Control> out;
  for (const Json& c : v["controls"]) {
    if (c["from"] != from || c["to"] != to || c["epoch"].get<std::uint64_t>() != epoch) continue;
    const Buf bytes = unhex(c["bytes"]);
    auto list = group::decode_controls(bytes);
    REQUIRE(list.ok());
    CHECK(group::encode_controls(*list) == bytes);  // one encoding only
    REQUIRE(list->size() == c["types"].size());
    for (std::size_t i = 0; i < list->size(); ++i) {
      CHECK(c["types"][i] == vectors::group_vectors::control_type_name((*list)[i]));
      out.push_back(std::move((*list)[i]));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("group.json is what the library makes from the recorded seeds", "[vectors]") {
  REQUIRE(crypto::init());
  const Json made = vectors::group_vectors::group_transcript();
  // Compared as text, so that a difference names the first field that moved.
  CHECK(made.dump(2) == vectors_file().dump(2));
}

TEST_CASE("group.json: identities, genesis and epoch hashes from the listed bytes", "[vectors]") {
  REQUIRE(crypto::init());
  const Json& v = vectors_file();
  for (const char* who : {"alice", "bob", "carol"}) {
    INFO(who);
    const Buf seed = unhex(v[who]["identity_seed"]);
    Buf pk(32), sk(64);
    crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
    CHECK(pk == unhex(v[who]["account"]));
    CHECK(to_hex(pk) == parse_account_id(v[who]["account_id"].get<std::string>())->hex());
  }

  // The genesis: its fields where docs/GROUPS.md puts them, signed by G.
  const Json& gj = v["genesis"];
  const Buf genesis = unhex(gj["bytes"]);
  const Buf g = unhex(gj["group_key"]);
  const std::string name = gj["name"].get<std::string>();
  REQUIRE(genesis.size() == 1 + 32 + 32 + 8 + 1 + name.size() + 64);
  CHECK(genesis[0] == 0x01);
  CHECK(slice(genesis, 1, 32) == g);
  CHECK(slice(genesis, 33, 32) == unhex(v["alice"]["account"]));
  CHECK(slice(genesis, 33, 32) == unhex(gj["creator"]));
  CHECK(read_be(genesis, 65, 8) == gj["created_ms"].get<std::uint64_t>());
  CHECK(genesis[73] == name.size());
  CHECK(slice(genesis, 74, name.size()) == text(name));
  const Buf genesis_body = slice(genesis, 0, genesis.size() - 64);
  CHECK(ed25519_verify(g, cat({text("nightjar group genesis v1"), genesis_body}),
                       slice(genesis, genesis.size() - 64, 64)));
  // The group ID's text form names G.
  const std::string id = gj["group_id"].get<std::string>();
  CHECK(id.size() == 60);
  CHECK(id.rfind("ng", 0) == 0);
  auto parsed = parse_group_id(id);
  REQUIRE(parsed.ok());
  CHECK(to_hex(parsed->view()) == to_hex(g));
  CHECK(format_group_id(*parsed) == id);

  // (i) The epoch hashes chain from the genesis through the listed commits.
  const Buf label = text("nightjar group epoch v1");
  Buf hash = blake2b(cat({label, Buf(32, 0), blake2b(genesis)}));
  CHECK(to_hex(hash) == gj["epoch_hash"].get<std::string>());
  CHECK(to_hex(hash) == epoch_of(v, 0)["hash"].get<std::string>());
  auto decoded_genesis = group::decode_genesis(genesis);
  REQUIRE(decoded_genesis.ok());
  CHECK(group::verify(*decoded_genesis));
  CHECK(group::genesis_epoch_hash(*decoded_genesis).hex() == to_hex(hash));

  const Json& epochs = v["epochs"];
  REQUIRE(epochs.size() == 3);
  for (std::size_t n = 1; n < epochs.size(); ++n) {
    INFO("epoch " << n);
    const Json& e = epochs[n];
    REQUIRE(e["epoch"].get<std::size_t>() == n);
    const Json& cj = e["commit"];
    const Buf commit = unhex(cj["bytes"]);
    REQUIRE(commit.size() > 1 + 32 + 8 + 32 + 32 + 8 + 1 + 64);
    CHECK(commit[0] == 0x01);
    CHECK(slice(commit, 1, 32) == g);
    CHECK(read_be(commit, 33, 8) == n - 1);
    CHECK(slice(commit, 41, 32) == hash);  // the parent's hash
    const Buf committer = slice(commit, 73, 32);
    CHECK(committer == unhex(cj["committer"]));
    CHECK(read_be(commit, 105, 8) == cj["timestamp_ms"].get<std::uint64_t>());
    CHECK(commit[113] == cj["changes"].size());
    // The changes, as docs/GROUPS.md lays them out.
    std::size_t at = 114;
    for (const Json& ch : cj["changes"]) {
      if (ch["type"] == "add") {
        CHECK(commit.at(at) == 0x01);
        CHECK(slice(commit, at + 1, 32) == unhex(ch["account"]));
        CHECK(commit.at(at + 33) == (ch["role"] == "admin" ? 0x02 : 0x01));
        at += 34;
      } else {
        REQUIRE(ch["type"] == "remove");
        CHECK(commit.at(at) == 0x02);
        CHECK(slice(commit, at + 1, 32) == unhex(ch["account"]));
        at += 33;
      }
    }
    CHECK(at + 64 == commit.size());

    // (iv) Signed by the committer's account key: Alice's, as listed.
    const Buf body = slice(commit, 0, commit.size() - 64);
    const Buf sig = slice(commit, commit.size() - 64, 64);
    CHECK(committer == unhex(v["alice"]["account"]));
    CHECK(ed25519_verify(unhex(v["alice"]["account"]), cat({text("nightjar group commit v1"), body}), sig));
    CHECK_FALSE(ed25519_verify(unhex(v["bob"]["account"]), cat({text("nightjar group commit v1"), body}), sig));
    Buf tampered = body;
    tampered[113] ^= 1;
    CHECK_FALSE(ed25519_verify(committer, cat({text("nightjar group commit v1"), tampered}), sig));
    auto decoded = group::decode_commit(commit);
    REQUIRE(decoded.ok());
    CHECK(group::verify(*decoded));

    // The commit hash, then the epoch hash.
    const Buf commit_hash = blake2b(commit);
    CHECK(to_hex(commit_hash) == cj["hash"].get<std::string>());
    CHECK(group::commit_hash(*decoded).hex() == to_hex(commit_hash));
    hash = blake2b(cat({label, hash, commit_hash}));
    CHECK(to_hex(hash) == e["hash"].get<std::string>());
    CHECK(unhex(cj["parent_hash"]) == slice(commit, 41, 32));
  }
  // The memberships follow from the changes.
  CHECK(epochs[0]["members"].size() == 1);
  CHECK(epochs[1]["members"].size() == 3);
  CHECK(epochs[2]["members"].size() == 2);
  for (const Json& m : epochs[2]["members"]) CHECK(m["account"] != v["carol"]["account"]);
}

TEST_CASE("group.json: epoch keys from the listed secrets open the envelopes, message keys from "
          "the listed chain keys decrypt them",
          "[vectors]") {
  REQUIRE(crypto::init());
  const Json& v = vectors_file();
  const Buf g = unhex(v["genesis"]["group_key"]);

  // (ii) Each epoch's mailbox key pair and envelope key from its secret.
  for (const Json& e : v["epochs"]) {
    INFO("epoch " << e["epoch"].get<std::uint64_t>());
    const Buf secret = unhex(e["epoch_secret"]);
    const Buf seed = kdf(secret, 1);
    CHECK(seed == unhex(e["mailbox_seed"]));
    Buf pk(32), sk(64);
    crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
    CHECK(pk == unhex(e["mailbox_public"]));
    CHECK(kdf(secret, 2) == unhex(e["envelope_key"]));
    // The library derives the same.
    const auto keys = group::derive_epoch_keys(
        SymmetricKey::from(std::span<const std::uint8_t, 32>(secret.data(), 32)));
    CHECK(keys.mailbox.pub.hex() == to_hex(pk));
    CHECK(to_hex(keys.envelope.view()) == e["envelope_key"].get<std::string>());
  }

  const auto sizes = v2::buckets(v["format"]["max_body_bytes"].get<std::uint32_t>());
  CHECK(v["format"]["buckets"] == Json(sizes));
  REQUIRE(v["messages"].size() == 3);
  for (const Json& m : v["messages"]) {
    const std::string name = m["name"].get<std::string>();
    INFO(name);
    const Json& epoch = epoch_of(v, m["epoch"].get<std::uint64_t>());
    const Buf mailbox = unhex(epoch["mailbox_public"]);
    CHECK(unhex(m["mailbox"]) == mailbox);
    const Buf envelope = unhex(m["envelope"]);
    CHECK(std::find(sizes.begin(), sizes.end(), envelope.size()) != sizes.end());

    // The sealed layer: 03 || nonce || AEAD(envelope key, ad = 03 || mailbox key).
    REQUIRE(envelope.size() > 25);
    CHECK(envelope[0] == 0x03);
    const Buf nonce = slice(envelope, 1, 24);
    const Buf sealed = slice(envelope, 25, envelope.size() - 25);
    const Buf outer_ad = cat({Buf{0x03}, mailbox});
    auto inner = xchacha_open(unhex(epoch["envelope_key"]), nonce, outer_ad, sealed);
    REQUIRE(inner.has_value());
    CHECK(*inner == unhex(m["inner"]));
    const auto keys = group::derive_epoch_keys(
        SymmetricKey::from(std::span<const std::uint8_t, 32>(unhex(epoch["epoch_secret"]).data(), 32)));
    auto lib_inner = group::open_outer(keys, envelope);
    REQUIRE(lib_inner.ok());
    CHECK(*lib_inner == *inner);
    // Under another epoch's keys it does not open (a removed member holds
    // only the earlier ones).
    for (const Json& other : v["epochs"]) {
      if (other["epoch"] == m["epoch"]) continue;
      CHECK_FALSE(xchacha_open(unhex(other["envelope_key"]), nonce,
                               cat({Buf{0x03}, unhex(other["mailbox_public"])}), sealed));
      CHECK_FALSE(xchacha_open(unhex(other["envelope_key"]), nonce, outer_ad, sealed));
    }

    // inner = sender || generation || index || ciphertext || sig
    REQUIRE(inner->size() > 32 + 4 + 4 + 64);
    const Buf sender = slice(*inner, 0, 32);
    const auto generation = static_cast<std::uint32_t>(read_be(*inner, 32, 4));
    const auto index = static_cast<std::uint32_t>(read_be(*inner, 36, 4));
    const Buf ct = slice(*inner, 40, inner->size() - 40 - 64);
    const Buf sig = slice(*inner, inner->size() - 64, 64);
    CHECK(sender == unhex(v[m["from"].get<std::string>()]["account"]));
    CHECK(generation == m["generation"].get<std::uint32_t>());
    CHECK(index == m["index"].get<std::uint32_t>());
    const Json& chain = m["sender_key"];
    CHECK(chain["generation"].get<std::uint32_t>() == generation);
    CHECK(ed25519_verify(unhex(chain["signing_key"]),
                         cat({text("nightjar group message v1"), g, mailbox, sender, be32(generation),
                              be32(index), ct}),
                         sig));

    // (iii) The message key: the listed chain key stepped on to the index,
    // by the library's chain_step and by keyed BLAKE2b as documented.
    const auto start = chain["index"].get<std::uint32_t>();
    REQUIRE(start <= index);
    Buf ck = unhex(chain["chain_key"]);
    Buf mk;
    SymmetricKey lib_chain = SymmetricKey::from(std::span<const std::uint8_t, 32>(ck.data(), 32));
    SymmetricKey lib_mk;
    for (std::uint32_t i = start; i <= index; ++i) {
      mk = blake2b(Buf{0x01}, ck);
      ck = blake2b(Buf{0x02}, ck);
      lib_mk = group::chain_step(lib_chain);
    }
    CHECK(mk == unhex(m["message_key"]));
    CHECK(to_hex(lib_mk.view()) == to_hex(mk));
    CHECK(to_hex(lib_chain.view()) == to_hex(ck));

    // The content: AEAD(message key, zero nonce, ad = G || mailbox || sender
    // || generation || index), the version 2 content padded to the bucket.
    const Buf content_ad = cat({g, mailbox, sender, be32(generation), be32(index)});
    auto plain = xchacha_open(mk, Buf(24, 0), content_ad, ct);
    REQUIRE(plain.has_value());
    CHECK(plain->size() + 192 - 31 == envelope.size());
    const Json& cj = m["content"];
    CHECK((*plain)[0] == cj["flags"].get<std::uint8_t>());
    CHECK(read_be(*plain, 1, 8) == cj["timestamp_ms"].get<std::uint64_t>());
    CHECK(slice(*plain, 9, 16) == unhex(cj["message_id"]));
    CHECK(read_be(*plain, 25, 2) == cj["index"].get<std::uint64_t>());
    CHECK(read_be(*plain, 27, 2) == cj["count"].get<std::uint64_t>());
    const Buf body = unhex(cj["body"]);
    REQUIRE(read_be(*plain, 29, 2) == body.size());
    CHECK(slice(*plain, 31, body.size()) == body);
    CHECK(std::all_of(plain->begin() + 31 + static_cast<std::ptrdiff_t>(body.size()), plain->end(),
                      [](std::uint8_t b) { return b == 0; }));
    auto content = v2::decode_content(*plain);
    REQUIRE(content.ok());
    CHECK(content->body == body);
    // Another key does not open it: the next one in the chain.
    CHECK_FALSE(xchacha_open(blake2b(Buf{0x01}, ck), Buf(24, 0), content_ad, ct));
  }
  // The texts, as people read them.
  auto body_text = [&](std::size_t i) {
    const Buf b = unhex(v["messages"][i]["content"]["body"]);
    return std::string(b.begin(), b.end());
  };
  CHECK(body_text(0) == "Hello Bob and Carol, welcome to the group.");
  CHECK(body_text(1) == "Thanks Alice.");
  CHECK(body_text(2) == "Carol has left; only Alice and Bob read this.");
}

TEST_CASE("group.json: the controls carry the listed epochs and chains, and Carol gets nothing of epoch 2",
          "[vectors]") {
  REQUIRE(crypto::init());
  using namespace client::group;
  const Json& v = vectors_file();
  const Json& e1 = epoch_of(v, 1);
  const Json& e2 = epoch_of(v, 2);

  // A's welcome to B and C: the genesis and the whole of epoch 1, then A's chain.
  for (const char* to : {"bob", "carol"}) {
    INFO(to);
    auto list = controls_between(v, "alice", to, 1);
    REQUIRE(list.size() == 2);
    const auto* w = std::get_if<Welcome>(&list[0]);
    REQUIRE(w);
    CHECK(group::encode(w->genesis) == unhex(v["genesis"]["bytes"]));
    CHECK(w->epoch == 1);
    CHECK(w->epoch_hash.hex() == e1["hash"].get<std::string>());
    CHECK(w->commit_hash.hex() == e1["commit"]["hash"].get<std::string>());
    CHECK(to_hex(w->epoch_secret.view()) == e1["epoch_secret"].get<std::string>());
    CHECK(w->name == e1["name"].get<std::string>());
    REQUIRE(w->members.size() == e1["members"].size());
    for (std::size_t i = 0; i < w->members.size(); ++i) {
      CHECK(w->members[i].account.hex() == e1["members"][i]["account"].get<std::string>());
      CHECK(to_string(w->members[i].role) == e1["members"][i]["role"].get<std::string>());
    }
    const auto* sk = std::get_if<SenderKeyControl>(&list[1]);
    REQUIRE(sk);
    CHECK(sk->group.hex() == v["genesis"]["group_key"].get<std::string>());
    CHECK(sk->generation == 1);
    CHECK(to_hex(sk->chain_key.view()) == v["messages"][0]["sender_key"]["chain_key"].get<std::string>());
    CHECK(sk->signing_key.hex() == v["messages"][0]["sender_key"]["signing_key"].get<std::string>());
  }
  // B's and C's chains, each to the two others.
  for (const auto& [from, others] :
       {std::pair<std::string, std::vector<std::string>>{"bob", {"alice", "carol"}},
        std::pair<std::string, std::vector<std::string>>{"carol", {"alice", "bob"}}}) {
    for (const auto& to : others) {
      INFO(from << " to " << to);
      auto list = controls_between(v, from, to, 1);
      REQUIRE(list.size() == 1);
      const auto* sk = std::get_if<SenderKeyControl>(&list[0]);
      REQUIRE(sk);
      CHECK(sk->generation == 1);
      CHECK(sk->index == 0);
      if (from == "bob")
        CHECK(to_hex(sk->chain_key.view()) == v["messages"][1]["sender_key"]["chain_key"].get<std::string>());
    }
  }

  // Epoch 2: the commit with its secret to B (and A's new chain), without to C.
  auto to_bob = controls_between(v, "alice", "bob", 2);
  REQUIRE(to_bob.size() == 2);
  const auto* cc = std::get_if<CommitControl>(&to_bob[0]);
  REQUIRE(cc);
  CHECK(group::encode(cc->commit) == unhex(e2["commit"]["bytes"]));
  REQUIRE(cc->epoch_secret.has_value());
  CHECK(to_hex(cc->epoch_secret->view()) == e2["epoch_secret"].get<std::string>());
  const auto* a2 = std::get_if<SenderKeyControl>(&to_bob[1]);
  REQUIRE(a2);
  CHECK(a2->generation == 2);
  auto to_carol = controls_between(v, "alice", "carol", 2);
  REQUIRE(to_carol.size() == 1);
  const auto* removed = std::get_if<CommitControl>(&to_carol[0]);
  REQUIRE(removed);
  CHECK(group::encode(removed->commit) == unhex(e2["commit"]["bytes"]));
  CHECK_FALSE(removed->epoch_secret.has_value());
  // B's new generation goes to A only; b2 is sealed with it.
  auto b_new = controls_between(v, "bob", "alice", 2);
  REQUIRE(b_new.size() == 1);
  const auto* b2 = std::get_if<SenderKeyControl>(&b_new[0]);
  REQUIRE(b2);
  CHECK(b2->generation == 2);
  const Json& msg_b2 = v["messages"][2];
  CHECK(msg_b2["name"] == "b2");
  CHECK(to_hex(b2->chain_key.view()) == msg_b2["sender_key"]["chain_key"].get<std::string>());
  CHECK(controls_between(v, "bob", "carol", 2).empty());
  // Nothing Carol was ever sent holds epoch 2's secret or B's second chain.
  const std::string secret2 = e2["epoch_secret"].get<std::string>();
  const std::string chain2 = msg_b2["sender_key"]["chain_key"].get<std::string>();
  for (const Json& c : v["controls"]) {
    if (c["to"] != "carol") continue;
    const std::string bytes = c["bytes"].get<std::string>();
    CHECK(bytes.find(secret2) == std::string::npos);
    CHECK(bytes.find(chain2) == std::string::npos);
  }
  // And she says so.
  bool carol_tried = false;
  for (const Json& o : v["opened"])
    if (o["by"] == "carol" && o["message"] == "b2") {
      carol_tried = true;
      CHECK(o["status"] != "opened");
      CHECK_FALSE(o.contains("body"));
    }
  CHECK(carol_tried);
}

TEST_CASE("group.json: the final states decode and encode again to the same bytes", "[vectors]") {
  REQUIRE(crypto::init());
  const Json& v = vectors_file();
  for (const char* who : {"alice", "bob", "carol"}) {
    INFO(who);
    const Buf seed_bytes = unhex(v[who]["identity_seed"]);
    Ed25519Seed seed;
    std::copy(seed_bytes.begin(), seed_bytes.end(), seed.data());
    const Identity me = Identity::from_seed(seed);
    const Buf state = unhex(v["final_state"][who]);
    auto g = group::Group::decode(me, state);
    REQUIRE(g.ok());
    CHECK(g->encode() == state);
    CHECK(g->head().hash.hex() == epoch_of(v, 2)["hash"].get<std::string>());
    CHECK(g->member() == (std::string(who) != "carol"));
  }
}
