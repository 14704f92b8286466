#include "storage/file_index.h"

#include <algorithm>

#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/write_batch.h"
#include "storage/writer.h"

namespace pchat::storage {

namespace {
range_iterator all_files(const db& d) {
  return range_iterator(d, column::directory, keys::tag_range_begin(keys::kFileTag),
                        keys::tag_range_end(keys::kFileTag));
}
}  // namespace

status file_index::open(db& d, writer& w, std::unique_ptr<file_index>* out) {
  uint64_t last = 0;
  range_iterator it = all_files(d);
  for (it->Seek(it.lower()); it->Valid(); it->Next()) {
    uint64_t id = 0;
    if (!keys::get_file_key(view(it->key()), &id)) return status::corruption("file key: malformed");
    last = std::max(last, id);
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read file ids");
  out->reset(new file_index(d, w, last));
  return status::ok();
}

status file_index::new_id(uint16_t space, uint64_t* out) {
  if (space == 0) {
    *out = new_id();
    return status::ok();
  }
  constexpr uint64_t kCount = uint64_t{1} << kSpaceShift;
  std::lock_guard<std::mutex> lock(space_mu_);
  auto last = space_last_.find(space);
  if (last == space_last_.end()) {
    // Ids this store holds in the space: its own earlier uploads, and any older id (a
    // standalone node's clock ids) that happens to fall in it.
    uint64_t high = 0;
    range_iterator it = all_files(db_);
    for (it->Seek(it.lower()); it->Valid(); it->Next()) {
      uint64_t id = 0;
      if (!keys::get_file_key(view(it->key()), &id))
        return status::corruption("file key: malformed");
      if (id >> kSpaceShift == space) high = std::max(high, id & (kCount - 1));
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "read file ids");
    last = space_last_.emplace(space, high).first;
  }
  if (last->second + 1 >= kCount)
    return status::io_error("file ids of space " + std::to_string(space) + " are used up");
  *out = (uint64_t{space} << kSpaceShift) | ++last->second;
  return status::ok();
}

status file_index::get(const std::string& room_id, uint64_t id, file_record* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  std::string value;
  status s = db_.get(column::directory, keys::file_key(room_id, id), &value, "get file");
  if (s.is_not_found()) return status::not_found("no file " + std::to_string(id) + " in room " + room_id);
  if (!s.is_ok()) return s;
  return get_file_record(value, out);
}

status file_index::remove(const std::string& room_id, uint64_t id) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Delete(db_.cf(column::directory), keys::file_key(room_id, id)); !s.ok())
    return from_rocksdb(s, "delete file");
  return writer_.write(&b);
}

status file_index::list(const std::string& room_id, std::vector<file_record>* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  range_iterator it(db_, column::directory, keys::file_range_begin(room_id), keys::file_range_end(room_id));
  std::vector<file_record> result;
  for (it->Seek(it.lower()); it->Valid(); it->Next()) {
    file_record r;
    if (status d = get_file_record(view(it->value()), &r); !d.is_ok()) return d;
    result.push_back(std::move(r));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "list files");
  *out = std::move(result);
  return status::ok();
}

status file_index::uploaded_bytes(const std::string& uploader, uint64_t* out) const {
  range_iterator it = all_files(db_);
  uint64_t total = 0;
  for (it->Seek(it.lower()); it->Valid(); it->Next()) {
    file_record r;
    if (status d = get_file_record(view(it->value()), &r); !d.is_ok()) return d;
    if (r.uploader == uploader) total += r.size;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "uploaded bytes");
  *out = total;
  return status::ok();
}

void file_index::put(write_batch& b, const file_record& f) const {
  if (!b.accepting()) return;
  if (status s = keys::check_id("room id", f.room_id); !s.is_ok()) return b.reject(s);
  std::string& value = b.scratch();
  put_file_record(&value, f);
  b.put(column::directory, keys::file_key(f.room_id, f.id), value);
}

status file_index::erase_room(rocksdb::WriteBatch* b, const std::string& room_id) const {
  rocksdb::Status s = b->DeleteRange(db_.cf(column::directory), keys::file_range_begin(room_id),
                                     keys::file_range_end(room_id));
  return s.ok() ? status::ok() : from_rocksdb(s, "delete room files");
}

}  // namespace pchat::storage
