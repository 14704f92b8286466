#include "storage/directory_entries.h"

#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/keys.h"
#include "storage/writer.h"

namespace pchat::storage::directory_entries {

status get(const db& d, const std::string& key, const std::string& name, std::string* value) {
  status s = d.get(column::directory, key, value, "get " + name);
  return s.is_not_found() ? status::not_found(name) : s;
}

status list(const db& d, char tag, std::vector<std::string>* values, std::vector<std::string>* names) {
  range_iterator it(d, column::directory, keys::tag_range_begin(tag), keys::tag_range_end(tag));
  values->clear();
  if (names) names->clear();
  std::string name;
  for (it->Seek(it.lower()); it->Valid(); it->Next()) {
    values->emplace_back(it->value().data(), it->value().size());
    if (names) {
      if (!keys::get_tagged_key(tag, view(it->key()), &name)) return status::corruption("directory key: malformed");
      names->push_back(name);
    }
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "list directory entries");
  return status::ok();
}

status put(db& d, writer& w, const std::string& key, const std::string& value) {
  if (status s = d.check_writable(); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(d.cf(column::directory), key, value); !s.ok())
    return from_rocksdb(s, "put directory entry");
  return w.write_shared(&b);
}

status put_many(db& d, writer& w, const std::vector<std::pair<std::string, std::string>>& entries) {
  if (status s = d.check_writable(); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  for (auto& [key, value] : entries)
    if (rocksdb::Status s = b.Put(d.cf(column::directory), key, value); !s.ok())
      return from_rocksdb(s, "put directory entries");
  return w.write_shared(&b);
}

status erase(db& d, writer& w, const std::string& key, const std::string& name) {
  if (status s = d.check_writable(); !s.is_ok()) return s;
  std::string existing;
  if (status s = get(d, key, name, &existing); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Delete(d.cf(column::directory), key); !s.ok())
    return from_rocksdb(s, "delete directory entry");
  return w.write_shared(&b);
}

}  // namespace pchat::storage::directory_entries
