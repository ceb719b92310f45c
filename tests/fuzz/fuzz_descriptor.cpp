// Fuzzes NodeDescriptor::decode (swarm/descriptor.hpp).
//
// Input: the bytes to decode, as received from a node or inside a directory.
//
// Invariants (trap on violation):
//   - decode never crashes; both forms (bytes, WireReader) agree: the reader
//     form succeeds on the same prefix and stops exactly at its end
//   - a decoded descriptor passes check(), and encode() gives back exactly
//     the input (the encoding is canonical), of encoded_size() bytes
//   - verify() does not crash, and a changed publish time never verifies
//   - onion_key_at() returns a key whose window holds the time asked for.
//
// The seed corpus holds signed descriptors (IPv4 with one onion key, IPv6
// with two) and one sample of each class of bad input. To regenerate it:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/descriptor bin/fuzz_descriptor
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "swarm/descriptor.hpp"
#include "tests/fuzz/fuzz_common.hpp"
#include "tests/support/directory_samples.hpp"

using namespace nightjar;

namespace {

void write_seeds(const std::string& dir) {
  const auto id = test::identity_from(1);
  const auto v4 = test::make_descriptor(id).encode();
  const auto v6 = test::make_descriptor(id, true).encode();
  fuzz::write_seed(dir + "/ipv4-one-key", v4);
  fuzz::write_seed(dir + "/ipv6-two-keys", v6);

  auto bad = v4;
  bad[0] = 2;
  fuzz::write_seed(dir + "/bad-format", bad);
  bad = v4;
  bad[67] = 5;
  fuzz::write_seed(dir + "/bad-family", bad);
  bad = v4;
  bad[72] = bad[73] = 0;
  fuzz::write_seed(dir + "/port-0", bad);
  bad = v4;
  bad[82] = 3;
  fuzz::write_seed(dir + "/three-keys", bad);
  bad = v6;
  store_u64(&bad[95 + 56], load_u64(&bad[95]));
  fuzz::write_seed(dir + "/equal-epochs", bad);
  bad = v4;
  store_u64(&bad[83 + 48], load_u64(&bad[83 + 40]));
  fuzz::write_seed(dir + "/empty-window", bad);
  bad = v4;
  bad.push_back(0);
  fuzz::write_seed(dir + "/trailing-byte", bad);
  fuzz::write_seed(dir + "/truncated", {v6.begin(), v6.begin() + 100});
  bad = v4;
  bad[150] ^= 1;
  fuzz::write_seed(dir + "/bad-signature", bad);
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy so that ASan sees the exact end of the input.
  const std::vector<std::uint8_t> owned(data, data + size);
  const Bytes input{owned.data(), owned.size()};

  auto d = NodeDescriptor::decode(input);
  WireReader r(input);
  auto streamed = NodeDescriptor::decode(r);
  if (!d) {
    // The reader form may stop early (it allows trailing bytes), but never
    // accepts the whole input when the bytes form refuses it.
    if (streamed) CHECK(r.remaining() != 0 || size > NodeDescriptor::max_encoded_bytes);
    return 0;
  }
  CHECK(streamed.ok() && r.remaining() == 0 && *streamed == *d);
  CHECK(d->check().ok());

  const std::vector<std::uint8_t> again = d->encode();
  CHECK(again == owned);
  CHECK(d->encoded_size() == size);

  const bool verified = d->verify();
  if (verified) {
    NodeDescriptor changed = *d;
    changed.published ^= 1;
    CHECK(!changed.verify());
  }

  for (const OnionKeyInfo& k : d->onion_keys) {
    const OnionKeyInfo* at = d->onion_key_at(k.valid_from);
    CHECK(at != nullptr && at->valid_from <= k.valid_from && k.valid_from < at->valid_until);
  }
  return 0;
}
