// The Persistent Chat database: one RocksDB instance with a column family per kind of data,
// its write-failure latch and the thread that resumes writes after a failure. It knows no
// record family: message_log, directory, identities, configuration, compliance_queue,
// file_index and preferences build their keys (keys.h) and values (record_codec.h) and read
// through it; they write through the one writer (writer.h), the only caller of write_synced.
//
//   directory  categories, rooms, users, groups, policies, add-ins, invitations, files
//   messages   room id 0x00 big-endian seq
//   prefs      user 0x00 label
//   config     setting name (chat and compliance settings, the compliance high-water mark)
//   compliance big-endian global event seq (the staging queue)
//
// Write failures (a full disk): a synced write that fails applied nothing, and from then on
// every write is refused (io_error, the first failure's reason) until the database has
// resumed: a background thread retries RocksDB's DB::Resume() (which flushes the memtables
// and starts a new write-ahead log) and then a synced probe write, with backoff
// (db_options), and reopens writes once both succeed. Reads keep working meanwhile. One log
// line (warn) when writes start failing, saying what to do, one (warn) when they resume.
//
// Thread safety: every method may be called from any thread (RocksDB is thread-safe).
// Ownership: owns the RocksDB instance and its handles; outlives every family, writer and
// iterator built over it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>

#include "status/status.h"

namespace pchat::storage {

struct db_options {
  std::string path;  // directory; created (with parents) if missing
  bool create_if_missing = true;
  // After a failed synced write, the first resume attempt waits resume_first_delay; each
  // failed attempt doubles the wait up to resume_max_delay (how soon writes resume after
  // space is freed, against how often a still-full disk is probed).
  std::chrono::milliseconds resume_first_delay{250};
  std::chrono::milliseconds resume_max_delay{5000};
};

// The column families. Their names on disk are in db.cpp (DO NOT CHANGE).
enum class column { directory, messages, prefs, config, compliance };

// RocksDB's status as ours: "<context>: <RocksDB's reason>", with the kind mapped
// (NotFound, Corruption, InvalidArgument/NotSupported, everything else io_error).
status from_rocksdb(const rocksdb::Status& s, std::string_view context);

class writer;

class db {
 public:
  // Opens (creating if allowed) the database at opts.path with all column families.
  // On success *out owns it. On failure returns the reason, *out untouched.
  // With create_if_missing = false and no database at opts.path: not_found, and nothing is
  // created on disk.
  static status open(const db_options& opts, std::unique_ptr<db>* out);
  ~db();
  db(const db&) = delete;
  db& operator=(const db&) = delete;

  rocksdb::DB* raw() const { return db_; }
  rocksdb::ColumnFamilyHandle* cf(column c) const { return cfs_[static_cast<size_t>(c)]; }

  // Point read. not_found(context) if the key is absent; other failures name `context`.
  status get(column c, std::string_view key, std::string* value, std::string_view context) const;

  // ok while writes are accepted; otherwise the failure that stopped them (io_error).
  status check_writable() const;
  // False from a failed synced write until the database has resumed (see above).
  bool writable() const;
  // Times writes have resumed after a failure since open (for status pages and tests).
  uint64_t resume_count() const;
  // Times writes stopped (a failed synced write latched) since open, and synced writes that
  // failed or were refused while stopped (for /metrics).
  uint64_t stop_count() const;
  uint64_t failed_write_count() const;

  // RocksDB's own write stalls (flushes or compactions behind), read from its properties:
  // cumulative stops and slowdowns over every column family, whether writes are stopped
  // now and the delayed write rate in force (bytes/s, 0 when not delayed). For /metrics.
  struct stall_figures {
    uint64_t stops = 0;
    uint64_t slowdowns = 0;
    bool stopped_now = false;
    uint64_t delayed_write_rate = 0;
    uint64_t live_data_bytes = 0;  // SST files' bytes (rocksdb.live-sst-files-size)
  };
  stall_figures stalls() const;

  // An online, consistent copy of the whole database in `dir` (rocksdb::Checkpoint): SST
  // files hard-linked when `dir` is on the same filesystem, copied otherwise; the live
  // write-ahead log copied up to the checkpoint's sequence, so every write synced before
  // the call is in it. Writes go on meanwhile (no flush is forced). *sequence (if not null)
  // receives the last sequence number the copy holds.
  // REQUIRES: `dir` does not exist (its parent does). io_error/invalid_argument name what
  // RocksDB refused (no space: "No space left on device").
  status checkpoint(const std::string& dir, uint64_t* sequence) const;
  // Reads every SST file of every column family and checks its block checksums
  // (a restored copy's last check). corruption names the damaged file.
  status verify_checksums() const;

  // TEST ONLY. With true, the next synced write fails with io_error before reaching RocksDB,
  // so nothing is applied, and stops writes exactly like a real fsync failure (they resume
  // by themselves). With false, cancels an injection not yet consumed.
  void inject_write_failure_for_testing(bool fail_next);
  // TEST ONLY. Flushes every column family's memtable (all of them are empty afterwards).
  status flush_for_testing();

 private:
  friend class writer;
  db() = default;
  // One synced RocksDB write (the writer's group). On failure nothing was applied and
  // writes stop until resumed.
  status write_synced(rocksdb::WriteBatch* b);
  status write_failed(status s);  // the first failure stops writes and starts resuming
  void resume_loop();             // the resume thread's body
  status try_resume();            // one attempt: Resume(), then a synced probe write
  void keep_memtable_filled();

  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* cfs_[5] = {};
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // every open CF, ours and unknown ones
  struct latch;  // the write-failure latch and the resume thread (db.cpp)
  std::unique_ptr<latch> latch_;
};

// An iterator confined to [lo, hi) of one column family. RocksDB keeps pointers to the
// bounds, so they live here, as long as the iterator. Not thread-safe; REQUIRES: the db
// outlives it.
class range_iterator {
 public:
  range_iterator(const db& d, column c, std::string lo, std::string hi);
  range_iterator(const range_iterator&) = delete;
  range_iterator& operator=(const range_iterator&) = delete;
  rocksdb::Iterator* operator->() const { return it_.get(); }
  const rocksdb::Slice& lower() const { return lo_s_; }

 private:
  std::string lo_, hi_;
  rocksdb::Slice lo_s_, hi_s_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

inline std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

}  // namespace pchat::storage
