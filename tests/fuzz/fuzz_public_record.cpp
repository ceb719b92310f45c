// Fuzzes decode_record, the parser of public records (what a node checks
// when an owner publishes one, and what a reader gets from a lookup).
//
// Input: the record bytes, as is.
//
// Invariants (trap on violation):
//   - a decoded record re-encodes to exactly the input (canonical), has
//     format 01 and a payload of at most PublicRecord::max_payload bytes, so
//     the whole record is at most PublicRecord::max_bytes
//   - record_signed_bytes is the label followed by the input without its
//     signature; verify_record runs without crashing, and when it succeeds
//     (the genuinely signed seeds) it fails once the version changes.
//
// The seed corpus holds genuinely signed records (a fixed key) of the
// smallest and largest payloads, and a few invalid ones. To regenerate it:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/public_record bin/fuzz_public_record
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "routing/crypto.hpp"
#include "swarm/public_record.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

void write_seeds(const std::string& dir) {
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i)
    seed.data()[i] = static_cast<std::uint8_t>(i + 7);
  const auto key = crypto::ed25519_from_seed(seed);
  PublicRecord r;
  r.type = static_cast<std::uint8_t>(RecordType::prekey_bundle);
  r.owner = key.pub;
  r.version = 1'700'000'000'000;
  r.expires_ms = 1'700'000'000'000 + 30ull * 86'400'000;
  sign_record(r, key.sec);
  fuzz::write_seed(dir + "/empty-payload", encode(r));
  r.payload.assign(PublicRecord::max_payload, 0x5c);
  sign_record(r, key.sec);
  const auto largest = encode(r);
  fuzz::write_seed(dir + "/largest", largest);
  auto bad_format = largest;
  bad_format[0] = 2;
  fuzz::write_seed(dir + "/bad-format", bad_format);
  auto trailing = largest;
  trailing.push_back(0);
  fuzz::write_seed(dir + "/trailing", trailing);
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy the input so that ASan catches any read past its end.
  const std::vector<std::uint8_t> owned(data, data + size);
  auto decoded = decode_record(Bytes{owned.data(), owned.size()});
  if (!decoded) return 0;
  CHECK(encode(*decoded) == owned);
  CHECK(owned[0] == PublicRecord::format);
  CHECK(decoded->payload.size() <= PublicRecord::max_payload);
  CHECK(owned.size() <= PublicRecord::max_bytes);

  constexpr std::string_view label = "nightjar record v1";
  const auto signed_input = record_signed_bytes(*decoded);
  CHECK(signed_input.size() == label.size() + owned.size() - 64);
  CHECK(std::equal(label.begin(), label.end(), signed_input.begin()));
  CHECK(std::equal(owned.begin(), owned.end() - 64,
                   signed_input.begin() + static_cast<std::ptrdiff_t>(label.size())));
  if (verify_record(*decoded)) {
    PublicRecord later = *decoded;
    later.version += 1;
    CHECK(!verify_record(later));
  }
  return 0;
}
