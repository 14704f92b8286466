// The compliance staging queue (compliance CF, keys.h compliance_key; the reference's
// `mgccomp`): compliance events in ascending global event sequence, staged by the commit
// actor atomically with the writes they describe, read and deleted by the compliance runner
// once an adapter has delivered them. Events are stored as groups (one entry per group
// commit, up to 1,000 events or 1 MiB, under their first event's sequence; record_codec.h
// compliance_group). The high-water mark of delivered events is kept in the config CF.
//
// Thread safety: every method from any thread; one stager (the commit actor) and one
// deleter (the runner). Ownership: borrows the db and the writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "storage/records.h"
#include "status/status.h"

namespace pchat::storage {

class db;
class writer;
class write_batch;

// What was delivered since the store was created (survives restarts).
struct delivery_totals {
  uint64_t batches = 0;
  uint64_t events = 0;
  int64_t last_success_micros = 0;  // 0: never
};

class compliance_queue {
 public:
  compliance_queue(db& d, writer& w) : db_(d), writer_(w) {}

  // Stages `e` under `seq` in the batch (e.seq is ignored). A seq of 0 refuses the batch.
  // REQUIRES: within one batch, sequences are consecutive (refused otherwise).
  void stage(write_batch& b, uint64_t seq, const compliance_record& e) const;
  void stage(write_batch& b, const compliance_record& e) const { stage(b, e.seq, e); }

  // Highest event sequence ever staged: the newest staged event, or if the queue is empty
  // the last one deleted (remove keeps a high-water mark). 0 if none ever was. The next
  // event must get a larger sequence: output file names are built from them.
  status last_sequence(uint64_t* out) const;
  // Last sequence passed to remove (0 if never).
  status delivered_through(uint64_t* out) const;
  // Events with seq >= from_seq, ascending: whole stored groups until there are at least
  // `limit`, so a batch read here ends where a group ends and remove can delete exactly it.
  status read(uint64_t from_seq, size_t limit, std::vector<compliance_record>* out) const;
  // Number of staged events (walks the queue: for status pages, not hot paths).
  status count(uint64_t* out) const;
  // Deletes events first..last inclusive and records `last` as delivered, in one synced
  // write. invalid_argument if first is 0, last < first, or `last` falls inside a stored
  // group (that would delete undelivered events). Deleting absent events is not an error
  // (a re-run after a crash).
  // `events` (how many the batch held) and `now_micros` add the batch to the delivery totals
  // in the same write, so they count each batch once whatever crashes.
  status remove(uint64_t first, uint64_t last, uint64_t events = 0, int64_t now_micros = 0);
  // The delivery totals (all zero if nothing was ever delivered).
  status delivered_totals(delivery_totals* out) const;

 private:
  db& db_;
  writer& writer_;
};

}  // namespace pchat::storage
