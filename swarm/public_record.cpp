#include "swarm/public_record.hpp"

#include <stdexcept>
#include <string_view>

namespace nightjar {

namespace {

constexpr std::string_view record_label = "nightjar record v1";

void write_unsigned(WireWriter& w, const PublicRecord& r) {
  if (r.payload.size() > PublicRecord::max_payload)
    throw std::length_error("encode(PublicRecord): payload over max_payload");
  w.u8(PublicRecord::format).u8(r.type).fixed(r.owner).u64(r.version).u64(r.expires_ms).var16(r.payload);
}

}  // namespace

std::vector<std::uint8_t> record_signed_bytes(const PublicRecord& r) {
  WireWriter w(record_label.size() + PublicRecord::overhead + r.payload.size());
  w.raw(as_bytes(record_label));
  write_unsigned(w, r);
  return w.take();
}

void sign_record(PublicRecord& r, const Ed25519SecretKey& key) {
  r.signature = crypto::sign(key, record_signed_bytes(r));
}

bool verify_record(const PublicRecord& r) {
  return crypto::verify(r.owner, record_signed_bytes(r), r.signature);
}

std::vector<std::uint8_t> encode(const PublicRecord& r) {
  WireWriter w(PublicRecord::overhead + r.payload.size());
  write_unsigned(w, r);
  w.fixed(r.signature);
  return w.take();
}

Result<PublicRecord, WireError> decode_record(Bytes bytes) {
  FieldReader f(bytes);
  PublicRecord r;
  std::uint8_t format = 0;
  f.u8(format)
      .check(format == PublicRecord::format)
      .u8(r.type)
      .fixed(r.owner)
      .u64(r.version)
      .u64(r.expires_ms)
      .var16(r.payload, PublicRecord::max_payload)
      .fixed(r.signature);
  return f.finish(std::move(r));
}

}  // namespace nightjar
