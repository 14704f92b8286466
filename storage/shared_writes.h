// Writes shared by every node of a pool: the directory (categories, rooms, add-ins,
// invitations), identities (users, groups, policies), configuration (chat and compliance
// settings) and user preferences families write through writer::write_shared() instead of
// writer::write().
// Standalone (no shared log installed) that is write() itself. In a pool, the node installs
// a shared_write_log (actors/directory_log.h): the batch is encoded as one record
// (encode_shared_batch), put into the pool's log (etcd), and every node applies the records
// in the log's order to its own store (decode_shared_batch + write()); write_shared returns
// once this node has applied its own record.
//
// Record grammar (version 1; DO NOT CHANGE: records stay in the pool's log and are read by
// nodes of other builds):
//   record := 0x01 op*
//   op     := kind column varint(len) key [varint(len) bytes]
//   kind   := 'P' (put: bytes = value) | 'D' (delete: no bytes) | 'R' (delete range: bytes = end key)
//   column := storage::column's value (db.h), one byte
//   varint := LEB128 of a uint32 (at most 5 bytes)
#pragma once

#include <string>
#include <string_view>

#include "status/status.h"

namespace rocksdb {
class WriteBatch;
}

namespace pchat::storage {

class db;

// What write_shared hands a batch to in a pool. append() returns once the batch is applied
// on this node (ok) or says why not; on failure nothing of it was applied by this call (a
// record that reached the log but was not applied here in time is applied later, in order,
// and the failure says so). Thread safety: any thread, several at once.
class shared_write_log {
 public:
  virtual ~shared_write_log() = default;
  virtual status append(const rocksdb::WriteBatch& b) = 0;
};

// The batch as one record. invalid_argument for an operation a shared write never makes
// (merge, a column family that is not one of ours). REQUIRES: b was built on d's families.
status encode_shared_batch(const db& d, const rocksdb::WriteBatch& b, std::string* out);
// The record's operations appended to *out on d's families; corruption names what is wrong.
status decode_shared_batch(const db& d, std::string_view record, rocksdb::WriteBatch* out);

}  // namespace pchat::storage
