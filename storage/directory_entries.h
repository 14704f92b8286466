// Named entries of the directory CF (keys.h: a tag byte, then the name): the reads and
// synced writes that categories, rooms, users, groups, policies and add-ins share. The
// families build the keys (keys.h) and the values (record_codec.h); this knows neither.
// Thread safety: any thread. Internal to storage/.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "status/status.h"

namespace pchat::storage {

class db;
class writer;

namespace directory_entries {

// The value under `key`; not_found(name) if absent.
status get(const db& d, const std::string& key, const std::string& name, std::string* value);
// Values (and, if wanted, names) of every entry with `tag`, in key order.
status list(const db& d, char tag, std::vector<std::string>* values,
            std::vector<std::string>* names = nullptr);
// One synced put, resp. delete (not_found(name) if absent), through the writer.
status put(db& d, writer& w, const std::string& key, const std::string& value);
// Many puts in one synced write (all or nothing): (key, value) pairs.
status put_many(db& d, writer& w, const std::vector<std::pair<std::string, std::string>>& entries);
status erase(db& d, writer& w, const std::string& key, const std::string& name);

// Decodes every value with `decode` into *out (all or nothing).
template <class Rec>
status decode_all(const std::vector<std::string>& values, status (*decode)(std::string_view, Rec*),
                  std::vector<Rec>* out) {
  std::vector<Rec> result;
  result.reserve(values.size());
  for (auto& v : values) {
    Rec r;
    if (status s = decode(v, &r); !s.is_ok()) return s;
    result.push_back(std::move(r));
  }
  *out = std::move(result);
  return status::ok();
}

// The record under `key`, decoded; not_found(name) if absent.
template <class Rec>
status get_record(const db& d, const std::string& key, const std::string& name,
                  status (*decode)(std::string_view, Rec*), Rec* out) {
  std::string value;
  if (status s = get(d, key, name, &value); !s.is_ok()) return s;
  return decode(value, out);
}

// Every entry with `tag`, decoded (all or nothing).
template <class Rec>
status list_records(const db& d, char tag, status (*decode)(std::string_view, Rec*), std::vector<Rec>* out) {
  std::vector<std::string> values;
  if (status s = list(d, tag, &values); !s.is_ok()) return s;
  return decode_all(values, decode, out);
}

// Every entry with `tag`, decoded; a record whose id differs from its key's name is
// corruption ("<what> record: id ... stored under key of ...").
template <class Rec>
status list_by_id(const db& d, char tag, status (*decode)(std::string_view, Rec*), const char* what,
                  std::vector<Rec>* out) {
  std::vector<std::string> values, ids;
  if (status s = list(d, tag, &values, &ids); !s.is_ok()) return s;
  std::vector<Rec> result(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (status s = decode(values[i], &result[i]); !s.is_ok()) return s;
    if (result[i].id != ids[i])
      return status::corruption(std::string(what) + " record: id '" + result[i].id +
                                "' stored under key of '" + ids[i] + "'");
  }
  *out = std::move(result);
  return status::ok();
}

}  // namespace directory_entries
}  // namespace pchat::storage
