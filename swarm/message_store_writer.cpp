// The message store's writer: group commit off the event loop.
//
// Operations stage their changes into the open Pending (on the loop). At the
// end of the loop's turn the open Pending is sealed and handed to a
// BackgroundJob, which writes it (one WriteBatch, one fsync) on libuv's
// thread pool. Whatever is staged while that write is in flight waits in the
// next open Pending and goes as soon as it is done: under load each fsync
// carries everything that arrived during the previous one. When a batch is
// written, the loop applies it (summary, totals, the snapshot its reads use)
// and only then calls the callbacks waiting on it, which send the answers
// and acknowledgements that promise durability.
#include <spdlog/spdlog.h>

#include "swarm/message_store_impl.hpp"

namespace nightjar {

void MessageStore::Impl::start_writer(uv_loop_t* loop) {
  if (job) return;
  // Everything staged so far (nothing, normally) is written first.
  (void)commit_open();
  job = std::make_unique<BackgroundJob>(loop);
  turn_end = std::make_unique<TurnEnd>(loop, [this] { dispatch(); });
  snapshot = db->GetSnapshot();
}

void MessageStore::Impl::writer_wake() {
  if (!job) return;
  if (!job->busy()) turn_end->arm();  // else written() dispatches
}

void MessageStore::Impl::complete(Pending& p, bool ok) {
  auto callbacks = std::move(p.on_durable);
  for (auto& cb : callbacks) cb(ok);
}

void MessageStore::Impl::dispatch() {
  // Operations that failed half staged: their callers hear now.
  while (!poisoned.empty()) {
    std::unique_ptr<Pending> p = std::move(poisoned.back());
    poisoned.pop_back();
    complete(*p, false);
  }
  if (!job || job->busy() || inflight || !open) return;
  std::unique_ptr<Pending> p = std::move(open);
  seal(*p);
  if (p->batch.Count() == 0) {
    // Nothing to write (duplicates, refusals): what it waits on is durable,
    // since no write is in flight.
    complete(*p, true);
    return;
  }
  inflight = std::move(p);
  ++writer_stats.batches;
  writer_stats.operations += inflight->operations;
  writer_stats.largest_batch = std::max<std::uint64_t>(writer_stats.largest_batch, inflight->operations);
  Pending* batch = inflight.get();
  rocksdb::DB* database = db;
  const bool sync = options.sync;
  job->run(
      [database, batch, sync] {
        rocksdb::WriteOptions wo;
        wo.sync = sync;
        batch->status = database->Write(wo, &batch->batch);
      },
      [this] { written(); });
}

void MessageStore::Impl::written() {
  std::unique_ptr<Pending> p = std::move(inflight);
  if (!p) return;
  const bool ok = p->status.ok();
  if (ok) {
    apply(*p);
  } else {
    ++writer_stats.failed_batches;
    log_failure("writing a batch", p->status);
    // What is staged now was checked against this batch's changes, which
    // never happened: it must not be written either.
    if (open) {
      open->failed = true;
      poisoned.push_back(std::move(open));
    }
  }
  complete(*p, ok);
  dispatch();
}

// --- MessageStore --------------------------------------------------------------

void MessageStore::start_writer(uv_loop_t* loop) { impl_->start_writer(loop); }

bool MessageStore::has_writer() const { return impl_->job != nullptr; }

void MessageStore::when_durable(std::function<void(bool ok)> done) {
  if (!impl_->job || (!impl_->open && !impl_->inflight)) {
    done(true);
    return;
  }
  // Everything staged so far is in the open Pending or in flight; the open
  // one is written after the one in flight, so waiting for it covers both.
  impl_->staging().on_durable.push_back(std::move(done));
  impl_->writer_wake();
}

std::size_t MessageStore::writes_in_progress() const {
  return (impl_->open ? impl_->open->operations : 0) +
         (impl_->inflight ? impl_->inflight->operations : 0);
}

const WriterStats& MessageStore::writer_stats() const { return impl_->writer_stats; }

}  // namespace nightjar
