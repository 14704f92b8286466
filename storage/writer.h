// The one synced writer of the database: every synced write of every record family (the
// commit actor's group commits, directory and identity changes from the directory actor and
// the admin handlers, the compliance runner's deletes, invitations) goes through write(), so
// the write-failure latch (db.h) and group commit hold for all of them.
//
// Group commit: callers that overlap are merged into one synced RocksDB write. Callers
// queue; the first in the queue (the leader) takes its own batch and the batches queued
// behind it (up to a size bound, so a small write does not wait behind a huge group),
// writes them as one synced WriteBatch without holding the queue lock, then hands each
// merged caller the result and wakes the next leader. A caller alone writes its own batch
// as it is (no copy, no thread hop): the post path's batching stays in the commit actor,
// which accumulates posts while its previous commit is in flight.
//
// Atomicity: each caller's batch is applied whole or not at all; a merged group is applied
// whole or not at all, so when a group fails, every caller in it gets the failure and
// nothing of theirs was applied (db.h: writes then stop until resumed).
//
// Thread safety: write() may be called from any number of threads at once; it blocks the
// calling thread until its batch is durable or failed (call it from an I/O thread, the
// commit actor's detached thread or the HTTP handler threads, never from a cooperative
// actor). Ownership: borrows the db, which must outlive it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "status/status.h"
#include "storage/shared_writes.h"

namespace rocksdb {
class WriteBatch;
}

namespace pchat::storage {

class db;

class writer {
 public:
  explicit writer(db& d);
  ~writer();
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  // Writes *b synced, possibly merged with other callers' batches. ok: durable. Otherwise
  // nothing of *b was applied: the failure that stopped writes (io_error).
  // REQUIRES: *b holds only Put, Delete and DeleteRange of this database's column families
  // (what every family writes); a batch with anything else gets invalid_argument when it
  // would be merged, and the batches merged with it are unaffected.
  // *b is left as it was; the caller may Clear() and reuse it afterwards.
  status write(rocksdb::WriteBatch* b);

  // A write every node of a pool makes (the directory, identities and configuration
  // families; shared_writes.h). Without a shared log: write(b), nothing more. With one (a
  // pool node): the log's append(*b), which returns once this node has applied it.
  // Callers must not hold a lock that the log's applying thread takes (it writes through
  // write() and then tells the families their records changed).
  status write_shared(rocksdb::WriteBatch* b) {
    shared_write_log* log = shared_.load(std::memory_order_acquire);
    return log ? log->append(*b) : write(b);
  }
  // Installs the pool's shared log (null: standalone again). REQUIRES: `log` outlives its
  // installation; set at start-up before the first shared write, cleared after the last.
  void set_shared_log(shared_write_log* log) { shared_.store(log, std::memory_order_release); }

  // Synced RocksDB writes made, and caller batches they carried (batches >= writes; the
  // difference is what merging saved). For status pages and tests.
  uint64_t synced_writes() const { return writes_.load(std::memory_order_relaxed); }
  uint64_t batches_written() const { return batches_.load(std::memory_order_relaxed); }

 private:
  struct waiter;
  db& db_;
  std::mutex mu_;
  std::deque<waiter*> queue_;  // GUARDED_BY(mu_); the front is the current leader
  std::atomic<uint64_t> writes_{0}, batches_{0};
  std::atomic<shared_write_log*> shared_{nullptr};
};

}  // namespace pchat::storage
