// GroupStore: the groups an account is in, and the group controls still to
// be delivered, kept in the profile encrypted at rest (ProfileSealer), each
// file replaced atomically.
//
//   <profile>/groups/<name>.group   one per group (Group::encode)
//   <profile>/groups/outbox         controls not yet acknowledged by the
//                                   recipient's swarm
//   <profile>/groups/early          controls received before their group's
//                                   welcome
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/group.hpp"
#include "client/profile_sealer.hpp"

namespace nightjar::client {

// Controls for one member, waiting to be sent (again).
struct OutboxEntry {
  AccountKey to;
  std::vector<std::uint8_t> body;  // group::encode_controls
  std::uint64_t created_ms = 0;
  int attempts = 0;
  // In memory only: the client's handle on it, whether a send is under way,
  // and when to try again.
  std::uint64_t id = 0;
  bool sending = false;
  std::uint64_t next_ms = 0;
  std::optional<std::uint64_t> batch;  // a caller waiting for its outcome
};

class GroupStore {
 public:
  GroupStore(std::filesystem::path dir, const Identity& identity);

  Result<void, std::string> save(const group::Group& g);
  // Every group file that opens; the errors of those that do not.
  std::map<GroupKey, group::Group> load_all(std::vector<std::string>& errors) const;
  Result<void, std::string> remove(const GroupKey& g);

  // The outbox (`to`: the member), and controls that came before the
  // welcome of their group (`to`: who sent them), each in a file of its own.
  Result<void, std::string> save_outbox(const std::vector<OutboxEntry>& entries) {
    return save_entries("outbox", entries);
  }
  Result<std::vector<OutboxEntry>, std::string> load_outbox() const { return load_entries("outbox"); }
  Result<void, std::string> save_early(const std::vector<OutboxEntry>& entries) {
    return save_entries("early", entries);
  }
  Result<std::vector<OutboxEntry>, std::string> load_early() const { return load_entries("early"); }

 private:
  Result<void, std::string> save_entries(const char* file, const std::vector<OutboxEntry>& entries);
  Result<std::vector<OutboxEntry>, std::string> load_entries(const char* file) const;
  std::vector<std::uint8_t> ad(std::string_view what) const;
  std::filesystem::path file_of(const GroupKey& g) const;

  std::filesystem::path dir_;
  const Identity* identity_;
  ProfileSealer sealer_;
};

}  // namespace nightjar::client
