#include "storage/writer.h"

#include <vector>

#include <rocksdb/write_batch.h>

#include "storage/db.h"

namespace pchat::storage {

namespace {

// A group is at most 1 MiB, and a small leading write takes at most 128 KiB of others with
// it, so merging never makes a small write wait for much more than its own fsync.
constexpr size_t kMaxGroupBytes = 1 << 20;
constexpr size_t kSmallWriteBytes = 128 << 10;

// Replays one caller's batch into the group. RocksDB has no public way to append one
// WriteBatch to another, so the operations are copied; this happens only when callers
// overlap (a caller alone is written as it is).
class appender final : public rocksdb::WriteBatch::Handler {
 public:
  appender(rocksdb::WriteBatch* dst, const std::vector<rocksdb::ColumnFamilyHandle*>& handles)
      : dst_(dst), handles_(handles) {}
  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    auto* h = handle(cf);
    return h ? dst_->Put(h, key, value) : unknown(cf);
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    auto* h = handle(cf);
    return h ? dst_->Delete(h, key) : unknown(cf);
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    auto* h = handle(cf);
    return h ? dst_->DeleteRange(h, begin, end) : unknown(cf);
  }

 private:
  rocksdb::ColumnFamilyHandle* handle(uint32_t id) const {
    for (auto* h : handles_)
      if (h->GetID() == id) return h;
    return nullptr;
  }
  static rocksdb::Status unknown(uint32_t cf) {
    return rocksdb::Status::InvalidArgument("column family " + std::to_string(cf) +
                                            " is not open");
  }
  rocksdb::WriteBatch* dst_;
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles_;
};

}  // namespace

struct writer::waiter {
  rocksdb::WriteBatch* batch;
  status result;
  bool done = false;
  std::condition_variable cv;
};

writer::writer(db& d) : db_(d) {}

writer::~writer() = default;

status writer::write(rocksdb::WriteBatch* b) {
  waiter self{b};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&self);
  self.cv.wait(lock, [&] { return self.done || queue_.front() == &self; });
  if (self.done) return self.result;  // a leader wrote it with its group

  // Leader: take the batches queued behind this one, up to the group bound. The deque's
  // front entries stay put while others push at its back (only the leader pops).
  size_t size = b->GetDataSize();
  size_t max = size <= kSmallWriteBytes ? size + kSmallWriteBytes : kMaxGroupBytes;
  std::vector<waiter*> group{&self};
  for (auto it = queue_.begin() + 1; it != queue_.end(); ++it) {
    size_t more = (*it)->batch->GetDataSize();
    if (size + more > max) break;
    size += more;
    group.push_back(*it);
  }
  lock.unlock();

  status s;
  size_t written = group.size();
  if (group.size() == 1) {
    s = db_.write_synced(b);
  } else {
    rocksdb::WriteBatch merged;
    appender append(&merged, db_.handles_);
    for (waiter* w : group) {
      merged.SetSavePoint();
      rocksdb::Status r = w->batch->Iterate(&append);
      if (r.ok()) continue;
      // Outside the contract (writer.h): refuse this batch alone, keep the others.
      merged.RollbackToSavePoint().PermitUncheckedError();
      w->result = from_rocksdb(r, "merge write");
      w->batch = nullptr;
      --written;
    }
    if (written > 0) s = db_.write_synced(&merged);
  }
  writes_.fetch_add(written > 0 ? 1 : 0, std::memory_order_relaxed);
  batches_.fetch_add(written, std::memory_order_relaxed);

  lock.lock();
  for (waiter* w : group) {
    queue_.pop_front();
    if (w->batch != nullptr) w->result = s;
    if (w == &self) continue;
    w->done = true;
    w->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  return self.result;
}

}  // namespace pchat::storage
