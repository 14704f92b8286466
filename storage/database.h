// The Persistent Chat Store as the server holds it: the database (db.h), its one synced
// writer (writer.h) and the record families over them, built at open.
//
//   messages()      message_log.h       rooms' posts (what the pool replicates)
//   directory()     directory.h         categories, rooms, add-ins, invitations
//   identities()    identities.h        users, groups, policies
//   configuration() configuration.h     chat and compliance settings
//   compliance()    compliance_queue.h  the compliance staging queue
//   files()         file_index.h        uploaded files' records, per-user uploaded bytes
//   preferences()   preferences.h       per-user preferences
//
// Every synced write of every family goes through writer(); new_batch() gives the commit
// actor a group-commit batch (write_batch.h) the families add to.
//
// Thread safety: the families are thread-safe (see each header). Ownership: owns the db,
// the writer and the families; destroy every write_batch before it.
#pragma once

#include <memory>

#include "storage/compliance_queue.h"
#include "storage/configuration.h"
#include "storage/db.h"
#include "storage/directory.h"
#include "storage/file_index.h"
#include "storage/identities.h"
#include "storage/message_log.h"
#include "storage/preferences.h"
#include "status/status.h"
#include "storage/write_batch.h"
#include "storage/writer.h"

namespace pchat::storage {

class database {
 public:
  // Opens the db (db.h: db::open's results) and builds the families (their open's errors).
  static status open(const db_options& opts, std::unique_ptr<database>* out);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  storage::db& db() const { return *db_; }
  storage::writer& writer() const { return *writer_; }
  storage::message_log& messages() const { return *messages_; }
  storage::directory& directory() const { return *directory_; }
  storage::identities& identities() const { return *identities_; }
  storage::configuration& configuration() const { return *configuration_; }
  storage::compliance_queue& compliance() const { return *compliance_; }
  storage::file_index& files() const { return *files_; }
  storage::preferences& preferences() const { return *preferences_; }

  // A group-commit batch over this database's writer (write_batch.h).
  std::unique_ptr<write_batch> new_batch() const;

 private:
  database() = default;
  // Declared in build order: destroyed families first, the db last.
  std::unique_ptr<storage::db> db_;
  std::unique_ptr<storage::writer> writer_;
  std::unique_ptr<storage::message_log> messages_;
  std::unique_ptr<storage::file_index> files_;
  std::unique_ptr<storage::directory> directory_;
  std::unique_ptr<storage::identities> identities_;
  std::unique_ptr<storage::configuration> configuration_;
  std::unique_ptr<storage::compliance_queue> compliance_;
  std::unique_ptr<storage::preferences> preferences_;
};

}  // namespace pchat::storage
