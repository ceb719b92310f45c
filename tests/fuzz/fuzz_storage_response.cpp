// Fuzzes decode_response, the client's parser of the storage API's answers.
//
// Input layout:
//   byte 0  the Method the client asked: byte % 16, so 1..7 are the methods and
//           0 and 8..15 are values that name none (an ok answer must then fail)
//   rest    the response bytes
//
// Invariants (trap on violation):
//   - a decoded response re-encodes to exactly the rest (canonical encoding)
//   - its body is the one its status calls for: ok carries the method's
//     result, wrong_swarm and clock_skew theirs, every other status none
//   - retrieved messages number at most max_retrieve_limit and have a zero
//     recipient; a wrong_swarm answer lists at most max_listed_members
//   - an ok answer never decodes for a value that names no method.
//
// The seed corpus holds an answer of each kind and a few invalid ones. To
// regenerate it:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/storage_response bin/fuzz_storage_response
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "routing/crypto.hpp"
#include "swarm/storage_messages.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::storage;

namespace {

bool is_method(std::uint8_t m) {
  return m >= static_cast<std::uint8_t>(Method::store) &&
         m <= static_cast<std::uint8_t>(Method::cover);
}

// The body an answer with this status carries, for this method.
template <class Body>
bool holds(const Response& r) {
  return std::holds_alternative<Body>(r.body);
}
bool body_matches(const Response& r, Method m) {
  switch (r.status) {
    case Status::ok:
      switch (m) {
        case Method::store:
          return holds<StoreResult>(r);
        case Method::retrieve:
          return holds<RetrieveResult>(r);
        case Method::erase:
        case Method::erase_all:
          return holds<DeleteResult>(r);
        case Method::info:
          return holds<InfoResult>(r);
        case Method::lookup:
          return holds<LookupResult>(r);
        case Method::cover:
          return holds<std::monostate>(r);
      }
      return false;
    case Status::wrong_swarm:
      return holds<WrongSwarm>(r);
    case Status::clock_skew:
      return holds<ClockSkew>(r);
    default:
      return holds<std::monostate>(r);
  }
}

// --- Seed generation ---------------------------------------------------------

std::uint8_t m(Method method) {
  return static_cast<std::uint8_t>(method);
}

void write_seeds(const std::string& dir) {
  StoreResult stored;
  stored.id.bytes.fill(0x21);
  stored.timestamp_ms = 1'700'000'000'000;
  stored.replicas = 3;
  fuzz::write_seed(dir + "/ok-store", m(Method::store), encode(Response{Status::ok, stored}));

  RetrieveResult retrieved;
  for (std::uint8_t i = 0; i < 3; ++i) {
    StoredMessage msg;
    msg.id.bytes.fill(i);
    msg.timestamp_ms = 1'700'000'000'000u + i;
    msg.expiry_ms = 1'700'100'000'000u + i;
    msg.body.assign(std::size_t{i} * 40, static_cast<std::uint8_t>('a' + i));
    retrieved.messages.push_back(msg);
  }
  retrieved.more = true;
  retrieved.server_time_ms = 1'700'000'000'900;
  retrieved.cursor = {0x0123456789abcdef, (1'700'000'000'000ull << 20) + 2};
  fuzz::write_seed(dir + "/ok-retrieve-3", m(Method::retrieve),
                   encode(Response{Status::ok, retrieved}));
  fuzz::write_seed(dir + "/ok-retrieve-empty", m(Method::retrieve),
                   encode(Response{Status::ok, RetrieveResult{}}));
  fuzz::write_seed(dir + "/ok-erase", m(Method::erase),
                   encode(Response{Status::ok, DeleteResult{1}}));
  fuzz::write_seed(dir + "/ok-erase-all", m(Method::erase_all),
                   encode(Response{Status::ok, DeleteResult{1234}}));
  fuzz::write_seed(dir + "/ok-info", m(Method::info),
                   encode(Response{Status::ok, InfoResult{"nightjar 0.1", 1'700'000'000'000, 77}}));
  WrongSwarm ws{0x8000000000000000u, std::vector<NodeId>(5)};
  for (std::size_t i = 0; i < ws.members.size(); ++i)
    ws.members[i].bytes.fill(static_cast<std::uint8_t>(i));
  fuzz::write_seed(dir + "/wrong-swarm-5", m(Method::store),
                   encode(Response{Status::wrong_swarm, ws}));
  fuzz::write_seed(dir + "/clock-skew", m(Method::retrieve),
                   encode(Response{Status::clock_skew, ClockSkew{1'700'000'000'000}}));
  fuzz::write_seed(dir + "/quota-bytes", m(Method::store),
                   encode(Response{Status::quota_bytes, {}}));

  auto too_many = encode(Response{Status::ok, RetrieveResult{}});
  too_many[1] = 0x01;
  too_many[2] = 0x01;  // 257 messages
  fuzz::write_seed(dir + "/retrieve-count-257", m(Method::retrieve), too_many);
  fuzz::write_seed(dir + "/ok-info-no-method", 0,
                   encode(Response{Status::ok, InfoResult{"x", 1, 2}}));
  fuzz::write_seed(dir + "/unknown-status", m(Method::info), std::vector<std::uint8_t>{17});
  fuzz::write_seed(dir + "/ok-lookup", m(Method::lookup),
                   encode(Response{Status::ok, LookupResult{std::vector<std::uint8_t>(200, 0x33)}}));
  fuzz::write_seed(dir + "/stale", m(Method::store), encode(Response{Status::stale, {}}));
  fuzz::write_seed(dir + "/ok-cover-loop", m(Method::cover), encode(Response{Status::ok, {}}));
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t method_byte = static_cast<std::uint8_t>(data[0] % 16);
  const auto method = static_cast<Method>(method_byte);
  // Copy the rest so that ASan catches any read past its end.
  const std::vector<std::uint8_t> rest(data + 1, data + size);
  auto decoded = decode_response(method, rest);
  if (!decoded) return 0;

  CHECK(encode(*decoded) == rest);
  CHECK(body_matches(*decoded, method));
  if (decoded->status == Status::ok) CHECK(is_method(method_byte));
  if (const auto* r = std::get_if<RetrieveResult>(&decoded->body)) {
    CHECK(r->messages.size() <= max_retrieve_limit);
    for (const auto& msg : r->messages)
      CHECK(msg.recipient.is_zero());
  }
  if (const auto* w = std::get_if<WrongSwarm>(&decoded->body))
    CHECK(w->members.size() <= max_listed_members);
  return 0;
}
