// A RocksDB Env for the simnet's in-process message stores: the default file
// system without fsyncs, preallocation or open directory handles. Hundreds of
// stores in one process otherwise cost ten file descriptors each (six of them
// directory handles kept for fsyncs) and tens of fsyncs per store created,
// all on the one event loop. Nothing is lost by it: an in-process "killed"
// node closes its store in a process that keeps running, so what it wrote is
// in the page cache when the node restarts. Never for a real node.
#pragma once

#include <memory>

namespace rocksdb {
class Env;
}

namespace nightjar::simnet {

// One Env for every store of the process (it shares Env::Default()'s
// background threads).
std::shared_ptr<rocksdb::Env> light_store_env();

}  // namespace nightjar::simnet
