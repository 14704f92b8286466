// Group commit: writes of several families accumulated by one owner, then committed as one
// synced write through the writer (writer.h). The families add to it (message_log::append,
// preferences::put, file_index::put, compliance_queue::stage); this class knows no key and
// no record.
//
// Not thread-safe: one owner (the commit actor) at a time. Ownership: borrows the db and
// the writer, which outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/db.h"
#include "status/status.h"

namespace pchat::storage {

class writer;

class write_batch {
 public:
  write_batch(db& d, writer& w);
  ~write_batch();
  write_batch(const write_batch&) = delete;
  write_batch& operator=(const write_batch&) = delete;

  size_t count() const { return count_; }
  size_t bytes() const;
  // One synced write of everything added since the last commit; clears the batch (on
  // failure too: nothing was applied, and the callers answer for its entries).
  // invalid_argument: something added was refused (the first reason); nothing is written
  // and the database is not stopped. A batch with nothing in it writes nothing and returns
  // whether writes are accepted (the caller is about to acknowledge on its strength).
  // Otherwise the writer's result (writer.h).
  status commit();

  // ---- for the families
  // False once something added was refused: the rest is dropped at commit, so adding more is
  // wasted work.
  bool accepting() const { return rejected_.is_ok(); }
  // Refuses the batch with `why` (the first reason wins).
  void reject(status why);
  void put(column c, std::string_view key, std::string_view value);
  // Encoding scratch the families reuse for values (put copies them): no allocation per
  // post on the commit actor's path.
  std::string& scratch() {
    scratch_.clear();
    return scratch_;
  }
  void erase(column c, std::string_view key);
  // Deletes every key in [lo, hi) of `c` with the batch.
  void erase_range(column c, std::string_view lo, std::string_view hi);
  // One entry that grows until it is closed (the compliance queue's group of events under
  // its first event's key): close_open() puts it into the batch; commit() closes it first.
  struct open_entry {
    column cf = column::compliance;
    std::string key;
    std::string value;
    size_t items = 0;   // what the owner appended (counted in count())
    uint64_t next = 0;  // the owner's next expected item number
    bool empty() const { return value.empty(); }
  };
  open_entry& open() { return open_; }
  void count_item() { ++count_; }
  void close_open();

 private:
  db& db_;
  writer& writer_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  size_t count_ = 0;
  status rejected_;  // first refused addition since the last commit
  open_entry open_;
  std::string scratch_;
};

}  // namespace pchat::storage
