// Fuzzes the prekey bundle decoder (client/x3dh.hpp), and the agreement on
// what decodes: a bundle from the network must never crash the initiator.
//
// Input: the bundle's bytes.
//
// Invariants (trap on violation):
//   - a bundle that decodes re-encodes to exactly the input, has at most
//     max_one_time_prekeys one-time prekeys in strictly increasing ID order,
//     and is exactly 143 + 36 n bytes
//   - x3dh_initiate on it fails with bad_signature unless the signature
//     verifies (fuzzed bundles practically never do; the seeds' genuine one
//     does, and then the agreement succeeds or refuses a low-order key)
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/prekey_bundle bin/fuzz_prekey_bundle
#include <cstdint>
#include <string>
#include <vector>

#include "client/x3dh.hpp"
#include "routing/crypto.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;

namespace {

struct Initiator {
  Ed25519KeyPair ed;
  X25519SecretKey dh;
};

const Initiator& initiator() {
  static const Initiator* a = [] {
    auto* i = new Initiator{crypto::ed25519_generate(), {}};
    i->dh = crypto::ed25519_to_x25519(i->ed.sec);
    return i;
  }();
  return *a;
}

void write_seeds(const std::string& dir) {
  const auto bob = crypto::ed25519_generate();
  PrekeyBundle b;
  b.account = bob.pub;
  b.signed_prekey = sign_prekey(bob.pub, bob.sec, 1, crypto::x25519_generate().pub, 1'800'000'000'000);
  fuzz::write_seed(dir + "/no-one-time", encode(b));
  for (std::uint32_t i = 0; i < 3; ++i) b.one_time.push_back(OneTimePrekey{10 + i, crypto::x25519_generate().pub});
  fuzz::write_seed(dir + "/three-one-time", encode(b));
  auto bad = encode(b);
  bad[100] ^= 1;
  fuzz::write_seed(dir + "/bad-signature", bad);
  fuzz::write_seed(dir + "/truncated", Bytes(bad).first(150));
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> owned(data, data + size);
  auto b = decode_bundle(owned);
  if (!b) return 0;
  CHECK(encode(*b) == owned);
  CHECK(b->one_time.size() <= x3dh::max_one_time_prekeys);
  CHECK(owned.size() == 143 + 36 * b->one_time.size());
  for (std::size_t i = 1; i < b->one_time.size(); ++i) CHECK(b->one_time[i - 1].id < b->one_time[i].id);
  const auto& a = initiator();
  const std::optional<std::size_t> otk =
      b->one_time.empty() ? std::nullopt : std::optional<std::size_t>(b->one_time.size() - 1);
  auto r = x3dh_initiate(a.ed.pub, a.dh, *b, otk);
  if (!verify(*b)) {
    CHECK(!r.ok() && r.error() == X3dhError::bad_signature);
  } else if (!r.ok()) {
    CHECK(r.error() == X3dhError::bad_key);
  }
  return 0;
}
