// Key files: a node's long-term secrets on disk. Generated on first use,
// written atomically with mode 0600, and refused when group or others can
// read them (as ssh does), so a leaked key is never used silently.
//
// Format: one ASCII line naming the kind, then the 32 raw secret bytes.
//   "nightjar x25519 secret v1\n" + X25519 secret key
//   "nightjar ed25519 seed v1\n"  + Ed25519 seed
// Called at start-up by the node daemon and the link demo; errors are
// messages for the operator.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/result.hpp"

namespace nightjar {

struct LoadedX25519 {
  X25519KeyPair keys;
  bool created = false;
};
struct LoadedEd25519 {
  Ed25519KeyPair keys;
  bool created = false;
};

Result<LoadedX25519, std::string> load_or_create_x25519_key(const std::filesystem::path& path);
Result<LoadedEd25519, std::string> load_or_create_ed25519_key(const std::filesystem::path& path);

// The pieces, exposed for tests.
// Parses a key file's content; `header` is the kind line including '\n'.
Result<Secret<32, SymmetricTag>, std::string> parse_key_file(Bytes content,
                                                             std::string_view header);
// Writes `content` to `path` atomically (temporary file, fsync, rename) with
// mode 0600. Fails if `path` already exists.
Result<void, std::string> write_private_file(const std::filesystem::path& path, Bytes content);
// Like write_private_file, but replaces `path` if it exists (still atomic).
Result<void, std::string> replace_private_file(const std::filesystem::path& path, Bytes content);
// Like replace_private_file (atomic, 0600), without the two fsyncs: for a
// copy that can be had again (a cached directory), whose loss in a crash
// costs a fetch. A reader must check what it reads (a directory's
// signatures do). Two fsyncs per node per epoch were most of a node's idle
// file I/O.
Result<void, std::string> replace_cache_file(const std::filesystem::path& path, Bytes content);
// Reads a file written by the functions above; fails if it is missing, or
// readable by group or others.
Result<std::vector<std::uint8_t>, std::string> read_private_file(const std::filesystem::path& path,
                                                                 std::size_t max_size = 1u << 20);

}  // namespace nightjar
