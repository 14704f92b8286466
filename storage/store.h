// The Persistent Chat Store: one RocksDB database with a column family per kind of data.
//
//   directory  categories and rooms               (keys.h: category_key / room_key)
//   messages   room id 0x00 big-endian seq        (keys.h: message_key)
//   prefs      user 0x00 label                    (keys.h: pref_key)
//   config     setting name                       (keys.h: config_key)
//   compliance big-endian global event seq        (keys.h: compliance_key) - the staging
//              queue of compliance events; written by write_batch (with the posts they
//              describe), deleted by delete_compliance once an adapter has delivered them
//
// Every write through this class is synced (WriteOptions::sync = true) unless it goes
// through a write_batch, which is synced once when committed. Reads never block on writes.
//
// Write failures (a full disk): see db.h; every synced write goes through the one writer
// (writer.h), which merges overlapping callers into one synced RocksDB write.
//
// Thread safety: a store may be used from many threads at once (RocksDB is thread-safe);
// callers are expected to serialise writes per room (the room actor owns its sequence).
// Ownership: the store owns the DB; destroy every write_batch before the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/db.h"
#include "storage/records.h"
#include "storage/status.h"
#include "storage/writer.h"

namespace pchat::storage {

// The options of the database (db.h); the store opens one.
using store_options = db_options;

class write_batch;

class store {
 public:
  // Opens (creating if allowed) the database at opts.path with all column families.
  // On success *out owns the store. On failure returns the reason, *out untouched.
  // With create_if_missing = false and no database at opts.path: not_found, and nothing is
  // created on disk.
  static status open(const store_options& opts, std::unique_ptr<store>* out);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // ---- directory (each call is one synced write)
  // put_category/put_room insert or replace by id. invalid_argument: an id that is empty or
  // holds 0x00, an empty name, a name or description over 256 characters (UTF-8 code
  // points). already_exists: another category (resp. room) has the same name, compared
  // case-insensitively (ASCII letters only). Rooms do not have to name an existing category.
  // delete_*: not_found if the id is absent.
  status put_category(const category_record& c);
  status get_category(const std::string& id, category_record* out) const;
  status list_categories(std::vector<category_record>* out) const;
  // invalid_argument "category not empty" while any room's category_id is `id`.
  status delete_category(const std::string& id);
  status put_room(const room_record& r);
  status get_room(const std::string& id, room_record* out) const;
  status list_rooms(std::vector<room_record>* out) const;
  // The id of the room with this name (names are unique, case-insensitively); not_found.
  status find_room_by_name(const std::string& name, std::string* id) const;
  // Deletes the room record and all of its messages.
  status delete_room(const std::string& id);

  // ---- users, groups and policies (directory CF; each call is one synced write).
  // Keys are case-insensitive: user URIs and group names are stored lower-cased.
  status put_user(const user_record& u);   // invalid_argument unless uri is "sip:x@y"
  status get_user(const std::string& uri, user_record* out) const;
  status list_users(std::vector<user_record>* out) const;
  status delete_user(const std::string& uri);
  status put_group(const group_record& g);
  status get_group(const std::string& name, group_record* out) const;
  status list_groups(std::vector<group_record>* out) const;
  status delete_group(const std::string& name);
  // identity: "global", "site:<name>" or "tag:<name>".
  status put_policy(const policy_record& p);
  status get_policy(const std::string& identity, policy_record* out) const;
  status list_policies(std::vector<policy_record>* out) const;
  status delete_policy(const std::string& identity);

  // ---- add-ins: name 1..50 characters, url http(s):// up to 255 (reference §2.6)
  status put_addin(const addin_record& a);
  status get_addin(const std::string& name, addin_record* out) const;
  status list_addins(std::vector<addin_record>* out) const;
  status delete_addin(const std::string& name);

  // ---- uploaded files (metadata; the bytes are in the file store, app/file_store.h)
  // A new file id: unique and increasing (written with write_batch::put_file).
  uint64_t new_file_id();
  // not_found if the room has no such file.
  status get_file(const std::string& room_id, uint64_t id, file_record* out) const;
  // Removes one file's record (synced). Absent is not an error.
  status delete_file(const std::string& room_id, uint64_t id);
  // Bytes of the files `uploader` has in the store, every room (the per-user upload
  // quota). Derived from the file records, so it survives restarts and follows removals;
  // walks every file record (O(files)).
  status uploaded_bytes(const std::string& uploader, uint64_t* out) const;
  // The room's files, oldest first.
  status list_files(const std::string& room_id, std::vector<file_record>* out) const;

  // ---- invitations
  // Stores the invitations in one synced write, assigning each a unique increasing id
  // (microseconds of now, bumped past the last one handed out); fills the ids in.
  status put_invitations(std::vector<invitation_record>* invites);
  // The user's invitations with id > after_id, oldest first, at most `limit`.
  status list_invitations(const std::string& user, uint64_t after_id, size_t limit,
                          std::vector<invitation_record>* out) const;

  // ---- messages
  // Highest sequence stored for the room; 0 if it has no messages.
  status last_sequence(const std::string& room_id, uint64_t* out) const;
  // The newest `n` messages of the room, returned oldest first.
  status read_latest(const std::string& room_id, size_t n, std::vector<message_record>* out) const;
  // Messages with seq >= from_seq, ascending, at most `limit`.
  status read_from(const std::string& room_id, uint64_t from_seq, size_t limit,
                   std::vector<message_record>* out) const;
  // Synced single put (tests, admin tools). Posts go through write_batch.
  // invalid_argument if m.seq is 0 or room_id is empty or holds 0x00.
  status put_message(const std::string& room_id, const message_record& m);

  // ---- per-user preferences (opaque values, e.g. the followed-rooms list)
  // get_pref: not_found if never written. Users must be non-empty and free of 0x00.
  status get_pref(const std::string& user, const std::string& label, std::string* out) const;
  status put_pref(const std::string& user, const std::string& label, const std::string& value);
  // Bytes each of the user's preferences takes (label + value), by label: what the
  // per-user preference quota counts. Walks the user's preferences.
  status pref_sizes(const std::string& user, std::map<std::string, uint64_t>* out) const;

  // ---- configuration: returns defaults for settings never written; corruption if a stored
  // value does not parse or is out of range.
  status get_config(chat_config* out) const;
  // Validates ranges first: invalid_argument names the setting and its range.
  status put_config(const chat_config& c);
  // The same at a scope: identity "global" or "site:<name>" (New-/Set-/Get-/
  // Remove-CsPersistentChatConfiguration). A site scope exists once put; get_config_at on a
  // missing one is not_found (*exists false). The global one cannot be removed.
  status get_config_at(const std::string& identity, chat_config* out, bool* exists) const;
  status put_config_at(const std::string& identity, const chat_config& c);
  status delete_config_at(const std::string& identity);
  static status validate_config(const chat_config& c);

  // ---- compliance staging queue (ascending global event sequence)
  // Highest event sequence ever staged: the newest staged event, or if the queue is empty
  // the last one deleted (delete_compliance keeps a high-water mark). 0 if none ever was.
  // The next event must get a larger sequence: output file names are built from them.
  status last_compliance_sequence(uint64_t* out) const;
  // Last sequence passed to delete_compliance (0 if never).
  status compliance_delivered_through(uint64_t* out) const;
  // Events with seq >= from_seq, ascending: whole stored groups (one per group commit)
  // until there are at least `limit`, so a batch read here ends where a group ends and
  // delete_compliance can remove exactly it.
  status read_compliance(uint64_t from_seq, size_t limit,
                         std::vector<compliance_record>* out) const;
  // Number of staged events (walks the queue: for status pages, not hot paths).
  status count_compliance(uint64_t* out) const;
  // Deletes events first..last inclusive and records `last` as delivered, in one synced
  // write. invalid_argument if first is 0, last < first, or `last` falls inside a stored
  // group (that would delete undelivered events). Deleting absent events is not an error
  // (a re-run after a crash).
  status delete_compliance(uint64_t first, uint64_t last);

  // Compliance settings: defaults for settings never written; corruption if a stored value
  // does not parse. put validates first (invalid_argument names the setting and its range).
  status get_compliance_config(compliance_config* out) const;
  status put_compliance_config(const compliance_config& c);
  static status validate_compliance_config(const compliance_config& c);

  // Group commit: accumulate puts, then commit() writes them in one synced WriteBatch.
  std::unique_ptr<write_batch> new_batch();

  // False from a failed synced write until the store has resumed (see the top of this
  // file): meanwhile every write returns the failure that stopped writes.
  bool writable() const;
  // Times writes have resumed after a failure since open (for status pages and tests).
  uint64_t resume_count() const;

  // TEST ONLY. With true, the next synced write (single write or batch commit) fails with
  // io_error before reaching RocksDB, so nothing is applied, and stops writes exactly like
  // a real fsync failure (they resume by themselves). With false, cancels an injection not
  // yet consumed.
  void inject_write_failure_for_testing(bool fail_next);
  // TEST ONLY. Flushes every column family's memtable (all of them are empty afterwards).
  status flush_for_testing();

  rocksdb::DB* db() const { return base_->raw(); }
  // The database and its one synced writer, for the record families split out of here.
  storage::db& database() const { return *base_; }
  storage::writer& synced_writer() const { return *writer_; }

 private:
  status load_room_names_locked() const;  // the name index, built on first use
  friend class write_batch;
  status put_tagged(char tag, const std::string& name, const std::string& value);
  status get_tagged(char tag, const std::string& name, std::string* value) const;
  // Values (and, if wanted, names) of every directory entry with `tag`, in key order.
  status list_tagged(char tag, std::vector<std::string>* values,
                     std::vector<std::string>* names = nullptr) const;
  // Decodes every entry with `tag`; a record whose id differs from its key is corruption.
  template <class Rec>
  status list_directory(char tag, status (*decode)(std::string_view, Rec*), const char* what,
                        std::vector<Rec>* out) const;
  status delete_tagged(char tag, const std::string& name);
  store() = default;
  status check_writable() const;
  status write_synced(rocksdb::WriteBatch* b);  // through the writer

  std::unique_ptr<storage::db> base_;
  std::unique_ptr<storage::writer> writer_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* directory_ = nullptr;
  rocksdb::ColumnFamilyHandle* messages_ = nullptr;
  rocksdb::ColumnFamilyHandle* prefs_ = nullptr;
  rocksdb::ColumnFamilyHandle* config_ = nullptr;
  rocksdb::ColumnFamilyHandle* compliance_ = nullptr;
  struct impl;  // directory locks (store.cpp)
  std::unique_ptr<impl> impl_;
};

// A set of writes committed atomically with one fsync.
// Not thread-safe: one owner (the commit actor) at a time.
class write_batch {
 public:
  explicit write_batch(store* s);
  ~write_batch();
  // An invalid put (room id or user empty or containing 0x00, message seq 0) is not added;
  // the next commit() returns invalid_argument for it, writes nothing and clears the batch.
  // That rejection does not latch the store.
  void put_message(const std::string& room_id, const message_record& m);
  void put_pref(const std::string& user, const std::string& label, const std::string& value);
  // An uploaded file's record (its bytes are already in the file store).
  void put_file(const file_record& f);
  // Deletes one stored message (Clear-CsPersistentChatRoom).
  void delete_message(const std::string& room_id, uint64_t seq);
  // Stages a compliance event under `seq` (rejected if 0; e.seq is ignored), atomically
  // with the rest. REQUIRES: within one batch, sequences are consecutive (rejected
  // otherwise): the batch's events are stored as groups (up to 1,000 events or 1 MiB each)
  // under their first event's key.
  void put_compliance(uint64_t seq, const compliance_record& e);
  void put_compliance(const compliance_record& e) { put_compliance(e.seq, e); }
  size_t count() const { return count_; }
  size_t bytes() const;
  // One synced write of everything added since the last commit; clears the batch.
  // On failure nothing was applied and the store stops accepting writes until it resumes.
  status commit();

 private:
  store* store_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  size_t count_ = 0;
  status rejected_;  // first invalid put since the last commit, reported by commit()
  std::string value_;  // encoding scratch, reused: WriteBatch::Put copies the bytes
  // Moves the open compliance group into the batch (one entry under its first sequence).
  void close_group();
  std::string group_;  // open compliance group of this batch (record_codec.h compliance_group)
  uint64_t group_first_ = 0;  // seq of its first event
  uint64_t group_next_ = 0;   // seq the next event must have
  size_t group_events_ = 0;
};

}  // namespace pchat::storage
