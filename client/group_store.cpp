#include "client/group_store.hpp"

#include <sodium.h>

#include <system_error>

#include "routing/key_file.hpp"
#include "routing/wire.hpp"

namespace nightjar::client {

namespace {
constexpr std::string_view group_label = "nightjar group state v1";
constexpr std::string_view entries_label = "nightjar group entries v1";  // then " outbox" or " early"
constexpr std::size_t max_group_file_bytes = 4u << 20;
constexpr std::size_t max_outbox_bytes = 64u << 20;
}  // namespace

GroupStore::GroupStore(std::filesystem::path dir, const Identity& identity)
    : dir_(std::move(dir)), identity_(&identity), sealer_(identity) {}

std::vector<std::uint8_t> GroupStore::ad(std::string_view what) const {
  std::vector<std::uint8_t> out(what.begin(), what.end());
  const AccountKey& own = identity_->account();
  out.insert(out.end(), own.bytes.begin(), own.bytes.end());
  return out;
}

std::filesystem::path GroupStore::file_of(const GroupKey& g) const {
  return dir_ / (sealer_.name_of(g) + ".group");
}

Result<void, std::string> GroupStore::save(const group::Group& g) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return fail("cannot create " + dir_.string() + ": " + ec.message());
  auto plain = g.encode();
  const auto file = sealer_.seal(plain, ad(group_label));
  sodium_memzero(plain.data(), plain.size());
  return replace_private_file(file_of(g.key()), file);
}

std::map<GroupKey, group::Group> GroupStore::load_all(std::vector<std::string>& errors) const {
  std::map<GroupKey, group::Group> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".group") continue;
    auto bytes = read_private_file(entry.path(), max_group_file_bytes);
    if (!bytes) {
      errors.push_back(bytes.error());
      continue;
    }
    auto plain = sealer_.open(*bytes, ad(group_label));
    if (!plain) {
      errors.push_back(entry.path().string() + ": " + plain.error());
      continue;
    }
    auto g = group::Group::decode(*identity_, *plain);
    sodium_memzero(plain->data(), plain->size());
    if (!g) {
      errors.push_back(entry.path().string() + ": " + g.error());
      continue;
    }
    const GroupKey key = g->key();
    out.insert_or_assign(key, std::move(*g));
  }
  return out;
}

Result<void, std::string> GroupStore::remove(const GroupKey& g) {
  std::error_code ec;
  std::filesystem::remove(file_of(g), ec);
  if (ec) return fail("cannot remove " + file_of(g).string() + ": " + ec.message());
  return {};
}

Result<void, std::string> GroupStore::save_entries(const char* name,
                                                  const std::vector<OutboxEntry>& entries) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return fail("cannot create " + dir_.string() + ": " + ec.message());
  WireWriter w;
  w.u32(static_cast<std::uint32_t>(entries.size()));
  for (const OutboxEntry& e : entries)
    w.fixed(e.to).var32(e.body).u64(e.created_ms).u32(static_cast<std::uint32_t>(e.attempts));
  auto plain = w.take();
  const auto file = sealer_.seal(plain, ad(std::string(entries_label) + " " + name));
  sodium_memzero(plain.data(), plain.size());
  return replace_private_file(dir_ / name, file);
}

Result<std::vector<OutboxEntry>, std::string> GroupStore::load_entries(const char* name) const {
  const auto path = dir_ / name;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::vector<OutboxEntry>{};
  auto bytes = read_private_file(path, max_outbox_bytes);
  if (!bytes) return fail(bytes.error());
  auto plain = sealer_.open(*bytes, ad(std::string(entries_label) + " " + name));
  if (!plain) return fail(path.string() + ": " + plain.error());
  FieldReader f(*plain);
  std::uint32_t n = 0;
  f.u32(n);
  std::vector<OutboxEntry> out;
  for (std::uint32_t i = 0; i < n && f.ok(); ++i) {
    OutboxEntry e;
    std::uint32_t attempts = 0;
    f.fixed(e.to).var32(e.body, 1u << 20).u64(e.created_ms).u32(attempts);
    e.attempts = static_cast<int>(attempts);
    out.push_back(std::move(e));
  }
  auto done = f.finish(std::move(out));
  sodium_memzero(plain->data(), plain->size());
  if (!done) return fail(path.string() + ": does not decode");
  return std::move(*done);
}

}  // namespace nightjar::client
