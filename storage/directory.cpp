#include "storage/directory.h"

#include <algorithm>

#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/directory_entries.h"
#include "storage/file_index.h"
#include "storage/keys.h"
#include "storage/message_log.h"
#include "storage/record_codec.h"
#include "storage/writer.h"

namespace pchat::storage {

namespace entries = directory_entries;

namespace {

// Limits of the reference server (Lync Persistent Chat), checked before any write.
constexpr size_t kMaxNameChars = 256;
constexpr size_t kMaxDescriptionChars = 256;

// Names are limited in characters, not bytes: count UTF-8 code points by skipping
// continuation bytes (10xxxxxx). Invalid UTF-8 still yields a bounded count.
size_t utf8_length(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<uint8_t>(c) & 0xc0) != 0x80; }));
}

status check_name_and_description(std::string_view what, std::string_view name,
                                  std::string_view description) {
  if (name.empty()) return status::invalid_argument(std::string(what) + " name is empty");
  if (utf8_length(name) > kMaxNameChars) {
    return status::invalid_argument(std::string(what) + " name is longer than " +
                                    std::to_string(kMaxNameChars) + " characters");
  }
  if (utf8_length(description) > kMaxDescriptionChars) {
    return status::invalid_argument(std::string(what) + " description is longer than " +
                                    std::to_string(kMaxDescriptionChars) + " characters");
  }
  return status::ok();
}

// A record of the directory by id: not_found("<what> <id>"), corruption if the record names
// another id than its key.
template <class Rec>
status get_by_id(const db& d, const std::string& key, const std::string& id, const char* what,
                 status (*decode)(std::string_view, Rec*), Rec* out) {
  std::string value;
  status s = d.get(column::directory, key, &value, std::string("get ") + what + " " + id);
  if (s.is_not_found()) return status::not_found(std::string(what) + " " + id);
  if (!s.is_ok()) return s;
  Rec rec;
  if (status dec = decode(value, &rec); !dec.is_ok()) return dec;
  if (rec.id != id) {
    return status::corruption(std::string(what) + " record: id '" + rec.id + "' stored under key of '" + id + "'");
  }
  *out = std::move(rec);
  return status::ok();
}

status write_one(writer& w, const rocksdb::Status& built, const char* what, rocksdb::WriteBatch* b) {
  if (!built.ok()) return from_rocksdb(built, what);
  return w.write_shared(b);
}

}  // namespace

status directory::open(db& d, writer& w, const message_log& messages, const file_index& files,
                       std::unique_ptr<directory>* out) {
  uint64_t last = 0;
  range_iterator it(d, column::directory, keys::tag_range_begin(keys::kInviteTag),
                    keys::tag_range_end(keys::kInviteTag));
  for (it->Seek(it.lower()); it->Valid(); it->Next()) {
    uint64_t id = 0;
    if (!keys::get_invite_key(view(it->key()), &id)) return status::corruption("invitation key: malformed");
    last = std::max(last, id);
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read invitation ids");
  out->reset(new directory(d, w, messages, files, last));
  return status::ok();
}

directory::directory(db& d, writer& w, const message_log& messages, const file_index& files,
                     uint64_t last_invite)
    : db_(d), writer_(w), messages_(messages), files_(files), invite_ids_(last_invite) {}

// ---- categories

status directory::put_category(const category_record& c) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = keys::check_id("category id", c.id); !s.is_ok()) return s;
  if (status s = check_name_and_description("category", c.name, c.description); !s.is_ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<category_record> all;
  if (status s = list_categories(&all); !s.is_ok()) return s;
  std::string folded = keys::fold_case(c.name);
  for (const auto& other : all) {
    if (other.id != c.id && keys::fold_case(other.name) == folded) {
      return status::already_exists("category name '" + c.name + "' is used by category " + other.id);
    }
  }
  std::string value;
  put_category_record(&value, c);
  rocksdb::WriteBatch b;
  return write_one(writer_, b.Put(db_.cf(column::directory), keys::category_key(c.id), value),
                   "put category", &b);
}

status directory::get_category(const std::string& id, category_record* out) const {
  if (status s = keys::check_id("category id", id); !s.is_ok()) return s;
  return get_by_id(db_, keys::category_key(id), id, "category", get_category_record, out);
}

status directory::list_categories(std::vector<category_record>* out) const {
  return entries::list_by_id(db_, keys::kCategoryTag, get_category_record, "category", out);
}

status directory::delete_category(const std::string& id) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = keys::check_id("category id", id); !s.is_ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  category_record existing;
  if (status s = get_category(id, &existing); !s.is_ok()) return s;
  std::vector<room_record> rooms;
  if (status s = list_rooms(&rooms); !s.is_ok()) return s;
  for (const auto& r : rooms) {
    if (r.category_id == id) {
      return status::invalid_argument("category not empty: room " + r.id + " is in category " + id);
    }
  }
  rocksdb::WriteBatch b;
  return write_one(writer_, b.Delete(db_.cf(column::directory), keys::category_key(id)),
                   "delete category", &b);
}

// ---- rooms

status directory::load_room_names_locked() const {
  if (room_names_stale_.load(std::memory_order_acquire)) {
    room_names_stale_.store(false, std::memory_order_release);
    room_names_loaded_ = false;
    room_by_name_.clear();
    name_by_room_.clear();
  }
  if (room_names_loaded_) return status::ok();
  std::vector<room_record> all;
  if (status s = list_rooms(&all); !s.is_ok()) return s;
  for (const auto& other : all) {
    room_by_name_[keys::fold_case(other.name)] = other.id;
    name_by_room_[other.id] = keys::fold_case(other.name);
  }
  room_names_loaded_ = true;
  return status::ok();
}

status directory::find_room_by_name(const std::string& name, std::string* id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (status s = load_room_names_locked(); !s.is_ok()) return s;
  auto it = room_by_name_.find(keys::fold_case(name));
  if (it == room_by_name_.end()) return status::not_found("no room named '" + name + "'");
  *id = it->second;
  return status::ok();
}

status directory::put_room(const room_record& r) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = keys::check_id("room id", r.id); !s.is_ok()) return s;
  if (status s = check_name_and_description("room", r.name, r.description); !s.is_ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (status s = load_room_names_locked(); !s.is_ok()) return s;
  std::string folded = keys::fold_case(r.name);
  if (auto it = room_by_name_.find(folded); it != room_by_name_.end() && it->second != r.id)
    return status::already_exists("room name '" + r.name + "' is used by room " + it->second);
  std::string value;
  put_room_record(&value, r);
  rocksdb::WriteBatch b;
  status w = write_one(writer_, b.Put(db_.cf(column::directory), keys::room_key(r.id), value),
                       "put room", &b);
  if (!w.is_ok()) return w;
  if (auto old = name_by_room_.find(r.id); old != name_by_room_.end()) room_by_name_.erase(old->second);
  room_by_name_[folded] = r.id;
  name_by_room_[r.id] = folded;
  return w;
}

status directory::get_room(const std::string& id, room_record* out) const {
  if (status s = keys::check_id("room id", id); !s.is_ok()) return s;
  return get_by_id(db_, keys::room_key(id), id, "room", get_room_record, out);
}

status directory::list_rooms(std::vector<room_record>* out) const {
  return entries::list_by_id(db_, keys::kRoomTag, get_room_record, "room", out);
}

status directory::delete_room(const std::string& id) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = keys::check_id("room id", id); !s.is_ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  room_record existing;
  if (status s = get_room(id, &existing); !s.is_ok()) return s;
  // Record, messages and files go in one synced batch, so a crash never leaves a deleted
  // room's history behind (or a room without its history).
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Delete(db_.cf(column::directory), keys::room_key(id)); !s.ok()) {
    return from_rocksdb(s, "delete room");
  }
  if (status s = messages_.erase_room(&b, id); !s.is_ok()) return s;
  if (status s = files_.erase_room(&b, id); !s.is_ok()) return s;
  status w = writer_.write_shared(&b);
  if (w.is_ok() && room_names_loaded_) {
    if (auto old = name_by_room_.find(id); old != name_by_room_.end()) {
      room_by_name_.erase(old->second);
      name_by_room_.erase(old);
    }
  }
  return w;
}

// ---- add-ins

status directory::put_addin(const addin_record& a) {
  if (a.name.empty() || a.name.size() > 50 || a.name.find('\0') != std::string::npos)
    return status::invalid_argument("add-in name must be 1..50 characters");
  if (a.url.size() > 255 || (a.url.rfind("http://", 0) != 0 && a.url.rfind("https://", 0) != 0))
    return status::invalid_argument("add-in url must be an http:// or https:// URL of at most 255 characters");
  std::string value;
  put_addin_record(&value, a);
  return entries::put(db_, writer_, keys::addin_key(a.name), value);
}

status directory::get_addin(const std::string& name, addin_record* out) const {
  return entries::get_record(db_, keys::addin_key(name), keys::fold_case(name), get_addin_record, out);
}

status directory::list_addins(std::vector<addin_record>* out) const {
  return entries::list_records(db_, keys::kAddinTag, get_addin_record, out);
}

status directory::delete_addin(const std::string& name) {
  return entries::erase(db_, writer_, keys::addin_key(name), keys::fold_case(name));
}

// ---- invitations

status directory::put_invitations(std::vector<invitation_record>* invites) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  for (auto& inv : *invites) {
    inv.id = invite_ids_.next();
    inv.user = keys::fold_case(inv.user);
    std::string value;
    put_invitation_record(&value, inv);
    if (rocksdb::Status s = b.Put(db_.cf(column::directory), keys::invite_key(inv.user, inv.id), value); !s.ok())
      return from_rocksdb(s, "put invitation");
  }
  return writer_.write_shared(&b);
}

status directory::list_invitations(const std::string& user, uint64_t after_id, size_t limit,
                                   std::vector<invitation_record>* out) const {
  range_iterator it(db_, column::directory, keys::invite_key(user, after_id + 1), keys::invite_range_end(user));
  out->clear();
  for (it->Seek(it.lower()); it->Valid() && out->size() < limit; it->Next()) {
    invitation_record r;
    if (status d = get_invitation_record(view(it->value()), &r); !d.is_ok()) return d;
    out->push_back(std::move(r));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "list invitations");
  return status::ok();
}

}  // namespace pchat::storage
