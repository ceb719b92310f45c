#include "client/group_messages.hpp"

#include <sodium.h>

#include <algorithm>
#include <string_view>

#include "client/ratchet.hpp"

namespace nightjar::client::group {
namespace {

constexpr std::string_view genesis_label = "nightjar group genesis v1";
constexpr std::string_view commit_label = "nightjar group commit v1";
constexpr std::string_view epoch_label = "nightjar group epoch v1";
constexpr std::string_view message_label = "nightjar group message v1";
constexpr char kdf_context[9] = "njgroup1";

std::vector<std::uint8_t> labelled(std::string_view label, Bytes rest) {
  std::vector<std::uint8_t> out(label.begin(), label.end());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

bool valid_role(std::uint8_t r) {
  return r == static_cast<std::uint8_t>(Role::member) || r == static_cast<std::uint8_t>(Role::admin);
}

void write_genesis_body(WireWriter& w, const Genesis& g) {
  w.u8(format_version).fixed(g.group).fixed(g.creator).u64(g.created_ms).var8(Bytes(
      reinterpret_cast<const std::uint8_t*>(g.name.data()), g.name.size()));
}

void write_commit_body(WireWriter& w, const Commit& c) {
  w.u8(format_version)
      .fixed(c.group)
      .u64(c.parent_epoch)
      .fixed(c.parent_hash)
      .fixed(c.committer)
      .u64(c.timestamp_ms)
      .u8(static_cast<std::uint8_t>(c.changes.size()));
  for (const Change& ch : c.changes) {
    w.u8(static_cast<std::uint8_t>(ch.type));
    switch (ch.type) {
      case ChangeType::add: w.fixed(ch.account).u8(static_cast<std::uint8_t>(ch.role)); break;
      case ChangeType::remove:
      case ChangeType::promote: w.fixed(ch.account); break;
      case ChangeType::rename:
        w.var8(Bytes(reinterpret_cast<const std::uint8_t*>(ch.name.data()), ch.name.size()));
        break;
    }
  }
}

// What a genesis or commit signature covers: the label, then the encoding
// without the signature.
template <class T>
std::vector<std::uint8_t> signed_bytes(std::string_view label, const T& v,
                                       void (*write_body)(WireWriter&, const T&)) {
  WireWriter w;
  write_body(w, v);
  return labelled(label, w.bytes());
}

Bytes text_bytes(const std::string& s) {
  return Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Reads a genesis (its whole encoding) from `f`.
void read_genesis(FieldReader& f, Genesis& g) {
  std::uint8_t version = 0;
  f.u8(version).check(version == format_version).fixed(g.group).fixed(g.creator).u64(g.created_ms);
  f.var8(g.name, max_name_bytes).check(valid_name(g.name)).fixed(g.signature);
}

void read_commit(FieldReader& f, Commit& c) {
  std::uint8_t version = 0, count = 0;
  f.u8(version).check(version == format_version).fixed(c.group).u64(c.parent_epoch);
  f.fixed(c.parent_hash).fixed(c.committer).u64(c.timestamp_ms);
  f.u8(count).check(count >= 1 && count <= max_changes);
  for (std::size_t i = 0; i < count && f.ok(); ++i) {
    Change ch;
    std::uint8_t type = 0;
    f.u8(type);
    switch (type) {
      case 1: {
        std::uint8_t role = 0;
        f.fixed(ch.account).u8(role).check(valid_role(role));
        ch.type = ChangeType::add;
        ch.role = static_cast<Role>(role);
        break;
      }
      case 2: f.fixed(ch.account); ch.type = ChangeType::remove; break;
      case 3:
        f.var8(ch.name, max_name_bytes).check(valid_name(ch.name));
        ch.type = ChangeType::rename;
        break;
      case 4: f.fixed(ch.account); ch.type = ChangeType::promote; break;
      default: f.reject(); break;
    }
    c.changes.push_back(std::move(ch));
  }
  f.fixed(c.signature);
}

}  // namespace

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > max_name_bytes) return false;
  return std::none_of(name.begin(), name.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

const char* to_string(Role r) { return r == Role::admin ? "admin" : "member"; }

std::vector<std::uint8_t> encode(const Genesis& g) {
  WireWriter w;
  write_genesis_body(w, g);
  w.fixed(g.signature);
  return w.take();
}

Result<Genesis, WireError> decode_genesis(Bytes bytes) {
  Genesis g;
  FieldReader f(bytes);
  read_genesis(f, g);
  return f.finish(std::move(g));
}

void sign(Genesis& g, const Ed25519SecretKey& group_secret) {
  g.signature = crypto::sign(group_secret, signed_bytes(genesis_label, g, write_genesis_body));
}

bool verify(const Genesis& g) {
  return crypto::verify(g.group, signed_bytes(genesis_label, g, write_genesis_body), g.signature);
}

std::vector<std::uint8_t> encode(const Commit& c) {
  WireWriter w;
  write_commit_body(w, c);
  w.fixed(c.signature);
  return w.take();
}

Result<Commit, WireError> decode_commit(Bytes bytes) {
  Commit c;
  FieldReader f(bytes);
  read_commit(f, c);
  return f.finish(std::move(c));
}

void sign(Commit& c, const Ed25519SecretKey& committer_secret) {
  c.signature = crypto::sign(committer_secret, signed_bytes(commit_label, c, write_commit_body));
}

bool verify(const Commit& c) {
  return crypto::verify(c.committer, signed_bytes(commit_label, c, write_commit_body), c.signature);
}

Hash256 commit_hash(const Commit& c) { return crypto::blake2b_256(encode(c)); }

Hash256 genesis_epoch_hash(const Genesis& g) {
  const Hash256 h = crypto::blake2b_256(encode(g));
  std::vector<std::uint8_t> in = labelled(epoch_label, Hash256{}.view());
  in.insert(in.end(), h.view().begin(), h.view().end());
  return crypto::blake2b_256(in);
}

Hash256 next_epoch_hash(const Hash256& parent, const Hash256& commit) {
  std::vector<std::uint8_t> in = labelled(epoch_label, parent);
  in.insert(in.end(), commit.view().begin(), commit.view().end());
  return crypto::blake2b_256(in);
}

// --- Controls.

const GroupKey& group_of(const Control& c) {
  return std::visit(
      [](const auto& v) -> const GroupKey& {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Welcome>) return v.genesis.group;
        else if constexpr (std::is_same_v<T, CommitControl>) return v.commit.group;
        else return v.group;
      },
      c);
}

std::vector<std::uint8_t> encode_control(const Control& c) {
  WireWriter w;
  if (const auto* wc = std::get_if<Welcome>(&c)) {
    w.u8(static_cast<std::uint8_t>(ControlType::welcome)).var16(encode(wc->genesis));
    w.u64(wc->epoch).fixed(wc->epoch_hash).fixed(wc->commit_hash).raw(wc->epoch_secret.view());
    w.var8(text_bytes(wc->name)).u16(static_cast<std::uint16_t>(wc->members.size()));
    for (const Member& m : wc->members)
      w.fixed(m.account).u8(static_cast<std::uint8_t>(m.role));
  } else if (const auto* cc = std::get_if<CommitControl>(&c)) {
    w.u8(static_cast<std::uint8_t>(ControlType::commit)).var16(encode(cc->commit));
    w.u8(cc->epoch_secret ? 1 : 0);
    if (cc->epoch_secret) w.raw(cc->epoch_secret->view());
  } else if (const auto* sk = std::get_if<SenderKeyControl>(&c)) {
    w.u8(static_cast<std::uint8_t>(ControlType::sender_key)).fixed(sk->group);
    w.u32(sk->generation).u32(sk->index).raw(sk->chain_key.view()).fixed(sk->signing_key);
  } else {
    const auto& l = std::get<LeaveControl>(c);
    w.u8(static_cast<std::uint8_t>(ControlType::leave)).fixed(l.group).u64(l.epoch);
  }
  return w.take();
}

namespace {

void read_secret(FieldReader& f, SymmetricKey& out) {
  Hash256 raw;  // 32 bytes, read as a fixed field, then moved into the secret
  f.fixed(raw);
  out = SymmetricKey::from(raw.view());
  sodium_memzero(raw.data(), raw.size());
}

}  // namespace

Result<Control, WireError> decode_control(Bytes bytes) {
  FieldReader f(bytes);
  std::uint8_t type = 0;
  f.u8(type);
  if (!f.ok()) return f.finish(Control{LeaveControl{}});
  switch (static_cast<ControlType>(type)) {
    case ControlType::welcome: {
      Welcome wc;
      std::vector<std::uint8_t> genesis;
      f.var16(genesis, 1024);
      if (f.ok()) {
        auto g = decode_genesis(genesis);
        f.check(g.ok());
        if (g) wc.genesis = std::move(*g);
      }
      f.u64(wc.epoch).fixed(wc.epoch_hash).fixed(wc.commit_hash);
      read_secret(f, wc.epoch_secret);
      f.var8(wc.name, max_name_bytes).check(valid_name(wc.name));
      std::uint16_t count = 0;
      f.u16(count).check(count >= 1 && count <= max_members);
      for (std::size_t i = 0; i < count && f.ok(); ++i) {
        Member m;
        std::uint8_t role = 0;
        f.fixed(m.account).u8(role).check(valid_role(role));
        m.role = static_cast<Role>(role);
        // Sorted and unique: one encoding per member set.
        f.check(wc.members.empty() || wc.members.back().account < m.account);
        wc.members.push_back(m);
      }
      return f.finish(Control{std::move(wc)});
    }
    case ControlType::commit: {
      CommitControl cc;
      std::vector<std::uint8_t> commit;
      f.var16(commit, 8192);
      if (f.ok()) {
        auto c = decode_commit(commit);
        f.check(c.ok());
        if (c) cc.commit = std::move(*c);
      }
      bool has_secret = false;
      f.flag(has_secret);
      if (has_secret) {
        SymmetricKey s;
        read_secret(f, s);
        cc.epoch_secret = std::move(s);
      }
      return f.finish(Control{std::move(cc)});
    }
    case ControlType::sender_key: {
      SenderKeyControl sk;
      f.fixed(sk.group).u32(sk.generation).u32(sk.index);
      read_secret(f, sk.chain_key);
      f.fixed(sk.signing_key);
      return f.finish(Control{std::move(sk)});
    }
    case ControlType::leave: {
      LeaveControl l;
      f.fixed(l.group).u64(l.epoch);
      return f.finish(Control{l});
    }
  }
  f.reject();
  return f.finish(Control{LeaveControl{}});
}

std::vector<std::uint8_t> encode_controls(const std::vector<Control>& controls) {
  WireWriter w;
  w.u8(static_cast<std::uint8_t>(controls.size()));
  for (const Control& c : controls)
    w.var16(encode_control(c));
  return w.take();
}

Result<std::vector<Control>, WireError> decode_controls(Bytes bytes) {
  WireReader r(bytes);
  auto count = r.u8();
  if (!count) return count.failure();
  if (*count < 1 || *count > max_controls) return fail(WireError::bad_value);
  std::vector<Control> out;
  for (std::size_t i = 0; i < *count; ++i) {
    auto item = r.var16();
    if (!item) return item.failure();
    auto c = decode_control(*item);
    if (!c) return c.failure();
    out.push_back(std::move(*c));
  }
  if (auto end = r.finish(); !end) return end.failure();
  return out;
}

// --- Keys.

EpochKeys derive_epoch_keys(const SymmetricKey& epoch_secret) {
  const SymmetricKey seed = crypto::kdf_derive(epoch_secret, 1, kdf_context);
  EpochKeys k{crypto::ed25519_from_seed(Ed25519Seed::from(seed.view())),
              crypto::kdf_derive(epoch_secret, 2, kdf_context)};
  return k;
}

SymmetricKey chain_step(SymmetricKey& chain) { return ratchet::kdf_chain(chain); }

// --- Envelope.

std::size_t capacity(std::uint32_t max_body_bytes) {
  const std::size_t largest = v2::buckets(max_body_bytes)[2];
  return largest > envelope_overhead ? largest - envelope_overhead : 0;
}

Result<std::size_t, SealError> bucket_for(std::size_t body_bytes, std::uint32_t max_body_bytes,
                                          bool fragment) {
  const auto sizes = v2::buckets(max_body_bytes);
  if (sizes[2] <= envelope_overhead) return fail(SealError::body_limit_too_small);
  if (fragment) {
    if (body_bytes + envelope_overhead > sizes[2]) return fail(SealError::body_too_large);
    return sizes[2];
  }
  for (std::size_t s : sizes)
    if (body_bytes + envelope_overhead <= s) return s;
  return fail(SealError::body_too_large);
}

std::vector<std::uint8_t> encode_inner(const Inner& i) {
  WireWriter w(i.ciphertext.size() + 104);
  w.fixed(i.sender).u32(i.generation).u32(i.index).raw(i.ciphertext).fixed(i.signature);
  return w.take();
}

Result<Inner, WireError> decode_inner(Bytes bytes) {
  constexpr std::size_t fixed = 32 + 4 + 4 + 64;
  if (bytes.size() < fixed + crypto::aead_tag_bytes + v2::content_fixed_bytes)
    return fail(WireError::truncated);
  Inner i;
  WireReader r(bytes);
  i.sender = *r.fixed<AccountKey>();
  i.generation = *r.u32();
  i.index = *r.u32();
  const Bytes ct = *r.raw(bytes.size() - fixed);
  i.ciphertext.assign(ct.begin(), ct.end());
  i.signature = *r.fixed<Ed25519Signature>();
  return i;
}

std::vector<std::uint8_t> inner_signed_bytes(const GroupKey& group, const Ed25519PublicKey& mailbox,
                                             const Inner& i) {
  WireWriter w(message_label.size() + 104 + i.ciphertext.size());
  w.raw(Bytes(reinterpret_cast<const std::uint8_t*>(message_label.data()), message_label.size()));
  w.fixed(group).fixed(mailbox).fixed(i.sender).u32(i.generation).u32(i.index).raw(i.ciphertext);
  return w.take();
}

std::vector<std::uint8_t> content_ad(const GroupKey& group, const Ed25519PublicKey& mailbox,
                                     const AccountKey& sender, std::uint32_t generation,
                                     std::uint32_t index) {
  WireWriter w(104);
  w.fixed(group).fixed(mailbox).fixed(sender).u32(generation).u32(index);
  return w.take();
}

std::vector<std::uint8_t> seal_outer(const EpochKeys& keys, Bytes inner, RandomSource& rng) {
  AeadNonce nonce;
  rng.fill(nonce.mutable_view());
  WireWriter ad(33);
  ad.u8(envelope_version).fixed(keys.mailbox.pub);
  WireWriter w(1 + 24 + inner.size() + crypto::aead_tag_bytes);
  w.u8(envelope_version).fixed(nonce);
  w.raw(crypto::aead_encrypt(keys.envelope, nonce, ad.bytes(), inner));
  return w.take();
}

Result<std::vector<std::uint8_t>, OpenError> open_outer(const EpochKeys& keys, Bytes envelope) {
  if (envelope.size() < envelope_overhead || envelope.size() > max_envelope_bytes)
    return fail(OpenError::malformed);
  if (envelope[0] != envelope_version) return fail(OpenError::bad_version);
  const AeadNonce nonce = AeadNonce::from(envelope.subspan(1).first<24>());
  WireWriter ad(33);
  ad.u8(envelope_version).fixed(keys.mailbox.pub);
  auto inner = crypto::aead_decrypt(keys.envelope, nonce, ad.bytes(), envelope.subspan(25));
  if (!inner) return fail(OpenError::decryption_failed);
  return std::move(*inner);
}

}  // namespace nightjar::client::group
