// Fuzzes reply cells: open_reply on arbitrary and forged cells, and the round
// trip make_reply -> wrap_reply -> open_reply. The client's reply keys are
// fixed (four, derived from constant bytes; an input uses the first three or
// all four).
//
// Input layout:
//   byte 0  flags: bits 0-1  cell size: default_cell_bytes, min_cell_bytes,
//                            min_cell_bytes + 1 or 2048
//                  bit 2     four reply keys (else three)
//                  bit 3     raw: the cell is the rest as is, unpadded and
//                            untruncated (bad_size unless its length is a valid
//                            cell size)
//                  bit 4     forge: the cell is the plaintext of the reply of
//                            hop `byte 1 % keys`, which the target encrypts
//                            under that hop's reply key and wraps for the hops
//                            before it, as the path would
//                  bit 5     with bit 4: zero the plaintext's 16-byte prefix, so
//                            that it opens at that hop
//                  bit 6     round trip: kind relay_error (else response)
//                  bit 7     reserved
//   byte 1  the hop (modulo the number of keys) for forging and the round trip
//   byte 2  the round trip's code
//   rest    the cell (padded with zeros or truncated to the cell size unless
//           raw); its first max_reply_data(cell size) bytes are also the round
//           trip's data
//
// Invariants (trap on violation):
//   - open_reply fails with bad_size exactly when the cell has an invalid size
//   - its result is the one docs/PROTOCOL.md ("Replies") gives, computed here
//     independently (LIONESS-decrypt under expand(key) for hops 0, 1, ... and
//     stop at the first 16 zero bytes): on success hop < keys.size(),
//     data.size() <= max_reply_data(cell size), the cell holds the plaintext
//     and data is its bytes 20 .. 20 + len
//   - round trip: make_reply at the chosen hop, wrap_reply for the hops before
//     it, and open_reply returns exactly that hop, kind, code and data; the
//     same cell does not open without the answering hop's key; make_reply
//     refuses data of max_reply_data + 1 bytes, and a cell size that is not
//     valid
//   - forged: the fuzzer's plaintext decides the result (no zero prefix or a
//     kind over 1: unreadable; a length over max_reply_data: bad_length;
//     otherwise that hop, kind, code and data).
//
// The seed corpus holds round trips, genuine reply cells and forged ones. To
// regenerate it:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/onion_reply bin/fuzz_onion_reply
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/lioness.hpp"
#include "routing/onion_cell.hpp"
#include "routing/wire.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

using namespace nightjar::onion;

constexpr std::size_t max_keys = 4;
constexpr std::size_t cell_sizes[4] = {default_cell_bytes, min_cell_bytes, min_cell_bytes + 1, 2048};

const std::vector<ReplyKey>& reply_keys() {
  static const std::vector<ReplyKey>* keys = [] {
    auto* v = new std::vector<ReplyKey>();
    for (std::size_t k = 0; k < max_keys; ++k) {
      std::array<std::uint8_t, 32> b{};
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(0xa0 + 16 * k + i);
      v->push_back(ReplyKey::from(b));
    }
    return v;
  }();
  return *keys;
}

// --- The model ----------------------------------------------------------------

// expand(k) = ChaCha20-IETF keystream(key = k, nonce = "reply" || 0^7), 128 bytes.
LionessKey expand(const ReplyKey& k) {
  const unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {'r', 'e', 'p', 'l', 'y'};
  LionessKey out;
  crypto_stream_chacha20_ietf(out.data(), out.size(), nonce, k.data());
  return out;
}

struct Expected {
  std::optional<ReplyError> error;
  std::size_t hop = 0;
  std::vector<std::uint8_t> plain;  // on success: the cell after opening
};

Expected model_open(std::span<const ReplyKey> keys, Bytes cell) {
  Expected x;
  if (cell.size() < min_cell_bytes || cell.size() > max_cell_bytes) {
    x.error = ReplyError::bad_size;
    return x;
  }
  std::vector<std::uint8_t> c(cell.begin(), cell.end());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    lioness::decrypt(expand(keys[i]), c);
    if (!std::all_of(c.begin(), c.begin() + zero_prefix, [](std::uint8_t v) { return v == 0; })) continue;
    const std::size_t len = (std::size_t{c[zero_prefix + 2]} << 8) | c[zero_prefix + 3];
    if (c[zero_prefix] > 1)
      x.error = ReplyError::unreadable;
    else if (len > c.size() - reply_prefix)
      x.error = ReplyError::bad_length;
    x.hop = i;
    x.plain = std::move(c);
    return x;
  }
  x.error = ReplyError::unreadable;
  return x;
}

bool known_error(ReplyError e) {
  switch (e) {
    case ReplyError::bad_size:
    case ReplyError::unreadable:
    case ReplyError::bad_length:
      return true;
  }
  return false;
}

// Opens `cell` (in place), checks the result against the model and returns it.
Result<OpenedReply, ReplyError> check_open(std::span<const ReplyKey> keys, std::vector<std::uint8_t>& cell) {
  const Expected want = model_open(keys, cell);
  auto got = open_reply(keys, cell);
  if (!got.ok()) {
    CHECK(known_error(got.error()));
    CHECK((got.error() == ReplyError::bad_size) == !valid_cell_size(cell.size()));
    CHECK(want.error.has_value() && *want.error == got.error());
    return got;
  }
  CHECK(!want.error.has_value());
  const OpenedReply& r = *got;
  CHECK(r.hop < keys.size());
  CHECK(r.hop == want.hop);
  CHECK(r.data.size() <= max_reply_data(cell.size()));
  CHECK(r.kind == ReplyKind::response || r.kind == ReplyKind::relay_error);
  CHECK(cell == want.plain);
  CHECK(static_cast<std::uint8_t>(r.kind) == cell[zero_prefix]);
  CHECK(r.code == cell[zero_prefix + 1]);
  CHECK(r.data.size() == load_u16(cell.data() + zero_prefix + 2));
  CHECK(std::equal(r.data.begin(), r.data.end(), cell.begin() + reply_prefix));
  return got;
}

// A forged reply, checked against the fuzzer's own plaintext rather than the
// model (and, since these branches only run for forged cells, their coverage
// keeps forged inputs in the corpus). A plaintext without the zero prefix does
// not open (barring a 2^-128 accident).
void check_forged(const Result<OpenedReply, ReplyError>& got, std::size_t hop,
                  const std::vector<std::uint8_t>& plain_in) {
  const bool prefix_zero =
      std::all_of(plain_in.begin(), plain_in.begin() + zero_prefix, [](std::uint8_t v) { return v == 0; });
  const std::uint8_t kind = plain_in[zero_prefix];
  const std::size_t len = load_u16(plain_in.data() + zero_prefix + 2);
  if (!prefix_zero) {
    CHECK(!got.ok() && got.error() == ReplyError::unreadable);
  } else if (kind > 1) {
    CHECK(!got.ok() && got.error() == ReplyError::unreadable);
  } else if (len > max_reply_data(plain_in.size())) {
    CHECK(!got.ok() && got.error() == ReplyError::bad_length);
  } else {
    CHECK(got.ok());
    CHECK(got->hop == hop);
    CHECK(static_cast<std::uint8_t>(got->kind) == kind);
    CHECK(got->code == plain_in[zero_prefix + 1]);
    CHECK(got->data.size() == len);
    CHECK(std::equal(got->data.begin(), got->data.end(), plain_in.begin() + reply_prefix));
  }
}

// --- Seed generation ---------------------------------------------------------

std::vector<std::uint8_t> seed(std::uint8_t flags, std::uint8_t hop, std::uint8_t code, Bytes rest) {
  std::vector<std::uint8_t> s{flags, hop, code};
  s.insert(s.end(), rest.begin(), rest.end());
  return s;
}

std::vector<std::uint8_t> text(std::size_t n) {
  std::vector<std::uint8_t> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<std::uint8_t>('a' + i % 26);
  return t;
}

// A reply answered by hop `hop` and wrapped by the hops before it.
std::vector<std::uint8_t> genuine(std::size_t cell_bytes, std::size_t hop, ReplyKind kind,
                                  std::uint8_t code, std::size_t data_len) {
  auto r = make_reply(cell_bytes, reply_keys()[hop], kind, code, text(data_len));
  CHECK(r.ok());
  for (std::size_t i = hop; i-- > 0;) wrap_reply(reply_keys()[i], *r);
  return std::move(*r);
}

// A forged plaintext (flags: forge, zero prefix) of kind `kind` and length field `len`.
std::vector<std::uint8_t> forged(std::uint8_t size_bits, std::uint8_t hop, std::uint8_t kind,
                                 std::uint16_t len, std::size_t data_len) {
  std::vector<std::uint8_t> plain(reply_prefix + data_len, 0);
  plain[zero_prefix] = kind;
  plain[zero_prefix + 1] = 0x42;
  store_u16(plain.data() + zero_prefix + 2, len);
  auto t = text(data_len);
  std::copy(t.begin(), t.end(), plain.begin() + reply_prefix);
  return seed(static_cast<std::uint8_t>(size_bits | 0x10 | 0x20), hop, 0, plain);
}

void write_seeds(const std::string& dir) {
  constexpr std::uint8_t size_min = 0x01, size_odd = 0x02, size_2048 = 0x03, four = 0x04, raw = 0x08,
                         relay_error = 0x40;
  fuzz::write_seed(dir + "/roundtrip-hop0", seed(0, 0, 0, text(5)));
  fuzz::write_seed(dir + "/roundtrip-hop3-relay-error-full",
                   seed(four | size_min | relay_error, 3, 2, text(max_reply_data(min_cell_bytes) + 1)));
  fuzz::write_seed(dir + "/genuine-hop2-of-4",
                   seed(four, 2, 7, genuine(default_cell_bytes, 2, ReplyKind::response, 0, 300)));
  fuzz::write_seed(dir + "/genuine-hop1-odd-raw",
                   seed(raw, 1, 1, genuine(min_cell_bytes + 1, 1, ReplyKind::relay_error, 3, 0)));
  fuzz::write_seed(dir + "/genuine-hop0-2048-full",
                   seed(size_2048, 0, 0, genuine(2048, 0, ReplyKind::response, 9, max_reply_data(2048))));
  fuzz::write_seed(dir + "/forged-response", forged(size_min, 1, 0, 12, 12));
  fuzz::write_seed(dir + "/forged-long-length",
                   forged(size_odd, 2, 0, static_cast<std::uint16_t>(max_reply_data(min_cell_bytes + 1) + 1), 40));
  fuzz::write_seed(dir + "/forged-bad-kind", forged(size_min, 0, 2, 4, 4));
  fuzz::write_seed(dir + "/raw-bad-size", seed(raw, 0, 0, text(100)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  CHECK(crypto::init());
  (void)reply_keys();
  fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t flags = data[0];
  const std::size_t cell_bytes = cell_sizes[flags & 3u];
  const std::size_t nkeys = (flags & 0x04) ? 4 : 3;
  const bool raw = (flags & 0x08) != 0;
  const bool forge = (flags & 0x10) != 0;
  const bool zero_prefix_forged = (flags & 0x20) != 0;
  const ReplyKind kind = (flags & 0x40) ? ReplyKind::relay_error : ReplyKind::response;
  const std::size_t hop = data[1] % nkeys;
  const std::uint8_t code = data[2];
  const Bytes rest{data + 3, size - 3};
  const std::span<const ReplyKey> keys = std::span<const ReplyKey>(reply_keys()).first(nkeys);

  // 1. The input as a reply cell.
  std::vector<std::uint8_t> cell;
  if (raw) {
    cell.assign(rest.begin(), rest.end());
  } else {
    cell.assign(cell_bytes, 0);
    std::copy_n(rest.begin(), std::min(rest.size(), cell_bytes), cell.begin());
  }
  std::vector<std::uint8_t> plain_in;  // what forging started from
  if (forge && valid_cell_size(cell.size())) {
    if (zero_prefix_forged) std::fill_n(cell.begin(), zero_prefix, std::uint8_t{0});
    plain_in = cell;
    for (std::size_t i = hop + 1; i-- > 0;) wrap_reply(keys[i], cell);
  }
  const auto opened_input = check_open(keys, cell);
  if (!plain_in.empty()) check_forged(opened_input, hop, plain_in);

  // 2. The round trip.
  const std::size_t max_data = max_reply_data(cell_bytes);
  const Bytes reply_data = rest.first(std::min(rest.size(), max_data));
  auto made = make_reply(cell_bytes, keys[hop], kind, code, reply_data);
  CHECK(made.ok());
  std::vector<std::uint8_t> reply = std::move(*made);
  CHECK(reply.size() == cell_bytes);
  for (std::size_t i = hop; i-- > 0;) wrap_reply(keys[i], reply);
  {
    // Without the answering hop's key it does not open.
    std::vector<std::uint8_t> copy = reply;
    auto early = open_reply(keys.first(hop), copy);
    CHECK(!early.ok() && early.error() == ReplyError::unreadable);
  }
  auto opened = open_reply(keys, reply);
  CHECK(opened.ok());
  CHECK(opened->hop == hop);
  CHECK(opened->kind == kind);
  CHECK(opened->code == code);
  CHECK(opened->data.size() == reply_data.size());
  CHECK(std::equal(opened->data.begin(), opened->data.end(), reply_data.begin()));

  if (rest.size() > max_data) {
    auto too_large = make_reply(cell_bytes, keys[hop], kind, code, rest.first(max_data + 1));
    CHECK(!too_large.ok() && too_large.error() == OnionError::data_too_large);
  }
  if (raw) {
    auto sized = make_reply(rest.size(), keys[hop], kind, code, {});
    CHECK(sized.ok() == valid_cell_size(rest.size()));
    if (sized.ok()) {
      CHECK(sized->size() == rest.size());
    } else {
      CHECK(sized.error() == OnionError::bad_cell_size);
    }
  }
  return 0;
}
