// Fuzzes WireReader (and, through re-encoding, WireWriter).
//
// Input layout:
//   byte 0          n = byte & 0x3f: the number of operation bytes that follow
//   bytes 1..n      one operation each: low nibble = opcode, high nibble = an
//                   index into `sizes` (the n of raw(n) or a var field's max)
//   the rest        the buffer the reader parses
//
// Every operation is checked against an independent model of the format, and
// the invariants below end in __builtin_trap() when violated:
//   - position() never exceeds the buffer size; remaining() == size - position
//   - a failed read leaves the position unchanged and fails with the right error
//   - a successful read advances by exactly the field's size, returns the
//     big-endian value of the bytes read, and returns views that point into
//     the input buffer at the right place
//   - finish() succeeds exactly when nothing is left and never moves
//   - re-encoding every value read with WireWriter reproduces the consumed
//     bytes exactly, and replaying the successful reads over that encoding
//     gives the same values and ends with finish() succeeding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"
#include "routing/wire.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

constexpr std::size_t sizes[16] = {
    0,  1,   2,   3,    4,      7,       8,           31,
    32, 255, 256, 1000, 0xffff, 0x10000, 0xffffffffu, std::numeric_limits<std::size_t>::max(),
};

enum Op : std::uint8_t {
  op_u8,
  op_u16,
  op_u32,
  op_u64,
  op_raw,
  op_var8,
  op_var8_default,
  op_var16,
  op_var16_default,
  op_var32,
  op_fixed_hash,
  op_fixed_nonce,
  op_finish,
  op_rest,
  op_raw_remaining,
  op_position,
};

// A successful read, kept for re-encoding and replay.
struct Done {
  std::uint8_t op;
  std::size_t param;    // n for raw, max for var
  std::uint64_t value;  // integers
  Bytes view;           // raw, var, fixed, rest
};

std::uint64_t load_be(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

bool same_bytes(Bytes a, Bytes b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// True if `v` lies inside `buf` (an empty view may sit at its end).
bool inside(Bytes v, Bytes buf) {
  const auto begin = reinterpret_cast<std::uintptr_t>(buf.data());
  const auto end = begin + buf.size();
  const auto vb = reinterpret_cast<std::uintptr_t>(v.data());
  if (v.empty()) return v.data() == nullptr || (vb >= begin && vb <= end);
  return vb >= begin && vb <= end && v.size() <= end - vb;
}

struct Model {
  Bytes buf;
  WireReader& r;

  void check_position(std::size_t pos) const {
    CHECK(r.position() == pos);
    CHECK(r.position() <= buf.size());
    CHECK(r.remaining() == buf.size() - r.position());
  }

  // An integer field of n bytes.
  template <class R>
  bool integer(R result, std::size_t n, std::size_t pos, std::uint64_t& value) {
    if (buf.size() - pos < n) {
      CHECK(!result.ok());
      CHECK(result.error() == WireError::truncated);
      check_position(pos);
      return false;
    }
    CHECK(result.ok());
    value = *result;
    CHECK(value == load_be(buf.data() + pos, n));
    check_position(pos + n);
    return true;
  }

  // A view of n bytes expected at `at`; the reader must end at at + n.
  void view(const Result<Bytes, WireError>& result, std::size_t at, std::size_t n) {
    CHECK(result.ok());
    const Bytes v = *result;
    CHECK(v.size() == n);
    CHECK(inside(v, buf));
    if (n > 0) CHECK(v.data() == buf.data() + at);
    check_position(at + n);
  }

  // A length-prefixed field with a prefix of `prefix` bytes and limit `max`.
  bool var(const Result<Bytes, WireError>& result, std::size_t prefix, std::size_t max,
           std::size_t pos) {
    const std::size_t left = buf.size() - pos;
    if (left < prefix) {
      CHECK(!result.ok());
      CHECK(result.error() == WireError::truncated);
      check_position(pos);
      return false;
    }
    const std::uint64_t len = load_be(buf.data() + pos, prefix);
    if (len > max) {
      CHECK(!result.ok());
      CHECK(result.error() == WireError::too_long);
      check_position(pos);
      return false;
    }
    if (len > left - prefix) {
      CHECK(!result.ok());
      CHECK(result.error() == WireError::truncated);
      check_position(pos);
      return false;
    }
    view(result, pos + prefix, static_cast<std::size_t>(len));
    return true;
  }

  template <class Fixed>
  bool fixed(const Result<Fixed, WireError>& result, std::size_t pos, Bytes& out) {
    if (buf.size() - pos < Fixed::size_bytes) {
      CHECK(!result.ok());
      CHECK(result.error() == WireError::truncated);
      check_position(pos);
      return false;
    }
    CHECK(result.ok());
    CHECK(same_bytes(*result, buf.subspan(pos, Fixed::size_bytes)));
    out = buf.subspan(pos, Fixed::size_bytes);
    check_position(pos + Fixed::size_bytes);
    return true;
  }
};

// Runs one operation against `r`, checks it, and returns whether it succeeded
// (filling `done`). Used both for the fuzzed run and the replay.
bool run_op(std::uint8_t op, std::size_t param, WireReader& r, Bytes buf, Done& done) {
  Model m{buf, r};
  const std::size_t pos = r.position();
  m.check_position(pos);
  done = Done{op, param, 0, {}};
  switch (op) {
    case op_u8:
      return m.integer(r.u8(), 1, pos, done.value);
    case op_u16:
      return m.integer(r.u16(), 2, pos, done.value);
    case op_u32:
      return m.integer(r.u32(), 4, pos, done.value);
    case op_u64:
      return m.integer(r.u64(), 8, pos, done.value);
    case op_raw:
    case op_raw_remaining: {
      if (op == op_raw_remaining) done.param = param = r.remaining();
      auto res = r.raw(param);
      if (buf.size() - pos < param) {
        CHECK(!res.ok());
        CHECK(res.error() == WireError::truncated);
        m.check_position(pos);
        return false;
      }
      m.view(res, pos, param);
      done.view = *res;
      return true;
    }
    case op_var8:
    case op_var8_default:
    case op_var16:
    case op_var16_default:
    case op_var32: {
      Result<Bytes, WireError> res = fail(WireError::bad_value);
      std::size_t prefix = 0;
      if (op == op_var8) {
        res = r.var8(param);
        prefix = 1;
      } else if (op == op_var8_default) {
        res = r.var8();
        prefix = 1;
        done.param = param = 0xff;
      } else if (op == op_var16) {
        res = r.var16(param);
        prefix = 2;
      } else if (op == op_var16_default) {
        res = r.var16();
        prefix = 2;
        done.param = param = 0xffff;
      } else {
        res = r.var32(param);
        prefix = 4;
      }
      if (!m.var(res, prefix, param, pos)) return false;
      done.view = *res;
      return true;
    }
    case op_fixed_hash:
      return m.fixed(r.fixed<Hash256>(), pos, done.view);
    case op_fixed_nonce:
      return m.fixed(r.fixed<AeadNonce>(), pos, done.view);
    case op_finish: {
      auto res = r.finish();
      CHECK(res.ok() == (pos == buf.size()));
      if (!res.ok()) CHECK(res.error() == WireError::trailing_bytes);
      m.check_position(pos);
      return false;  // nothing to re-encode
    }
    case op_rest: {
      const Bytes v = r.rest();
      CHECK(v.size() == buf.size() - pos);
      CHECK(inside(v, buf));
      if (!v.empty()) CHECK(v.data() == buf.data() + pos);
      m.check_position(buf.size());
      done.view = v;
      return true;
    }
    default:  // op_position: observers only
      m.check_position(pos);
      return false;
  }
}

void encode(const Done& d, WireWriter& w) {
  switch (d.op) {
    case op_u8:
      w.u8(static_cast<std::uint8_t>(d.value));
      break;
    case op_u16:
      w.u16(static_cast<std::uint16_t>(d.value));
      break;
    case op_u32:
      w.u32(static_cast<std::uint32_t>(d.value));
      break;
    case op_u64:
      w.u64(d.value);
      break;
    case op_var8:
    case op_var8_default:
      w.var8(d.view);
      break;
    case op_var16:
    case op_var16_default:
      w.var16(d.view);
      break;
    case op_var32:
      w.var32(d.view);
      break;
    case op_fixed_hash: {
      Hash256 h = Hash256::from(d.view.first<Hash256::size_bytes>());
      w.fixed(h);
      break;
    }
    case op_fixed_nonce: {
      AeadNonce n = AeadNonce::from(d.view.first<AeadNonce::size_bytes>());
      w.fixed(n);
      break;
    }
    default:
      w.raw(d.view);
      break;  // raw, raw_remaining, rest
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t n_ops = std::min<std::size_t>(data[0] & 0x3f, size - 1);
  const std::uint8_t* ops = data + 1;
  // Copy the buffer so that ASan catches any read past its end.
  const std::vector<std::uint8_t> owned(data + 1 + n_ops, data + size);
  const Bytes buf{owned.data(), owned.size()};

  WireReader r(buf);
  WireWriter w;
  std::vector<Done> done;
  for (std::size_t i = 0; i < n_ops; ++i) {
    const std::uint8_t op = ops[i] & 0x0f;
    const std::size_t param = sizes[ops[i] >> 4];
    Done d;
    if (run_op(op, param, r, buf, d)) {
      encode(d, w);
      done.push_back(d);
    }
    CHECK(r.position() <= buf.size());
  }

  // Re-encoding reproduces exactly the bytes consumed.
  const std::size_t consumed = r.position();
  CHECK(w.size() == consumed);
  CHECK(same_bytes(w.bytes(), buf.first(consumed)));

  // Replaying the successful reads over the re-encoding gives the same values
  // and consumes all of it.
  const std::vector<std::uint8_t> again = w.take();
  const Bytes again_buf{again.data(), again.size()};
  WireReader r2(again_buf);
  for (const Done& d : done) {
    Done d2;
    CHECK(run_op(d.op, d.param, r2, again_buf, d2));
    CHECK(d2.value == d.value);
    CHECK(same_bytes(d2.view, d.view));
  }
  CHECK(r2.finish().ok());
  CHECK(r2.position() == consumed);
  return 0;
}
