// directory_log: the directory across a pool (docs/POOL.md "Directory across the pool").
// etcd is the log of every shared write (storage/shared_writes.h: the directory,
// identities and configuration families); every node applies the log in etcd's revision
// order to its own store and memory.
//
//   write_shared(batch) on node A          every node (A included), its applying thread
//   ─────────────────────────────          ───────────────────────────────────────────
//   record = encode_shared_batch(batch)
//   put /<pool>/dir/<node>-<start>-<n>  →  range /<pool>/dir/ created after `applied`,
//     (revision R; nothing is written        oldest first (poll every 100 ms, or at once
//      locally yet)                           when a local write is waiting)
//   wake the applying thread               for each record: decode + Put(applied = its
//   wait until applied >= R  ←──────────     revision) in ONE synced write (writer::write)
//   return ok (the caller then updates     then tell memory: the room name index is
//   its own memory as standalone does)     forgotten, the identity registry reloads, the
//                                          directory actor gets (dirsync) and tells live rooms
//
// A put that fails (etcd down or unreachable within its 1 s timeout) writes nothing
// anywhere: the caller gets io_error (the admin API answers 503). A record that reached
// etcd but is not applied here within apply_timeout answers io_error saying so; it is
// applied later in order, like on every other node. A node that was down applies what it
// missed: catch_up() at start, before the store is read into memory.
//
// Records are never deleted (the directory is small and rarely written; a compaction that
// folds old records into a snapshot is not done yet). A record that does not decode is
// skipped with an error log (a record of a newer build): the revision still counts as
// applied, so the log never stalls.
//
// Threads: append() from any thread (HTTP handler threads, the detached directory actor,
// start-up); one applying thread of its own, started by start() and joined by stop() or
// the destructor. Ownership: owns the etcd client; borrows the store, which must outlive
// it; uninstalls itself from the store's writer before it goes.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "status/status.h"
#include "storage/shared_writes.h"

namespace pchat::pool {
class etcd_client;
}
namespace pchat::storage {
class database;
}

namespace pchat::actors {

class identity_registry;

struct directory_log_options {
  std::string pool_name = "pchat";  // records go under /<pool_name>/dir/
  std::string node_name;            // part of each record's key (unique per writer)
  // How often the applying thread looks for other nodes' records; a change made on
  // another node is in force here within about this (plus one etcd read and one fsync).
  std::chrono::milliseconds poll{100};
  // How long append() waits for its own record to be applied here after etcd took it.
  std::chrono::milliseconds apply_timeout{5000};
  // Records read per etcd call while catching up.
  int64_t page = 100;
};

class directory_log final : public storage::shared_write_log {
 public:
  // REQUIRES: etcd non-null; store open. Reads the applied revision from the store.
  directory_log(std::unique_ptr<pool::etcd_client> etcd, storage::database& store,
                directory_log_options options);
  ~directory_log() override;  // stop(), and uninstalls itself from the writer
  directory_log(const directory_log&) = delete;
  directory_log& operator=(const directory_log&) = delete;

  // Applies every record in etcd not applied yet, on the calling thread (start-up, before
  // the store is read into memory). io_error if etcd cannot be read by `deadline`.
  pchat::status catch_up(std::chrono::milliseconds deadline);
  // Installs this log as the store writer's shared log and starts the applying thread.
  void start();
  // Whom to tell after applying: the identity registry (reloaded from the store) and the
  // directory actor (sent dirsync). Either may be null/invalid. Call detach() before the
  // actor system goes.
  void attach(std::shared_ptr<identity_registry> identities, caf::actor directory);
  // Called on the applying thread after it applied records that changed the configuration
  // family (chat and compliance settings, made through any node): pchatd puts them in force
  // here (app/effective_config), so they hold on every node within a poll. May be empty;
  // detach() clears it. It must not write the shared families (it would wait for itself).
  void on_config_change(std::function<void()> fn);
  void detach();
  // Joins the applying thread and uninstalls the shared log (writes are local again).
  void stop();

  // storage::shared_write_log
  pchat::status append(const rocksdb::WriteBatch& b) override;

  // The etcd revision of the last record applied to this node's store.
  int64_t applied() const { return applied_.load(std::memory_order_acquire); }

 private:
  // Applies what etcd has after applied(); ok when it read to the end.
  pchat::status apply_available();
  void run();  // the applying thread
  void tell_memory(bool config_changed);
  // True if record `b` writes user preferences only (nothing memory holds).
  bool only_preferences(const rocksdb::WriteBatch& b) const;

  std::unique_ptr<pool::etcd_client> etcd_;
  storage::database& store_;
  directory_log_options options_;
  std::string prefix_;    // /<pool>/dir/
  std::string key_base_;  // <node>-<start micros>-
  std::atomic<uint64_t> next_record_{0};

  std::mutex apply_mu_;  // one applier at a time (catch_up, the thread)
  std::atomic<int64_t> applied_{0};
  int64_t read_through_ = 0;  // GUARDED_BY(apply_mu_): etcd's revision at the last full read

  std::mutex mu_;
  std::condition_variable wake_;     // the applying thread: a local write is waiting
  std::condition_variable applied_cv_;  // append(): applied_ moved
  bool stopping_ = false;            // GUARDED_BY(mu_)
  bool wanted_ = false;              // GUARDED_BY(mu_): apply at once
  std::thread thread_;

  std::mutex notify_mu_;
  std::shared_ptr<identity_registry> identities_;  // GUARDED_BY(notify_mu_)
  caf::actor directory_;                           // GUARDED_BY(notify_mu_)
  std::function<void()> config_changed_;           // GUARDED_BY(notify_mu_)
};

}  // namespace pchat::actors
