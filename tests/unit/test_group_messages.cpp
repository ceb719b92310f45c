// Closed groups' byte formats (client/group_messages.hpp): group IDs, the
// genesis, commits and controls round-trip, and bad input is refused.
#include <catch2/catch.hpp>

#include "client/group_messages.hpp"
#include "client/identity.hpp"

using namespace nightjar;
using namespace nightjar::client;
using namespace nightjar::client::group;

TEST_CASE("group IDs: checksummed, and not mistaken for account IDs", "[group]") {
  SystemRandom rng;
  const auto key = crypto::ed25519_generate().pub;
  const std::string id = format_group_id(key);
  CHECK(id.size() == account_id_chars);
  CHECK(id.rfind("ng", 0) == 0);
  CHECK(*parse_group_id(id) == key);
  CHECK(*parse_group_id("  " + id + "\n") == key);
  std::string typo = id;
  typo[20] = typo[20] == 'a' ? 'b' : 'a';
  CHECK(parse_group_id(typo).error().problem == AccountIdProblem::checksum_mismatch);
  // An account ID where a group is meant, and the reverse, say so.
  const std::string account = format_account_id(key);
  auto wrong = parse_group_id(account);
  REQUIRE_FALSE(wrong.ok());
  CHECK(to_string(wrong.error()) ==
        "not a group ID: this is an account ID (group IDs start with \"ng\")");
  CHECK(to_string(parse_account_id(id).error()) ==
        "not an account ID: this is a group ID (account IDs start with \"nj\")");
  CHECK(to_string(parse_group_id("xyz").error()) == "not a group ID: it must start with \"ng\"");
  CHECK(to_string(parse_group_id(id.substr(0, 59)).error()).find("a group ID has 60") !=
        std::string::npos);
  // The same key has different checksums as an account and as a group.
  CHECK(id.substr(2) != account.substr(2));
}

namespace {

Commit sample_commit(const Identity& admin) {
  Commit c;
  c.group = crypto::ed25519_generate().pub;
  c.parent_epoch = 7;
  c.parent_hash = crypto::blake2b_256(as_bytes("parent"));
  c.committer = admin.account();
  c.timestamp_ms = 1'800'000'000'000;
  c.changes = {{ChangeType::add, crypto::ed25519_generate().pub, Role::admin, {}},
               {ChangeType::remove, crypto::ed25519_generate().pub, Role::member, {}},
               {ChangeType::rename, {}, Role::member, "new name"},
               {ChangeType::promote, crypto::ed25519_generate().pub, Role::member, {}}};
  sign(c, admin.signing_key());
  return c;
}

}  // namespace

TEST_CASE("group commits: round trip, signature, refusals", "[group]") {
  SystemRandom rng;
  const Identity admin = Identity::generate(rng);
  const Commit c = sample_commit(admin);
  const auto bytes = encode(c);
  auto back = decode_commit(bytes);
  REQUIRE(back.ok());
  CHECK(encode(*back) == bytes);
  CHECK(verify(*back));
  CHECK(commit_hash(*back) == commit_hash(c));
  // Any flipped bit: refused or no longer verifies.
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= 0x10;
    auto d = decode_commit(bad);
    if (d) CHECK_FALSE(verify(*d));
  }
  // Truncated anywhere: refused.
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK_FALSE(decode_commit(Bytes(bytes.data(), n)).ok());
  auto longer = bytes;
  longer.push_back(0);
  CHECK(decode_commit(longer).error() == WireError::trailing_bytes);
  // No changes, an unknown change, a bad role.
  Commit empty = c;
  empty.changes.clear();
  CHECK(decode_commit(encode(empty)).error() == WireError::bad_value);
  auto unknown = bytes;
  unknown[1 + 32 + 8 + 32 + 32 + 8 + 1] = 9;  // the first change's type
  CHECK(decode_commit(unknown).error() == WireError::bad_value);
  auto role = bytes;
  role[1 + 32 + 8 + 32 + 32 + 8 + 1 + 1 + 32] = 3;
  CHECK(decode_commit(role).error() == WireError::bad_value);
}

TEST_CASE("group controls: round trip and refusals", "[group]") {
  SystemRandom rng;
  const Identity admin = Identity::generate(rng);
  const auto group_key = crypto::ed25519_generate();
  Genesis g;
  g.group = group_key.pub;
  g.creator = admin.account();
  g.created_ms = 5;
  g.name = "friends";
  sign(g, group_key.sec);
  CHECK(verify(g));
  auto gbytes = encode(g);
  REQUIRE(decode_genesis(gbytes).ok());
  Genesis renamed = g;
  renamed.name = "enemies";
  CHECK_FALSE(verify(renamed));

  Welcome w;
  w.genesis = g;
  w.epoch = 3;
  w.epoch_hash = crypto::blake2b_256(as_bytes("e"));
  w.commit_hash = crypto::blake2b_256(as_bytes("c"));
  w.epoch_secret = SymmetricKey::from(crypto::blake2b_256(as_bytes("s")).view());
  w.name = "friends";
  w.members = {{admin.account(), Role::admin}, {crypto::ed25519_generate().pub, Role::member}};
  std::sort(w.members.begin(), w.members.end(),
            [](const Member& a, const Member& b) { return a.account < b.account; });
  std::vector<Control> controls;
  controls.emplace_back(std::move(w));
  controls.emplace_back(CommitControl{sample_commit(admin), std::nullopt});
  controls.emplace_back(CommitControl{sample_commit(admin), SymmetricKey::from(g.group.view())});
  controls.emplace_back(SenderKeyControl{g.group, 2, 17, SymmetricKey::from(g.group.view()),
                                         admin.account()});
  controls.emplace_back(LeaveControl{g.group, 9});
  const auto bytes = encode_controls(controls);
  auto back = decode_controls(bytes);
  REQUIRE(back.ok());
  REQUIRE(back->size() == 5);
  CHECK(encode_controls(*back) == bytes);
  CHECK(group_of((*back)[3]) == g.group);
  CHECK(std::get<SenderKeyControl>((*back)[3]).index == 17);
  CHECK_FALSE(std::get<CommitControl>((*back)[1]).epoch_secret.has_value());
  CHECK(std::get<CommitControl>((*back)[2]).epoch_secret.has_value());
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK_FALSE(decode_controls(Bytes(bytes.data(), n)).ok());

  // Welcome members must be sorted and unique; an unknown control type and
  // zero controls are refused.
  Welcome dup;
  dup.genesis = g;
  dup.name = "x";
  dup.members = {{admin.account(), Role::admin}, {admin.account(), Role::admin}};
  CHECK_FALSE(decode_control(encode_control(Control{std::move(dup)})).ok());
  const std::vector<std::uint8_t> unknown{9, 0};
  CHECK_FALSE(decode_control(unknown).ok());
  const std::vector<std::uint8_t> none{0};
  CHECK_FALSE(decode_controls(none).ok());
  Welcome unnamed;
  unnamed.genesis = g;
  unnamed.members = {{admin.account(), Role::admin}};
  CHECK_FALSE(decode_control(encode_control(Control{std::move(unnamed)})).ok());
}

TEST_CASE("group envelope: inner layer refusals", "[group]") {
  Inner i;
  i.sender = crypto::ed25519_generate().pub;
  i.generation = 1;
  i.index = 2;
  i.ciphertext.assign(16 + v2::content_fixed_bytes, 0xab);
  const auto bytes = encode_inner(i);
  auto back = decode_inner(bytes);
  REQUIRE(back.ok());
  CHECK(back->ciphertext == i.ciphertext);
  CHECK_FALSE(decode_inner(Bytes(bytes.data(), bytes.size() - 1)).ok());
  const EpochKeys keys = derive_epoch_keys(SymmetricKey::from(i.sender.view()));
  SystemRandom rng;
  auto env = seal_outer(keys, bytes, rng);
  CHECK(*open_outer(keys, env) == bytes);
  env[0] = 2;
  CHECK(open_outer(keys, env).error() == OpenError::bad_version);
  env[0] = 3;
  env[30] ^= 1;
  CHECK(open_outer(keys, env).error() == OpenError::decryption_failed);
  CHECK(open_outer(keys, Bytes(env.data(), 10)).error() == OpenError::malformed);
  const EpochKeys other = derive_epoch_keys(SymmetricKey::from(keys.mailbox.pub.view()));
  env[30] ^= 1;
  CHECK(open_outer(other, env).error() == OpenError::decryption_failed);
}
