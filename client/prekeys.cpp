#include "client/prekeys.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "client/profile_sealer.hpp"
#include "routing/key_file.hpp"

namespace nightjar::client {

using namespace prekeys;

namespace {
constexpr std::string_view ad_label = "nightjar prekeys v1";
constexpr std::size_t max_signed = 16;  // 7-day rotation, 15-day retention: 4 at most
}  // namespace

Prekeys::Prekeys(const Identity& identity) : identity_(&identity) {}

bool Prekeys::maintain(std::uint64_t now_ms, RandomSource* rng) {
  bool changed = false;
  if (signed_.empty() || now_ms >= signed_.back().pub.created_ms + rotation_ms) {
    auto kp = generate_x25519(rng);
    Signed s{sign_prekey(identity_->account(), identity_->signing_key(), next_id_++, kp.pub, now_ms),
             std::move(kp.sec)};
    signed_.push_back(std::move(s));
    changed = true;
  }
  // A replaced signed prekey stays for `retention` after its successor came.
  while (signed_.size() > 1 && signed_[1].pub.created_ms + retention_ms <= now_ms)
    signed_.erase(signed_.begin());
  const auto expired = [&](const OneTime& k) {
    return k.used_ms != 0 && k.used_ms + used_retention_ms <= now_ms;
  };
  if (std::any_of(one_time_.begin(), one_time_.end(), expired)) {
    std::erase_if(one_time_, expired);
    changed = true;
  }
  if (one_time_count() < one_time_refill_below) {
    while (one_time_count() < one_time_target) {
      auto kp = generate_x25519(rng);
      one_time_.push_back(OneTime{OneTimePrekey{next_id_++, kp.pub}, std::move(kp.sec), 0});
    }
    changed = true;
  }
  return changed;
}

std::size_t Prekeys::one_time_count() const {
  return static_cast<std::size_t>(
      std::count_if(one_time_.begin(), one_time_.end(), [](const OneTime& k) { return k.used_ms == 0; }));
}

std::optional<PrekeyBundle> Prekeys::bundle(std::size_t max_one_time) const {
  if (signed_.empty()) return std::nullopt;
  PrekeyBundle b;
  b.account = identity_->account();
  b.signed_prekey = signed_.back().pub;
  for (const auto& k : one_time_) {
    if (b.one_time.size() >= max_one_time) break;
    if (k.used_ms == 0) b.one_time.push_back(k.pub);
  }
  return b;
}

const X25519SecretKey* Prekeys::signed_secret(std::uint32_t id) const {
  for (const auto& s : signed_)
    if (s.pub.id == id) return &s.secret;
  return nullptr;
}

const X25519SecretKey* Prekeys::one_time_secret(std::uint32_t id) const {
  for (const auto& k : one_time_)
    if (k.pub.id == id) return &k.secret;
  return nullptr;
}

std::optional<X25519SecretKey> Prekeys::take_one_time(std::uint32_t id, std::uint64_t now_ms) {
  for (auto& k : one_time_) {
    if (k.pub.id != id || k.used_ms != 0) continue;
    k.used_ms = std::max<std::uint64_t>(now_ms, 1);
    return X25519SecretKey::from(k.secret.view());
  }
  return std::nullopt;
}

// version (1) || account (32) || next ID (4) || n (2) || n × (ID (4) || public (32) ||
// created_ms (8) || signature (64) || secret (32)) || m (2) || m × (ID (4) || public (32) ||
// secret (32)).
std::vector<std::uint8_t> Prekeys::encode() const {
  WireWriter w(64 + signed_.size() * 140 + one_time_.size() * 68);
  w.u8(state_version).fixed(identity_->account()).u32(next_id_).u16(static_cast<std::uint16_t>(signed_.size()));
  for (const auto& s : signed_)
    w.u32(s.pub.id).fixed(s.pub.key).u64(s.pub.created_ms).fixed(s.pub.signature).raw(s.secret.view());
  w.u16(static_cast<std::uint16_t>(one_time_.size()));
  for (const auto& k : one_time_) w.u32(k.pub.id).fixed(k.pub.key).raw(k.secret.view()).u64(k.used_ms);
  return w.take();
}

Result<void, std::string> Prekeys::decode(Bytes bytes) {
  WireReader r(bytes);
  const auto bad = [](const char* why) { return fail(std::string("prekey state: ") + why); };
  auto version = r.u8();
  if (!version || (*version != state_version && *version != 1)) return bad("unknown version");
  auto account = r.fixed<Ed25519PublicKey>();
  if (!account || !(*account == identity_->account())) return bad("another account's");
  auto next = r.u32();
  auto n = r.u16();
  if (!next || !n || *n > max_signed) return bad("truncated or too many signed prekeys");
  std::vector<Signed> signed_keys;
  for (std::uint16_t i = 0; i < *n; ++i) {
    auto id = r.u32();
    auto pub = r.fixed<X25519PublicKey>();
    auto created = r.u64();
    auto sig = r.fixed<Ed25519Signature>();
    auto sec = r.raw(32);
    if (!id || !pub || !created || !sig || !sec) return bad("truncated");
    signed_keys.push_back(Signed{SignedPrekey{*id, *pub, *created, *sig}, X25519SecretKey::from(sec->first<32>())});
  }
  auto m = r.u16();
  if (!m || *m > 4 * one_time_target) return bad("truncated or too many one-time prekeys");
  std::vector<OneTime> one_time;
  for (std::uint16_t i = 0; i < *m; ++i) {
    auto id = r.u32();
    auto pub = r.fixed<X25519PublicKey>();
    auto sec = r.raw(32);
    std::uint64_t used = 0;
    if (*version >= 2) {
      auto u = r.u64();
      if (!u) return bad("truncated");
      used = *u;
    }
    if (!id || !pub || !sec) return bad("truncated");
    one_time.push_back(OneTime{OneTimePrekey{*id, *pub}, X25519SecretKey::from(sec->first<32>()), used});
  }
  if (!r.finish()) return bad("trailing bytes");
  signed_ = std::move(signed_keys);
  one_time_ = std::move(one_time);
  next_id_ = *next;
  return {};
}

std::vector<std::uint8_t> Prekeys::ad() const {
  const auto& a = identity_->account();
  std::vector<std::uint8_t> out(ad_label.size() + a.size());
  std::memcpy(out.data(), ad_label.data(), ad_label.size());
  std::memcpy(out.data() + ad_label.size(), a.data(), a.size());
  return out;
}

Result<void, std::string> Prekeys::save(const std::filesystem::path& file) const {
  auto plain = encode();
  const auto sealed = ProfileSealer(*identity_).seal(plain, ad());
  sodium_memzero(plain.data(), plain.size());
  return replace_private_file(file, sealed);
}

Result<void, std::string> Prekeys::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {};
  auto bytes = read_private_file(file);
  if (!bytes) return fail(bytes.error());
  auto plain = ProfileSealer(*identity_).open(*bytes, ad());
  if (!plain) return fail(file.string() + ": " + plain.error());
  auto r = decode(*plain);
  sodium_memzero(plain->data(), plain->size());
  if (!r) return fail(file.string() + ": " + r.error());
  return {};
}

}  // namespace nightjar::client
