// Fuzzes open() (client/envelope.hpp) with a fixed recipient identity, and the
// Reassembler (client/fragments.hpp) with fragments derived from the input.
// Envelopes arrive from anyone who knows an account ID, through the swarm.
//
// Input layout:
//   byte 0  mode: 0 = raw, 1 = forged, 2 = forged and re-signed,
//           3 = reassembler records (anything else: mode % 4)
//   rest    raw:     the envelope as received
//           forged:  the inner plaintext, which the target encrypts to the
//                    recipient (anyone can), so the inner parser is reached
//           re-signed: as forged, and the target writes the fixed sender's
//                    key and a valid signature over the rest into bytes
//                    0..96, so the checks after the signature are reached
//           records: fragments for a Reassembler with small limits, each
//                    sender (1) || message ID byte (1) || index (2) ||
//                    count (2) || timestamp (1) || length (1) || body
//
// Invariants (trap on violation):
//   - open never crashes; a raw envelope fails as the layout predicts:
//     empty -> malformed, wrong first byte -> bad_version, outside
//     [overhead, max_envelope_bytes] -> malformed
//   - forged: open gives exactly what decode_inner gives for the same inner
//     (the outer layer is transparent to its rightful recipient)
//   - re-signed: the signature always verifies, so the only errors are
//     bad_padding and bad_fragment, and a success names the fixed sender
//   - an opened envelope has 1 <= count <= max_fragments, index < count, and
//     a body no longer than the envelope minus the overhead; opening the
//     same bytes again gives the same fields
//   - every opened envelope and every record goes into a Reassembler: it
//     never holds more than its limits, completes each (sender, message ID)
//     at most once, and never returns more than max_message_bytes.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/envelope bin/fuzz_envelope
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "client/envelope.hpp"
#include "client/fragments.hpp"
#include "routing/crypto.hpp"
#include "routing/random_source.hpp"
#include "routing/wire.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;
namespace layers = nightjar::client::envelope_layers;

namespace {

enum Mode : std::uint8_t { raw = 0, forged = 1, resigned = 2, records = 3 };

DeterministicRandom rng_from(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(b);
  return DeterministicRandom(seed);
}

const Identity& recipient() {
  static const Identity id = [] {
    auto rng = rng_from(0x52);
    return Identity::generate(rng);
  }();
  return id;
}

const Identity& sender() {
  static const Identity id = [] {
    auto rng = rng_from(0x53);
    return Identity::generate(rng);
  }();
  return id;
}

ReassemblerLimits small_limits() {
  ReassemblerLimits limits;
  limits.max_pending_messages = 4;
  limits.max_pending_bytes = 2048;
  limits.remembered_completed = 1'000'000;  // "at most once" is then exact
  return limits;
}

struct ReassemblyCheck {
  Reassembler reassembler{small_limits()};
  std::set<std::array<std::uint8_t, 48>> completed;

  void add(OpenedEnvelope e) {
    auto r = reassembler.add(std::move(e));
    CHECK(reassembler.pending_messages() <= 4);
    CHECK(reassembler.pending_bytes() <= 2048);
    if (!r.ok() || !r->has_value()) return;
    const ReceivedMessage& m = **r;
    CHECK(m.text.size() <= max_message_bytes);
    std::array<std::uint8_t, 48> key{};
    std::copy(m.sender.bytes.begin(), m.sender.bytes.end(), key.begin());
    std::copy(m.message_id.bytes.begin(), m.message_id.bytes.end(), key.begin() + 32);
    CHECK(completed.insert(key).second);
  }
};

void check_opened(const OpenedEnvelope& e, Bytes envelope) {
  CHECK(e.count >= 1 && e.count <= max_fragments && e.index < e.count);
  CHECK(e.body.size() <= envelope.size() - envelope_overhead);
  auto again = open(recipient(), envelope);
  CHECK(again.ok());
  CHECK(again->sender == e.sender && again->timestamp_ms == e.timestamp_ms);
  CHECK(again->message_id == e.message_id && again->index == e.index);
  CHECK(again->count == e.count && again->body == e.body);
}

void run_records(Bytes rest) {
  ReassemblyCheck check;
  WireReader r(rest);
  for (int n = 0; n < 256; ++n) {
    auto head = r.raw(7);
    auto body = r.var8();
    if (!head || !body) break;
    OpenedEnvelope e;
    e.sender.bytes.fill((*head)[0]);
    e.message_id.bytes.fill((*head)[1]);
    e.index = load_u16(&(*head)[2]);
    e.count = load_u16(&(*head)[4]);
    e.timestamp_ms = (*head)[6];
    e.body.assign(body->begin(), body->end());
    check.add(std::move(e));
  }
}

void write_seeds(const std::string& dir) {
  auto rng = rng_from(1);
  const auto& to = recipient().account();
  Message m;
  m.timestamp_ms = 1'700'000'000'000;
  m.message_id = random_message_id(rng);
  for (std::size_t n : std::initializer_list<std::size_t>{0, 1, 66, 100, 265}) {
    const std::vector<std::uint8_t> body(n, 'b');
    m.body = body;
    auto env = seal(sender(), to, m, 440, rng);
    CHECK(env.ok());
    fuzz::write_seed(dir + "/sealed-body-" + std::to_string(n), raw, *env);
    const auto inner = layers::encode_inner(sender(), to, m, env->size() - envelope_outer_bytes);
    fuzz::write_seed(dir + "/forged-body-" + std::to_string(n), forged, inner);
    fuzz::write_seed(dir + "/resigned-body-" + std::to_string(n), resigned, inner);
  }
  const std::vector<std::uint8_t> text(600, 't');
  auto parts = seal_message(sender(), to, 1, text, 440, rng);
  CHECK(parts.ok());
  fuzz::write_seed(dir + "/sealed-fragment-2-of-3", raw, (*parts)[1]);
  auto v2 = (*parts)[0];
  v2[0] = 2;
  fuzz::write_seed(dir + "/version-2", raw, v2);
  fuzz::write_seed(dir + "/truncated", raw, Bytes((*parts)[0]).first(174));

  const std::vector<std::uint8_t> short_body(20, 's');
  m.body = short_body;  // the loop's bodies are gone
  std::vector<std::uint8_t> bad = layers::encode_inner(sender(), to, m, 400);
  bad.back() = 1;
  fuzz::write_seed(dir + "/resigned-bad-padding", resigned, bad);
  bad = layers::encode_inner(sender(), to, m, 400);
  store_u16(&bad[122], 0);
  fuzz::write_seed(dir + "/resigned-count-0", resigned, bad);

  // A three-fragment message delivered out of order with a duplicate, and a
  // fragment with a conflicting count.
  WireWriter w;
  for (std::uint16_t index : std::initializer_list<std::uint16_t>{2, 0, 2, 1}) {
    w.u8(7).u8(9).u16(index).u16(3).u8(5);
    const std::vector<std::uint8_t> body(10, static_cast<std::uint8_t>('a' + index));
    w.var8(body);
  }
  w.u8(7).u8(8).u16(0).u16(2).u8(5).var8(std::vector<std::uint8_t>(200, 'x'));
  w.u8(7).u8(8).u16(1).u16(4).u8(5).var8(std::vector<std::uint8_t>(1, 'y'));
  fuzz::write_seed(dir + "/records", records, w.bytes());
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto mode = static_cast<Mode>(data[0] % 4);
  // Copy so that ASan sees the exact end of the input.
  std::vector<std::uint8_t> rest(data + 1, data + size);

  if (mode == records) {
    run_records(rest);
    return 0;
  }

  std::vector<std::uint8_t> envelope;
  if (mode == raw) {
    envelope = rest;
  } else {
    if (mode == resigned && rest.size() >= envelope_inner_fixed_bytes)
      layers::sign_inner(sender(), recipient().account(), rest);
    auto rng = rng_from(2);
    auto sealed = layers::encrypt_inner(recipient().account(), rest, rng);
    if (!sealed) {
      CHECK(sealed.error() == SealError::body_too_large);
      return 0;
    }
    envelope = std::move(*sealed);
  }

  auto opened = open(recipient(), envelope);
  if (mode == raw) {
    if (envelope.empty())
      CHECK(!opened && opened.error() == OpenError::malformed);
    else if (envelope[0] != envelope_version)
      CHECK(!opened && opened.error() == OpenError::bad_version);
    else if (envelope.size() < envelope_overhead || envelope.size() > max_envelope_bytes)
      CHECK(!opened && opened.error() == OpenError::malformed);
  } else {
    auto direct = layers::decode_inner(recipient().account(), rest);
    CHECK(direct.ok() == opened.ok());
    if (!opened) {
      CHECK(direct.error() == opened.error());
      if (mode == resigned && rest.size() >= envelope_inner_fixed_bytes)
        CHECK(opened.error() == OpenError::bad_padding ||
              opened.error() == OpenError::bad_fragment);
    } else {
      CHECK(direct->body == opened->body && direct->index == opened->index);
      if (mode == resigned) CHECK(opened->sender == sender().account());
    }
  }
  if (!opened) return 0;
  check_opened(*opened, envelope);

  // The opened fragment, and the same fragment again, into a Reassembler.
  ReassemblyCheck check;
  OpenedEnvelope copy = *opened;
  check.add(std::move(*opened));
  check.add(std::move(copy));
  return 0;
}
