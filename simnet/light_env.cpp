#include "simnet/light_env.hpp"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace nightjar::simnet {

namespace {

using rocksdb::FileOptions;
using rocksdb::FSDirectory;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

class UnsyncedFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  explicit UnsyncedFile(std::unique_ptr<FSWritableFile>&& f)
      : FSWritableFileOwnerWrapper(std::move(f)) {}
  IOStatus Sync(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus RangeSync(std::uint64_t, std::uint64_t, const IOOptions&, IODebugContext*) override {
    return IOStatus::OK();
  }
  IOStatus Allocate(std::uint64_t, std::uint64_t, const IOOptions&, IODebugContext*) override {
    return IOStatus::OK();
  }
  void SetPreallocationBlockSize(std::size_t) override {}
};

// No handle: fsyncing a directory is all RocksDB keeps one for.
class NoDirectory final : public FSDirectory {
 public:
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
};

class LightFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  LightFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "NightjarSimnetFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const FileOptions& o,
                           std::unique_ptr<FSWritableFile>* r, IODebugContext* d) override {
    return wrap(target()->NewWritableFile(f, o, r, d), r);
  }
  IOStatus ReopenWritableFile(const std::string& f, const FileOptions& o,
                              std::unique_ptr<FSWritableFile>* r, IODebugContext* d) override {
    return wrap(target()->ReopenWritableFile(f, o, r, d), r);
  }
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const FileOptions& o,
                             std::unique_ptr<FSWritableFile>* r, IODebugContext* d) override {
    return wrap(target()->ReuseWritableFile(f, old, o, r, d), r);
  }
  IOStatus NewDirectory(const std::string&, const IOOptions&, std::unique_ptr<FSDirectory>* r,
                        IODebugContext*) override {
    *r = std::make_unique<NoDirectory>();
    return IOStatus::OK();
  }

 private:
  static IOStatus wrap(IOStatus s, std::unique_ptr<FSWritableFile>* r) {
    if (s.ok() && *r) *r = std::make_unique<UnsyncedFile>(std::move(*r));
    return s;
  }
};

}  // namespace

std::shared_ptr<rocksdb::Env> light_store_env() {
  static const std::shared_ptr<rocksdb::Env> env =
      rocksdb::NewCompositeEnv(std::make_shared<LightFileSystem>());
  return env;
}

}  // namespace nightjar::simnet
