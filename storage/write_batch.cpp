#include "storage/write_batch.h"

#include <rocksdb/write_batch.h>

#include "storage/writer.h"

namespace pchat::storage {

namespace {
rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }
}  // namespace

write_batch::write_batch(db& d, writer& w)
    : db_(d), writer_(w), batch_(std::make_unique<rocksdb::WriteBatch>()) {}

write_batch::~write_batch() = default;

void write_batch::reject(status why) {
  if (rejected_.is_ok()) rejected_ = std::move(why);
}

void write_batch::put(column c, std::string_view key, std::string_view value) {
  if (!accepting()) return;
  if (rocksdb::Status s = batch_->Put(db_.cf(c), slice(key), slice(value)); !s.ok()) {
    reject(from_rocksdb(s, "batch put"));
    return;
  }
  ++count_;
}

void write_batch::erase(column c, std::string_view key) {
  if (!accepting()) return;
  if (rocksdb::Status s = batch_->Delete(db_.cf(c), slice(key)); !s.ok()) {
    reject(from_rocksdb(s, "batch delete"));
    return;
  }
  ++count_;
}

void write_batch::erase_range(column c, std::string_view lo, std::string_view hi) {
  if (!accepting()) return;
  if (rocksdb::Status s = batch_->DeleteRange(db_.cf(c), slice(lo), slice(hi)); !s.ok()) {
    reject(from_rocksdb(s, "batch delete range"));
    return;
  }
  ++count_;
}

void write_batch::close_open() {
  if (open_.empty()) return;
  if (accepting()) {
    if (rocksdb::Status s = batch_->Put(db_.cf(open_.cf), open_.key, open_.value); !s.ok())
      reject(from_rocksdb(s, "batch put"));
  }
  open_.value.clear();
  open_.key.clear();
  open_.items = 0;
}

size_t write_batch::bytes() const { return batch_->GetDataSize() + open_.value.size(); }

status write_batch::commit() {
  status result;
  if (!rejected_.is_ok()) {
    result = rejected_;
  } else if (count_ == 0) {
    result = db_.check_writable();
  } else {
    close_open();
    result = rejected_.is_ok() ? writer_.write(batch_.get()) : rejected_;
  }
  batch_->Clear();
  open_ = open_entry{};
  count_ = 0;
  rejected_ = status::ok();
  return result;
}

}  // namespace pchat::storage
