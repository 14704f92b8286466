// Online backup of a node's data and its restore into a fresh data folder (docs/ADMIN.md
// "Backup and restore").
//
// A backup folder holds:
//   store/          a RocksDB checkpoint of the whole database (db::checkpoint): every write
//                   synced before the backup began, consistent across column families
//   files/ROOM/BLOB the file store's blobs (uploaded files), hard-linked when on the same
//                   filesystem (blobs are immutable once stored), copied otherwise
//   manifest.json   written last (a folder without it is an unfinished backup): format,
//                   pchat version, time, node, what is in it and what is not, and every file
//                   with its size and CRC-32
// Not in it: the search index (rebuilt from the store at the restored node's first start:
// the indexer catches up from its empty index), the admin token (a new one is made at the
// first start), compliance output already delivered (events still staged are in the store)
// and the command-line options.
//
// Consistency with files: the checkpoint is taken first and the blobs listed after it; an
// upload stores its blob before its record, so every file the checkpoint records is on disk
// when it is listed (unless removed meanwhile: a takedown's record is gone from the next
// backup). Blobs uploaded after the checkpoint are left out.
//
// Errors are values naming the folder or file and what to do; a failed or cancelled backup
// removes what it wrote (the folder too if it created it). Blocking: call from a thread
// that may block for the whole copy (actors/backup_actor.h). Thread-safe: no shared state.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "status/status.h"

namespace pchat::storage {

class database;

// Bumped when the folder layout or the manifest changes. DO NOT CHANGE existing values.
inline constexpr int kBackupFormat = 1;
inline constexpr const char* kBackupManifest = "manifest.json";

// Who made the backup (written into the manifest).
struct backup_origin {
  std::string pchat_version;
  std::string host;
  std::string domain;
  std::string data_dir;
};

struct backup_totals {
  int64_t created_micros = 0;
  uint64_t store_sequence = 0;  // the last RocksDB sequence number in the copy
  uint64_t store_files = 0, store_bytes = 0;
  uint64_t blobs = 0, blob_bytes = 0;
  uint64_t linked = 0, copied = 0;  // how the blobs got there
  int64_t took_ms = 0;
};

// Writes a backup of `store` and the file store at `files_root` into `target`.
// `target` must be an absolute path, outside the data folder, and either missing (created,
// with parents) or an empty folder: invalid_argument / already_exists otherwise. Stops at
// the next file when *cancel turns true (io_error "cancelled"). *manifest_json (if not null)
// receives the manifest written. io_error names the folder or file and the call that
// failed ("No space left on device", "Permission denied", "Read-only file system").
// REQUIRES: the database and `cancel` outlive the call.
status write_backup(const database& store, const std::string& files_root, const std::string& target,
                    const backup_origin& origin, const std::atomic<bool>& cancel, backup_totals* totals,
                    std::string* manifest_json);

// Checks a backup folder without changing it: the manifest is there, of a known format, and
// every file it lists has its size and CRC-32. corruption names the first damage; not_found
// when `source` or its manifest is missing.
status verify_backup(const std::string& source, backup_totals* totals);

// Restores the backup at `source` into `data_dir`, which must be missing or an empty folder
// (already_exists otherwise: never written over). Copies every listed file checking its
// size and CRC-32 as it goes, then opens the restored store and verifies its checksums.
// On any failure nothing is left in `data_dir` (created folders are removed).
status restore_backup(const std::string& source, const std::string& data_dir, backup_totals* totals);

}  // namespace pchat::storage
