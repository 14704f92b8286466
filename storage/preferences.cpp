#include "storage/preferences.h"

#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/keys.h"
#include "storage/write_batch.h"
#include "storage/writer.h"

namespace pchat::storage {

status preferences::get(const std::string& user, const std::string& label, std::string* out) const {
  if (status s = keys::check_id("pref user", user); !s.is_ok()) return s;
  std::string value;
  status s = db_.get(column::prefs, keys::pref_key(user, label), &value, "get pref " + label + " of " + user);
  if (s.is_not_found()) return status::not_found("pref " + label + " of " + user);
  if (!s.is_ok()) return s;
  *out = std::move(value);
  return status::ok();
}

status preferences::put(const std::string& user, const std::string& label, const std::string& value) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = keys::check_id("pref user", user); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(db_.cf(column::prefs), keys::pref_key(user, label), value); !s.ok()) {
    return from_rocksdb(s, "put pref");
  }
  return writer_.write_shared(&b);
}

void preferences::put(write_batch& b, const std::string& user, const std::string& label,
                      const std::string& value) const {
  if (!b.accepting()) return;
  if (status s = keys::check_id("pref user", user); !s.is_ok()) return b.reject(s);
  b.put(column::prefs, keys::pref_key(user, label), value);
}

status preferences::sizes(const std::string& user, std::map<std::string, uint64_t>* out) const {
  if (status s = keys::check_id("pref user", user); !s.is_ok()) return s;
  range_iterator it(db_, column::prefs, keys::pref_range_begin(user), keys::pref_range_end(user));
  std::map<std::string, uint64_t> result;
  for (it->Seek(it.lower()); it->Valid(); it->Next()) {
    std::string u, label;
    if (!keys::get_pref_key(view(it->key()), &u, &label) || u != user) return status::corruption("pref key: malformed");
    result[label] = label.size() + it->value().size();
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "list prefs of " + user);
  *out = std::move(result);
  return status::ok();
}

}  // namespace pchat::storage
