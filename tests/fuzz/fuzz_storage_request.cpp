// Fuzzes decode_request, the parser of the storage API's requests (the bytes a
// client sends inside an onion cell), and the signature helpers on whatever
// decodes.
//
// Input: the request bytes, as is.
//
// Invariants (trap on violation):
//   - a decoded request re-encodes to exactly the input (the encoding is
//     canonical), and respects the limits: version, method and namespace
//     known, retrieve limit in 1..max_retrieve_limit, wait at most max_wait_ms
//   - for retrieve, delete and delete_all, signed_bytes is the method's label
//     followed by the input without its version, method and signature; verify
//     runs without crashing, and when it succeeds (genuinely signed seeds) it
//     fails once the timestamp changes or the signature is checked against
//     another method's signed bytes.
//
// The seed corpus holds every kind of request (signed ones genuinely, with a
// fixed key) and a few invalid ones. To regenerate it:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/storage_request bin/fuzz_storage_request
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "routing/crypto.hpp"
#include "swarm/storage_messages.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::storage;

namespace {

bool starts_with_label(const std::vector<std::uint8_t>& signed_input, std::string_view label,
                       Bytes request) {
  if (request.size() < 2 + 64) return false;
  const Bytes args = request.subspan(2, request.size() - 2 - 64);
  if (signed_input.size() != label.size() + args.size()) return false;
  return std::equal(label.begin(), label.end(), signed_input.begin()) &&
         std::equal(args.begin(), args.end(),
                    signed_input.begin() + static_cast<std::ptrdiff_t>(label.size()));
}

// The signature properties of one signed request type.
template <class R>
void check_signed(const R& r, std::string_view label, Bytes input) {
  CHECK(starts_with_label(signed_bytes(r), label, input));
  if (!verify(r)) return;
  R later = r;
  later.timestamp_ms += 1;
  CHECK(!verify(later));
  // The same signature over another method's bytes, same recipient and time.
  if constexpr (!std::is_same_v<R, DeleteAllRequest>) {
    CHECK(!verify(DeleteAllRequest{r.recipient, r.timestamp_ms, r.signature}));
  } else {
    CHECK(!verify(DeleteRequest{r.recipient, MessageId{}, r.timestamp_ms, r.signature}));
  }
}

// --- Seed generation ---------------------------------------------------------

void write_seeds(const std::string& dir) {
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i)
    seed.data()[i] = static_cast<std::uint8_t>(i + 1);
  const auto key = crypto::ed25519_from_seed(seed);

  StoreRequest store{key.pub, 86'400, std::vector<std::uint8_t>(440, 0x61)};
  fuzz::write_seed(dir + "/store-440", encode(Request{store}));
  store.ns = Namespace::records;
  fuzz::write_seed(dir + "/publish-440", encode(Request{store}));
  store.ns = Namespace::messages;
  store.body.clear();
  fuzz::write_seed(dir + "/store-empty", encode(Request{store}));
  fuzz::write_seed(dir + "/lookup", encode(Request{LookupRequest{key.pub, 1}}));

  RetrieveRequest retrieve;
  retrieve.recipient = key.pub;
  retrieve.since = {0x0123456789abcdef, 1'700'000'000'000ull << 20};
  retrieve.floor.timestamp_ms = 1'700'000'000'000;
  retrieve.floor.id.bytes.fill(0x42);
  retrieve.limit = max_retrieve_limit;
  retrieve.wait_ms = max_wait_ms;
  retrieve.stream = true;
  retrieve.timestamp_ms = 1'700'000'000'500;
  sign(retrieve, key.sec);
  fuzz::write_seed(dir + "/retrieve-signed", encode(Request{retrieve}));

  DeleteRequest del{key.pub, {}, 1'700'000'001'000, {}};
  del.id.bytes.fill(0x17);
  sign(del, key.sec);
  fuzz::write_seed(dir + "/delete-signed", encode(Request{del}));

  DeleteAllRequest all{key.pub, 1'700'000'002'000, {}};
  sign(all, key.sec);
  fuzz::write_seed(dir + "/delete-all-signed", encode(Request{all}));
  all.ns = Namespace::records;
  sign(all, key.sec);
  fuzz::write_seed(dir + "/delete-all-records-signed", encode(Request{all}));
  fuzz::write_seed(dir + "/info", encode(Request{InfoRequest{}}));
  fuzz::write_seed(dir + "/cover-loop", encode(Request{CoverRequest{true}}));
  fuzz::write_seed(dir + "/cover-drop", encode(Request{CoverRequest{false}}));
  fuzz::write_seed(dir + "/cover-bad-flag", std::vector<std::uint8_t>{version, 7, 2});

  auto bad_limit = encode(Request{retrieve});  // limit 0
  bad_limit[2 + 1 + 32 + 16 + 40] = 0;
  bad_limit[2 + 1 + 32 + 16 + 40 + 1] = 0;
  fuzz::write_seed(dir + "/retrieve-limit-zero", bad_limit);
  auto trailing = encode(Request{InfoRequest{}});
  trailing.push_back(0);
  fuzz::write_seed(dir + "/info-trailing", trailing);
  fuzz::write_seed(dir + "/bad-version", std::vector<std::uint8_t>{3, 5});
  auto bad_namespace = encode(Request{all});
  bad_namespace[2] = namespace_count;
  fuzz::write_seed(dir + "/bad-namespace", bad_namespace);
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy the input so that ASan catches any read past its end.
  const std::vector<std::uint8_t> owned(data, data + size);
  const Bytes input{owned.data(), owned.size()};
  auto decoded = decode_request(input);
  if (!decoded) return 0;

  CHECK(encode(*decoded) == owned);
  CHECK(owned.size() >= 2 && owned[0] == version);
  if (const auto* r = std::get_if<RetrieveRequest>(&*decoded)) {
    CHECK(r->limit >= 1 && r->limit <= max_retrieve_limit);
    CHECK(r->wait_ms <= max_wait_ms);
    CHECK(!r->stream || r->wait_ms != 0);
    CHECK(static_cast<std::uint8_t>(r->ns) < namespace_count);
    check_signed(*r, "nightjar retrieve v4", input);
  } else if (const auto* d = std::get_if<DeleteRequest>(&*decoded)) {
    CHECK(static_cast<std::uint8_t>(d->ns) < namespace_count);
    check_signed(*d, "nightjar delete v2", input);
  } else if (const auto* a = std::get_if<DeleteAllRequest>(&*decoded)) {
    CHECK(static_cast<std::uint8_t>(a->ns) < namespace_count);
    check_signed(*a, "nightjar delete_all v2", input);
  } else if (const auto* s = std::get_if<StoreRequest>(&*decoded)) {
    CHECK(static_cast<std::uint8_t>(s->ns) < namespace_count);
    CHECK(owned.size() == 2 + 1 + 32 + 4 + 2 + s->body.size());
  } else if (std::holds_alternative<LookupRequest>(*decoded)) {
    CHECK(owned.size() == 2 + 32 + 1);
  } else if (const auto* c = std::get_if<CoverRequest>(&*decoded)) {
    CHECK(owned.size() == 3 && owned[2] == (c->loop ? 1 : 0));
  } else {
    CHECK(std::holds_alternative<InfoRequest>(*decoded));
    CHECK(owned.size() == 2);
  }
  return 0;
}
