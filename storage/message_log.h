// The rooms' messages (messages CF, keys.h message_key): each room's log of posts, numbered
// by the room from 1, dense and increasing. What the pool will replicate.
//
// Writes: posts, rewrites and deletions are added to the commit actor's write_batch
// (append, erase) and become durable with its commit; put() is one synced write of its own
// (tests, admin tools). Room ids must be non-empty and free of 0x00 (invalid_argument).
//
// Thread safety: reads from any thread; the room actor owns its room's sequence, so one
// writer per room. Ownership: borrows the db and the writer, which outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/records.h"
#include "status/status.h"

namespace rocksdb {
class WriteBatch;
}

namespace pchat::storage {

class db;
class writer;
class write_batch;

class message_log {
 public:
  message_log(db& d, writer& w) : db_(d), writer_(w) {}

  // Highest sequence stored for the room; 0 if it has no messages.
  status last_sequence(const std::string& room_id, uint64_t* out) const;
  // The newest `n` messages of the room, returned oldest first.
  status read_latest(const std::string& room_id, size_t n, std::vector<message_record>* out) const;
  // The post ids of the newest `n` messages of the room, oldest first, those without one
  // left out (the room's dedup window, docs/POOL.md); texts are not decoded.
  status read_post_ids(const std::string& room_id, size_t n, std::vector<post_id>* out) const;
  // Messages with seq >= from_seq, ascending, at most `limit`.
  status read_from(const std::string& room_id, uint64_t from_seq, size_t limit,
                   std::vector<message_record>* out) const;

  // Adds the message under m.seq to the batch (replacing one stored there). A bad room id
  // or m.seq 0 refuses the batch (write_batch::commit returns invalid_argument).
  void append(write_batch& b, const std::string& room_id, const message_record& m) const;
  // Deletes one stored message with the batch (Clear-CsPersistentChatRoom).
  void erase(write_batch& b, const std::string& room_id, uint64_t seq) const;
  // Synced single put (tests, admin tools). invalid_argument if m.seq is 0 or the room id
  // is bad.
  status put(const std::string& room_id, const message_record& m);
  // Adds the deletion of every message of the room to `b` (the room's deletion, directory.h).
  // REQUIRES: a valid room id.
  status erase_room(rocksdb::WriteBatch* b, const std::string& room_id) const;

 private:
  db& db_;
  writer& writer_;
};

}  // namespace pchat::storage
