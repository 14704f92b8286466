// Per-user preferences (prefs CF, keys.h pref_key): opaque values by label, e.g. the
// followed-rooms list (cmd:setpref / cmd:getpref). Users must be non-empty and free of 0x00
// (invalid_argument).
//
// Writes: put() is the one write path, a shared write (writer::write_shared): standalone
// one synced write; on a pool node a record of the pool's directory log that every node
// applies, so a user's preferences are on every node (docs/POOL.md "Preferences across
// the pool"). The node's writer is actors/pref_writer (it counts the quota). The batch
// form is for tests that fill a store.
// Thread safety: reads from any thread. Ownership: borrows the db and the writer.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "status/status.h"

namespace pchat::storage {

class db;
class writer;
class write_batch;

class preferences {
 public:
  preferences(db& d, writer& w) : db_(d), writer_(w) {}

  // not_found if never written.
  status get(const std::string& user, const std::string& label, std::string* out) const;
  // Synced single put, shared with the pool (above); returns once applied on this node.
  status put(const std::string& user, const std::string& label, const std::string& value);
  // Adds the put to the batch; a bad user refuses the batch.
  void put(write_batch& b, const std::string& user, const std::string& label,
           const std::string& value) const;
  // Bytes each of the user's preferences takes (label + value), by label: what the per-user
  // preference quota counts. Walks the user's preferences.
  status sizes(const std::string& user, std::map<std::string, uint64_t>* out) const;

 private:
  db& db_;
  writer& writer_;
};

}  // namespace pchat::storage
