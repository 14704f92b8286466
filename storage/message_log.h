// The rooms' messages (messages CF, keys.h message_key): each room's log of posts, numbered
// by the room from 1, dense and increasing. What the pool will replicate.
//
// Writes: posts, rewrites and deletions are added to the commit actor's write_batch
// (append, erase) and become durable with its commit; put() is one synced write of its own
// (tests, admin tools). Room ids must be non-empty and free of 0x00 (invalid_argument).
//
// The pool (docs/POOL.md "Replicated room log"): each room's log carries its replication
// state (room_log_state: the highest epoch accepted, the data epoch, a copy in progress),
// written in the same batch as the entries it describes. ship() adds an owner's entry
// (refused when its epoch is stale: nothing added), copy_chunk() a chunk of a catch-up or
// of a full copy (the first chunk of a full copy deletes the room's entries and marks the
// copy in progress, so a crash half-way leaves a log that says it is incomplete), mark()
// declares the log complete at an epoch. They take the caller's view of the state (what is
// stored plus what its open batch changes) and update it; the caller (the commit actor, the
// only writer) keeps that view and drops it when a commit fails.
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

  // The room's replication state; all zero if none was ever written (standalone, or a room
  // this node never held in a pool).
  status read_state(const std::string& room_id, room_log_state* out) const;
  // A follower's kept compliance events of the room with message seq >= from, ascending.
  status read_events(const std::string& room_id, uint64_t from_seq, size_t limit,
                     std::vector<compliance_record>* out) const;

  // Deletes the room's kept compliance events with message seq <= `through` (delivered:
  // docs/POOL.md "Compliance across the pool"), one synced write. Deleting none is ok.
  status trim_events(const std::string& room_id, uint64_t through);

  // True if an owner at `epoch` may no longer write to a log in `state` (a newer owner
  // was accepted).
  static bool stale(const room_log_state& state, uint64_t epoch) { return epoch < state.epoch; }
  // An owner's entry at `epoch` (its own commit or the follower's copy of it), with the
  // follower's copy of its compliance event (`kept`, may be null). Stale epoch: returns
  // invalid_argument "stale epoch ..." and adds nothing. Otherwise the entry and the new
  // state (epoch and data epoch = `epoch`) go into `b` and *state is updated.
  status ship(write_batch& b, const std::string& room_id, uint64_t epoch, const message_record& m,
              const compliance_record* kept, room_log_state* state) const;
  // A chunk of another node's log for an owner at `epoch`. `full`: the first chunk of a full
  // copy: every entry of the room (messages, kept events) is deleted first and the state
  // says "copy in progress" (data epoch 0) until mark(). Stale epoch: as ship().
  // `events` (may be null): the source's kept compliance events of the chunk's messages,
  // kept here too (keyed by their message_id), so a copy can deliver them as the owner.
  status copy_chunk(write_batch& b, const std::string& room_id, uint64_t epoch,
                    const std::vector<message_record>& chunk, bool full, room_log_state* state,
                    const std::vector<compliance_record>* events = nullptr) const;
  // The log is complete as the owner at `epoch` serves it: epoch and data epoch = `epoch`,
  // no copy in progress. Stale epoch: as ship().
  status mark(write_batch& b, const std::string& room_id, uint64_t epoch, room_log_state* state) const;

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
  void put_state(write_batch& b, const std::string& room_id, const room_log_state& st) const;

  db& db_;
  writer& writer_;
};

}  // namespace pchat::storage
