// The directory protocol's frames: nodes register their descriptors with the
// authorities, anyone fetches the current directory from any node, and
// authorities exchange votes and signatures. Large documents (directories,
// votes) travel as a series of chunks on one link, reassembled by
// BlobAssembler. Codecs only: node/ sends and handles them.
//
// Every frame starts with its FrameType byte (routing/frame.hpp); decoders
// take the whole frame and check that byte. docs/PROTOCOL.md, "Directory
// protocol", has the layouts.
#pragma once

#include <cstdint>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"
#include "routing/frame.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"

namespace nightjar {

enum class RegisterStatus : std::uint8_t {
  accepted = 0,
  bad_descriptor = 1,   // does not decode
  bad_signature = 2,    // the identity signature does not verify
  wrong_link_key = 3,   // the link's peer key is not the descriptor's link key
  not_authority = 4,    // sent to a node that is not an authority
  overloaded = 5,       // too many registrations; try again later
  unreachable = 6,      // the authority could not connect back to the address
};
const char* to_string(RegisterStatus s);

struct RegisterReply {
  RegisterStatus status = RegisterStatus::accepted;
  std::uint64_t server_time_ms = 0;
};

// One piece of a chunked document. `total` is the whole document's length.
struct Chunk {
  std::uint64_t epoch = 0;
  std::uint32_t total = 0;
  std::uint32_t offset = 0;
  Bytes data;  // a view into the frame
};

struct SignatureMessage {
  std::uint64_t epoch = 0;
  Hash256 digest;
  Ed25519PublicKey authority;
  Ed25519Signature signature;
};

// An authority's view for one epoch: the descriptors it found reachable, and
// the directory it builds on.
struct Vote {
  static constexpr std::uint8_t format = 1;
  static constexpr std::size_t max_descriptors = 20'000;
  std::uint64_t epoch = 0;
  std::uint64_t previous_epoch = 0;  // 0: none
  Hash256 previous_digest;           // zero: none
  std::vector<std::vector<std::uint8_t>> descriptors;  // encoded, sorted, unique

  std::vector<std::uint8_t> encode() const;
  static Result<Vote, WireError> decode(Bytes bytes);
};

inline constexpr std::size_t max_chunk_data = 60'000;  // fits a 64 KiB link frame
inline constexpr std::size_t chunk_header_bytes = 1 + 8 + 4 + 4;

std::vector<std::uint8_t> encode_register(Bytes descriptor);
Result<Bytes, WireError> decode_register(Bytes frame);
std::vector<std::uint8_t> encode_register_reply(const RegisterReply& r);
Result<RegisterReply, WireError> decode_register_reply(Bytes frame);
std::vector<std::uint8_t> encode_fetch(std::uint64_t have_epoch);
Result<std::uint64_t, WireError> decode_fetch(Bytes frame);
std::vector<std::uint8_t> encode_none(std::uint64_t held_epoch);
Result<std::uint64_t, WireError> decode_none(Bytes frame);
std::vector<std::uint8_t> encode_signature(const SignatureMessage& m);
Result<SignatureMessage, WireError> decode_signature(Bytes frame);
// Splits `document` into chunk frames of type `type` (dir_chunk or auth_vote).
std::vector<std::vector<std::uint8_t>> encode_chunks(FrameType type, std::uint64_t epoch,
                                                     Bytes document);
Result<Chunk, WireError> decode_chunk(FrameType type, Bytes frame);

// Reassembles one document at a time from chunks that arrive in order on one
// link. A chunk with offset 0 starts a new document (dropping any partial
// one); anything out of order, over `max_total`, or inconsistent with the
// chunks before it is an error and resets the assembler.
class BlobAssembler {
 public:
  explicit BlobAssembler(std::size_t max_total) : max_total_(max_total) {}
  enum class Status { partial, complete, error };
  Status add(const Chunk& c);
  // After `complete`: the document and its epoch; the assembler is then reset.
  std::vector<std::uint8_t> take() { started_ = false; return std::move(buf_); }
  std::uint64_t epoch() const { return epoch_; }

 private:
  std::size_t max_total_;
  bool started_ = false;
  std::uint64_t epoch_ = 0;
  std::uint32_t total_ = 0;
  std::vector<std::uint8_t> buf_;
};

}  // namespace nightjar
