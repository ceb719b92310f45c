#include "routing/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace nightjar {
namespace {

constexpr std::string_view x25519_header = "nightjar x25519 secret v1\n";
constexpr std::string_view ed25519_header = "nightjar ed25519 seed v1\n";
constexpr std::size_t max_key_file = 256;

std::string errno_text(const std::string& what, const std::filesystem::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

// Opens a private file for reading, checking its type and permissions first.
Result<int, std::string> open_private(const std::filesystem::path& path, std::size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail(errno_text("cannot open key file", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return fail(errno_text("cannot stat key file", path));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("key file " + path.string() + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return fail("key file " + path.string() + " is readable or writable by group or others (mode " +
                mode + "); refusing to use it. Run: chmod 600 " + path.string());
  }
  if (st.st_size > static_cast<off_t>(max_size)) {
    ::close(fd);
    return fail("key file " + path.string() + " is too large to be a Nightjar key");
  }
  return fd;
}

// Reads a small private key file into a wiped buffer.
Result<Secret<max_key_file, SymmetricTag>, std::string> read_key_bytes(
    const std::filesystem::path& path, std::size_t& size) {
  auto opened = open_private(path, max_key_file);
  if (!opened) return opened.failure();
  const int fd = *opened;
  Secret<max_key_file, SymmetricTag> buf;
  size = 0;
  while (size < max_key_file) {
    ssize_t n = ::read(fd, buf.data() + size, max_key_file - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return fail(errno_text("cannot read key file", path));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return buf;
}

auto load_or_create(const std::filesystem::path& path, std::string_view header)
    -> Result<std::pair<Secret<32, SymmetricTag>, bool>, std::string> {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    Secret<32, SymmetricTag> secret = crypto::random_secret<Secret<32, SymmetricTag>>();
    std::vector<std::uint8_t> content(header.begin(), header.end());
    content.insert(content.end(), secret.data(), secret.data() + 32);
    auto w = write_private_file(path, content);
    sodium_memzero(content.data(), content.size());
    if (!w) return w.failure();
    return std::pair{std::move(secret), true};
  }
  std::size_t size = 0;
  auto buf = read_key_bytes(path, size);
  if (!buf) return buf.failure();
  auto parsed = parse_key_file({buf->data(), size}, header);
  if (!parsed) return fail(path.string() + ": " + parsed.error());
  return std::pair{std::move(*parsed), false};
}

}  // namespace

Result<Secret<32, SymmetricTag>, std::string> parse_key_file(Bytes content,
                                                             std::string_view header) {
  if (content.size() < header.size() ||
      std::memcmp(content.data(), header.data(), header.size()) != 0)
    return fail("not a key file of the expected kind (expected a first line '" +
                std::string(header.substr(0, header.size() - 1)) + "')");
  if (content.size() != header.size() + 32)
    return fail(std::string("key file has the wrong length (truncated or corrupt)"));
  return Secret<32, SymmetricTag>::from(content.subspan(header.size()).first<32>());
}

static Result<void, std::string> write_file(const std::filesystem::path& path, Bytes content,
                                            bool replace, bool sync = true) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  const std::filesystem::path tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());  // a leftover from a crash mid-write
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errno_text("cannot create key file", tmp));
  ::fchmod(fd, 0600);  // independent of the umask
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = errno_text("cannot write key file", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(err);
    }
    done += static_cast<std::size_t>(n);
  }
  if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0) {
    auto err = errno_text("cannot sync key file", tmp);
    ::unlink(tmp.c_str());
    return fail(err);
  }
  // link() fails if the target exists, so two processes cannot both create it;
  // rename() replaces it atomically.
  if (replace ? ::rename(tmp.c_str(), path.c_str()) != 0 : ::link(tmp.c_str(), path.c_str()) != 0) {
    auto err = errno_text("cannot create key file", path);
    ::unlink(tmp.c_str());
    return fail(err);
  }
  if (!replace) ::unlink(tmp.c_str());
  if (!sync) return {};
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<void, std::string> write_private_file(const std::filesystem::path& path, Bytes content) {
  return write_file(path, content, false);
}

Result<void, std::string> replace_private_file(const std::filesystem::path& path, Bytes content) {
  return write_file(path, content, true);
}

Result<void, std::string> replace_cache_file(const std::filesystem::path& path, Bytes content) {
  return write_file(path, content, true, false);
}

Result<std::vector<std::uint8_t>, std::string> read_private_file(const std::filesystem::path& path,
                                                                 std::size_t max_size) {
  auto opened = open_private(path, max_size);
  if (!opened) return opened.failure();
  const int fd = *opened;
  std::vector<std::uint8_t> out;
  std::uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return fail(errno_text("cannot read", path));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
    if (out.size() > max_size) break;
  }
  ::close(fd);
  sodium_memzero(buf, sizeof buf);
  return out;
}

Result<LoadedX25519, std::string> load_or_create_x25519_key(const std::filesystem::path& path) {
  auto r = load_or_create(path, x25519_header);
  if (!r) return r.failure();
  LoadedX25519 out;
  out.keys.sec = X25519SecretKey::from(r->first.view());
  out.keys.pub = crypto::x25519_public(out.keys.sec);
  out.created = r->second;
  return out;
}

Result<LoadedEd25519, std::string> load_or_create_ed25519_key(const std::filesystem::path& path) {
  auto r = load_or_create(path, ed25519_header);
  if (!r) return r.failure();
  LoadedEd25519 out;
  out.keys = crypto::ed25519_from_seed(Ed25519Seed::from(r->first.view()));
  out.created = r->second;
  return out;
}

}  // namespace nightjar
