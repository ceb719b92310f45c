// Fuzzes Directory::decode and check_directory (swarm/directory.hpp).
//
// Input: the bytes of a directory, as a node or client receives them. They are
// checked against a fixed config of three authorities (keys from fixed seeds;
// the seed corpus holds directories they signed, so the fuzzer starts from
// inputs that pass the signature check).
//
// Invariants (trap on violation):
//   - decode never crashes; a decoded directory re-encodes to exactly the
//     input (the encoding is canonical), its entries are sorted and unique
//     and each can be found, and its signatures are sorted and unique
//   - check_directory never crashes; when it accepts with no epoch held, it
//     also accepts when an older epoch is held, refuses the same epoch as
//     not_newer, and refuses the directory under another network ID
//   - swarm_for gives a swarm of the directory when it has entries, none
//     when it has none.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/directory bin/fuzz_directory
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "swarm/directory.hpp"
#include "tests/fuzz/fuzz_common.hpp"
#include "tests/support/directory_samples.hpp"

using namespace nightjar;

namespace {

struct Fixture {
  Ed25519KeyPair a = test::identity_from(0xa0, 1);
  Ed25519KeyPair b = test::identity_from(0xb0, 1);
  Ed25519KeyPair c = test::identity_from(0xc0, 1);
  NetworkConfig config = test::make_config({&a, &b, &c});
  NetworkConfig other_network = [this] {
    NetworkConfig o = config;
    o.network_id = test::network_id_from(0x01);
    return o;
  }();
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

Directory signed_directory(std::size_t entries, int signers) {
  const Fixture& f = fixture();
  Directory d = test::make_directory(entries, entries + 7);
  d.params.swarm = {1, 2, 3};
  if (signers >= 1) d.sign(f.a);
  if (signers >= 2) d.sign(f.b);
  if (signers >= 3) d.sign(f.c);
  return d;
}

void write_seeds(const std::string& dir) {
  fuzz::write_seed(dir + "/empty-3-signatures", signed_directory(0, 3).encode());
  fuzz::write_seed(dir + "/one-entry-2-signatures", signed_directory(1, 2).encode());
  fuzz::write_seed(dir + "/five-entries-3-signatures", signed_directory(5, 3).encode());
  fuzz::write_seed(dir + "/three-entries-1-signature", signed_directory(3, 1).encode());
  fuzz::write_seed(dir + "/three-entries-unsigned", signed_directory(3, 0).encode());

  Directory stranger = signed_directory(2, 1);
  stranger.sign(test::identity_from(0xd0, 1));
  fuzz::write_seed(dir + "/unknown-signer", stranger.encode());

  auto bytes = signed_directory(2, 2).encode();
  bytes[40] ^= 1;  // the epoch, after signing
  fuzz::write_seed(dir + "/bad-signatures", bytes);

  bytes = signed_directory(2, 2).encode();
  std::swap_ranges(bytes.begin() + 121, bytes.begin() + 121 + 213, bytes.begin() + 121 + 213);
  fuzz::write_seed(dir + "/unsorted-entries", bytes);

  bytes = signed_directory(2, 2).encode();
  bytes.push_back(0);
  fuzz::write_seed(dir + "/trailing-byte", bytes);

  bytes = signed_directory(2, 2).encode();
  bytes.resize(300);
  fuzz::write_seed(dir + "/truncated", bytes);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  CHECK(crypto::init());
  (void)fixture();
  fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Fixture& f = fixture();
  // Copy so that ASan sees the exact end of the input.
  const std::vector<std::uint8_t> owned(data, data + size);

  auto d = Directory::decode(Bytes{owned.data(), owned.size()});
  if (!d) return 0;
  CHECK(d->encode() == owned);
  CHECK(d->entries.size() <= Directory::max_entries);
  for (std::size_t i = 0; i < d->entries.size(); ++i) {
    if (i > 0) CHECK(d->entries[i - 1].node.id.bytes < d->entries[i].node.id.bytes);
    CHECK(d->find(d->entries[i].node.id) == &d->entries[i]);
  }
  for (std::size_t i = 1; i < d->signatures.size(); ++i)
    CHECK(d->signatures[i - 1].authority.bytes < d->signatures[i].authority.bytes);

  auto checked = check_directory(*d, f.config, std::nullopt);
  if (checked) {
    if (d->epoch > 0) CHECK(check_directory(*d, f.config, d->epoch - 1).ok());
    auto same = check_directory(*d, f.config, d->epoch);
    CHECK(!same.ok() && same.error() == DirectoryError::not_newer);
    auto other = check_directory(*d, f.other_network, std::nullopt);
    CHECK(!other.ok() && other.error() == DirectoryError::wrong_network);
  }

  const auto swarm = d->swarm_for(f.a.pub);
  CHECK(swarm.has_value() == !d->entries.empty());
  if (swarm) CHECK(!d->members(*swarm).empty());
  return 0;
}
