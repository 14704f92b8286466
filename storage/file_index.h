// What the store knows of uploaded files (directory CF, keys.h file_key): one file_record
// per file, by room and id; the bytes are in the file store (file_store.h). Also the bytes
// each user has uploaded (the per-user upload quota).
//
// Writes: new records are added to the commit actor's write_batch (the only writer of new
// file records, which counts the quota); remove() is one synced write (the admin API).
// Thread safety: every method from any thread. Ownership: borrows the db and the writer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/id_sequence.h"
#include "storage/records.h"
#include "status/status.h"

namespace rocksdb {
class WriteBatch;
}

namespace pchat::storage {

class db;
class writer;
class write_batch;

class file_index {
 public:
  // Reads the highest stored file id, so new ids never repeat one: corruption on a
  // malformed file key, or the read's failure.
  static status open(db& d, writer& w, std::unique_ptr<file_index>* out);

  // A new file id: unique and increasing, also across restarts.
  uint64_t new_id() { return ids_.next(); }
  // A new file id in `space` (a pool node's tag, pool/node_tag.h: unique among live nodes;
  // 0 is new_id()): (space << kSpaceShift) | n, n counting up from the highest id of that
  // space this store holds, so ids of different spaces never meet, stay below 2^53 (exact
  // as JSON numbers) and increase per space, also across restarts. The first call for a
  // space reads every file key (O(files)); io_error/corruption as open().
  status new_id(uint16_t space, uint64_t* out);
  static constexpr int kSpaceShift = 37;
  // not_found if the room has no such file.
  status get(const std::string& room_id, uint64_t id, file_record* out) const;
  // The room's files, oldest first.
  status list(const std::string& room_id, std::vector<file_record>* out) const;
  // Bytes of the files `uploader` has in the store, every room (the per-user upload quota).
  // Derived from the file records, so it survives restarts and follows removals; walks
  // every file record (O(files)).
  status uploaded_bytes(const std::string& uploader, uint64_t* out) const;

  // Adds an uploaded file's record to the batch (its bytes are already in the file store);
  // a bad room id refuses the batch.
  void put(write_batch& b, const file_record& f) const;
  // Removes one file's record (synced). Absent is not an error.
  status remove(const std::string& room_id, uint64_t id);
  // Adds the deletion of every file record of the room to `b` (the room's deletion).
  status erase_room(rocksdb::WriteBatch* b, const std::string& room_id) const;

 private:
  file_index(db& d, writer& w, uint64_t last_id) : db_(d), writer_(w), ids_(last_id) {}
  db& db_;
  writer& writer_;
  id_sequence ids_;
  std::mutex space_mu_;
  std::map<uint16_t, uint64_t> space_last_;  // GUARDED_BY(space_mu_): last n handed out per space
};

}  // namespace pchat::storage
