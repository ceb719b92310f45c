#include "client/profile_sealer.hpp"

#include <cstring>

namespace nightjar::client {

namespace {
constexpr std::uint8_t file_version = 1;
constexpr char kdf_context[9] = "njconv01";
}  // namespace

ProfileSealer::ProfileSealer(const Identity& identity) {
  const auto seed = identity.seed();
  const auto master = SymmetricKey::from(seed.view());
  file_key_ = crypto::kdf_derive(master, 1, kdf_context);
  name_key_ = crypto::kdf_derive(master, 2, kdf_context);
}

std::vector<std::uint8_t> ProfileSealer::seal(Bytes plaintext, Bytes ad) const {
  AeadNonce nonce;
  crypto::random_bytes(nonce.mutable_view());
  std::vector<std::uint8_t> out(1 + nonce.size() + plaintext.size() + 16);
  out[0] = file_version;
  std::memcpy(out.data() + 1, nonce.data(), nonce.size());
  const auto sealed =
      crypto::aead_encrypt(file_key_, nonce, ad, plaintext, MutableBytes(out).subspan(1 + nonce.size()));
  (void)sealed;  // fails only on a wrong output size, which this is not
  return out;
}

Result<std::vector<std::uint8_t>, std::string> ProfileSealer::open(Bytes file, Bytes ad) const {
  if (file.size() < 1 + 24 + 16 || file[0] != file_version)
    return fail(std::string("not a sealed profile file of a known version"));
  const auto nonce = AeadNonce::from(file.subspan(1).first<24>());
  auto plain = crypto::aead_decrypt(file_key_, nonce, ad, file.subspan(25));
  if (!plain) return fail(std::string("does not open (damaged, or another profile's or peer's)"));
  return std::move(*plain);
}

std::string ProfileSealer::name_of(Bytes what) const {
  std::array<std::uint8_t, 16> name{};
  crypto::blake2b(name, what, name_key_.view());
  return to_hex(name);
}

}  // namespace nightjar::client
