#include "storage/store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <string_view>
#include <system_error>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "log/log.h"
#include "storage/keys.h"
#include "storage/record_codec.h"

namespace pchat::storage {

namespace {

// RunInterval limits of Set-CsPersistentChatComplianceConfiguration: 1 minute .. 30 days.
constexpr int kMinRunIntervalSeconds = 60;
constexpr int kMaxRunIntervalSeconds = 30 * 24 * 3600;

// Limits of the reference server (Lync Persistent Chat), checked before any write.
constexpr size_t kMaxNameChars = 256;
constexpr size_t kMaxDescriptionChars = 256;

struct config_range {
  std::string_view setting;
  int chat_config::*field;
  int min;
  int max;
};

// Valid ranges of the integer settings (Set-CsPersistentChatConfiguration limits).
constexpr config_range kConfigRanges[] = {
    {keys::kDefaultChatHistory, &chat_config::default_chat_history, 1, 500},
    {keys::kMaxFileSizeKB, &chat_config::max_file_size_kb, 1, 2097152},
    {keys::kParticipantUpdateLimit, &chat_config::participant_update_limit, 1, 10000},
};

// Names are limited in characters, not bytes: count UTF-8 code points by skipping
// continuation bytes (10xxxxxx). Invalid UTF-8 still yields a bounded count.
size_t utf8_length(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<uint8_t>(c) & 0xc0) != 0x80; }));
}

// The same folding as same_name, as a key for the room name index.
std::string fold_name(std::string_view a) {
  std::string out(a);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Case-insensitive comparison for name uniqueness. ASCII letters only: folding the rest of
// Unicode needs tables we do not carry, and the reference compares names the same way for
// the common case.
bool same_name(std::string_view a, std::string_view b) {
  auto fold = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return fold(x) == fold(y); });
}

status check_id(std::string_view what, std::string_view id) {
  if (keys::valid_id(id)) return status::ok();
  return status::invalid_argument(std::string(what) +
                                  (id.empty() ? " is empty" : " contains a NUL byte"));
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

status check_message(const std::string& room_id, const message_record& m) {
  if (status s = check_id("room id", room_id); !s.is_ok()) return s;
  if (m.seq == 0) return status::invalid_argument("message seq must be >= 1");
  return status::ok();
}

// Decodes one entry of the messages CF and checks that key and value agree, so a value
// written under the wrong key is reported instead of served.
status decode_message_entry(const rocksdb::Slice& key, const rocksdb::Slice& value,
                            message_record* out) {
  std::string room;
  uint64_t key_seq = 0;
  if (!keys::get_message_key(std::string_view(key.data(), key.size()), &room, &key_seq)) {
    return status::corruption("message key: malformed");
  }
  if (status s = get_message_record(std::string_view(value.data(), value.size()), out);
      !s.is_ok()) {
    return s;
  }
  if (out->seq != key_seq) {
    return status::corruption("message record: seq " + std::to_string(out->seq) +
                              " stored under key seq " + std::to_string(key_seq));
  }
  return status::ok();
}

}  // namespace

// Directory locks. Reads take none of these.
struct store::impl {
  // Held across check-then-write of the directory, so two writers cannot both pass the
  // name-uniqueness check, and no room appears in a category while it is being deleted.
  std::mutex directory_mu;
  // Room name index (folded name -> id, id -> name), GUARDED_BY(directory_mu), built on the
  // first room write: keeps the uniqueness check O(1) when creating tens of thousands of
  // rooms instead of re-reading the whole directory per room.
  bool room_names_loaded = false;
  std::unordered_map<std::string, std::string> room_by_name;
  std::unordered_map<std::string, std::string> name_by_room;
};

status store::open(const store_options& opts, std::unique_ptr<store>* out) {
  std::unique_ptr<storage::db> base;
  if (status s = storage::db::open(opts, &base); !s.is_ok()) return s;
  std::unique_ptr<store> st(new store());
  st->impl_ = std::make_unique<impl>();
  st->db_ = base->raw();
  st->directory_ = base->cf(column::directory);
  st->messages_ = base->cf(column::messages);
  st->prefs_ = base->cf(column::prefs);
  st->config_ = base->cf(column::config);
  st->compliance_ = base->cf(column::compliance);
  st->writer_ = std::make_unique<writer>(*base);
  st->base_ = std::move(base);
  *out = std::move(st);
  return status::ok();
}

store::~store() = default;

bool store::writable() const { return base_->writable(); }

uint64_t store::resume_count() const { return base_->resume_count(); }

void store::inject_write_failure_for_testing(bool fail_next) {
  base_->inject_write_failure_for_testing(fail_next);
}

status store::flush_for_testing() { return base_->flush_for_testing(); }

status store::check_writable() const { return base_->check_writable(); }

status store::write_synced(rocksdb::WriteBatch* b) { return writer_->write(b); }

// ---- directory

status store::put_category(const category_record& c) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = check_id("category id", c.id); !s.is_ok()) return s;
  if (status s = check_name_and_description("category", c.name, c.description); !s.is_ok()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(impl_->directory_mu);
  std::vector<category_record> all;
  if (status s = list_categories(&all); !s.is_ok()) return s;
  for (const auto& other : all) {
    if (other.id != c.id && same_name(other.name, c.name)) {
      return status::already_exists("category name '" + c.name + "' is used by category " +
                                    other.id);
    }
  }
  std::string value;
  put_category_record(&value, c);
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(directory_, keys::category_key(c.id), value); !s.ok()) {
    return from_rocksdb(s, "put category");
  }
  return write_synced(&b);
}

status store::get_category(const std::string& id, category_record* out) const {
  if (status s = check_id("category id", id); !s.is_ok()) return s;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), directory_, keys::category_key(id), &value);
  if (s.IsNotFound()) return status::not_found("category " + id);
  if (!s.ok()) return from_rocksdb(s, "get category " + id);
  category_record rec;
  if (status d = get_category_record(value, &rec); !d.is_ok()) return d;
  if (rec.id != id) {
    return status::corruption("category record: id '" + rec.id + "' stored under key of '" + id +
                              "'");
  }
  *out = std::move(rec);
  return status::ok();
}

template <class Rec>
status store::list_directory(char tag, status (*decode)(std::string_view, Rec*), const char* what,
                             std::vector<Rec>* out) const {
  std::vector<std::string> values, ids;
  if (status s = list_tagged(tag, &values, &ids); !s.is_ok()) return s;
  std::vector<Rec> result(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (status d = decode(values[i], &result[i]); !d.is_ok()) return d;
    if (result[i].id != ids[i])
      return status::corruption(std::string(what) + " record: id '" + result[i].id +
                                "' stored under key of '" + ids[i] + "'");
  }
  *out = std::move(result);
  return status::ok();
}

status store::list_categories(std::vector<category_record>* out) const {
  return list_directory(keys::kCategoryTag, get_category_record, "category", out);
}
status store::delete_category(const std::string& id) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = check_id("category id", id); !s.is_ok()) return s;
  std::lock_guard<std::mutex> lock(impl_->directory_mu);
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
  if (rocksdb::Status s = b.Delete(directory_, keys::category_key(id)); !s.ok()) {
    return from_rocksdb(s, "delete category");
  }
  return write_synced(&b);
}

// REQUIRES: impl_->directory_mu held.
status store::load_room_names_locked() const {
  if (impl_->room_names_loaded) return status::ok();
  std::vector<room_record> all;
  if (status s = list_rooms(&all); !s.is_ok()) return s;
  for (const auto& other : all) {
    impl_->room_by_name[fold_name(other.name)] = other.id;
    impl_->name_by_room[other.id] = fold_name(other.name);
  }
  impl_->room_names_loaded = true;
  return status::ok();
}

status store::find_room_by_name(const std::string& name, std::string* id) const {
  std::lock_guard<std::mutex> lock(impl_->directory_mu);
  if (status s = load_room_names_locked(); !s.is_ok()) return s;
  auto it = impl_->room_by_name.find(fold_name(name));
  if (it == impl_->room_by_name.end()) return status::not_found("no room named '" + name + "'");
  *id = it->second;
  return status::ok();
}

status store::put_room(const room_record& r) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = check_id("room id", r.id); !s.is_ok()) return s;
  if (status s = check_name_and_description("room", r.name, r.description); !s.is_ok()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(impl_->directory_mu);
  if (status s = load_room_names_locked(); !s.is_ok()) return s;
  std::string folded = fold_name(r.name);
  if (auto it = impl_->room_by_name.find(folded); it != impl_->room_by_name.end() && it->second != r.id)
    return status::already_exists("room name '" + r.name + "' is used by room " + it->second);
  std::string value;
  put_room_record(&value, r);
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(directory_, keys::room_key(r.id), value); !s.ok()) {
    return from_rocksdb(s, "put room");
  }
  status w = write_synced(&b);
  if (!w.is_ok()) return w;
  if (auto old = impl_->name_by_room.find(r.id); old != impl_->name_by_room.end())
    impl_->room_by_name.erase(old->second);
  impl_->room_by_name[folded] = r.id;
  impl_->name_by_room[r.id] = folded;
  return w;
}

status store::get_room(const std::string& id, room_record* out) const {
  if (status s = check_id("room id", id); !s.is_ok()) return s;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), directory_, keys::room_key(id), &value);
  if (s.IsNotFound()) return status::not_found("room " + id);
  if (!s.ok()) return from_rocksdb(s, "get room " + id);
  room_record rec;
  if (status d = get_room_record(value, &rec); !d.is_ok()) return d;
  if (rec.id != id) {
    return status::corruption("room record: id '" + rec.id + "' stored under key of '" + id + "'");
  }
  *out = std::move(rec);
  return status::ok();
}

status store::list_rooms(std::vector<room_record>* out) const {
  return list_directory(keys::kRoomTag, get_room_record, "room", out);
}
status store::delete_room(const std::string& id) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = check_id("room id", id); !s.is_ok()) return s;
  std::lock_guard<std::mutex> lock(impl_->directory_mu);
  room_record existing;
  if (status s = get_room(id, &existing); !s.is_ok()) return s;
  // Record and messages go in one synced batch, so a crash never leaves a deleted room's
  // history behind (or a room without its history).
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Delete(directory_, keys::room_key(id)); !s.ok()) {
    return from_rocksdb(s, "delete room");
  }
  if (rocksdb::Status s =
          b.DeleteRange(messages_, keys::message_range_begin(id), keys::message_range_end(id));
      !s.ok()) {
    return from_rocksdb(s, "delete room messages");
  }
  if (rocksdb::Status s =
          b.DeleteRange(directory_, keys::file_range_begin(id), keys::file_range_end(id));
      !s.ok()) {
    return from_rocksdb(s, "delete room files");
  }
  status w = write_synced(&b);
  if (w.is_ok() && impl_->room_names_loaded) {
    if (auto old = impl_->name_by_room.find(id); old != impl_->name_by_room.end()) {
      impl_->room_by_name.erase(old->second);
      impl_->name_by_room.erase(old);
    }
  }
  return w;
}

// ---- users, groups and policies

// Decodes every value with `decode` into *out (all or nothing).
template <class Rec>
status decode_all(const std::vector<std::string>& values, status (*decode)(std::string_view, Rec*),
                  std::vector<Rec>* out) {
  std::vector<Rec> result;
  result.reserve(values.size());
  for (auto& v : values) {
    Rec r;
    if (status d = decode(v, &r); !d.is_ok()) return d;
    result.push_back(std::move(r));
  }
  *out = std::move(result);
  return status::ok();
}

status store::put_tagged(char tag, const std::string& name, const std::string& value) {
  if (status s = check_writable(); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(directory_, keys::tagged_key(tag, name), value); !s.ok())
    return from_rocksdb(s, "put directory entry");
  return write_synced(&b);
}

status store::get_tagged(char tag, const std::string& name, std::string* value) const {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), directory_, keys::tagged_key(tag, name), value);
  if (s.IsNotFound()) return status::not_found(name);
  if (!s.ok()) return from_rocksdb(s, "get " + name);
  return status::ok();
}

status store::list_tagged(char tag, std::vector<std::string>* values,
                          std::vector<std::string>* names) const {
  range_iterator it(*base_, column::directory, keys::tag_range_begin(tag), keys::tag_range_end(tag));
  values->clear();
  if (names) names->clear();
  for (it->Seek(it.lower()); it->Valid(); it->Next()) {
    values->emplace_back(it->value().data(), it->value().size());
    if (names) names->emplace_back(it->key().data() + 1, it->key().size() - 1);
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "list directory entries");
  return status::ok();
}

status store::delete_tagged(char tag, const std::string& name) {
  if (status s = check_writable(); !s.is_ok()) return s;
  std::string existing;
  if (status s = get_tagged(tag, name, &existing); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Delete(directory_, keys::tagged_key(tag, name)); !s.ok())
    return from_rocksdb(s, "delete directory entry");
  return write_synced(&b);
}

status store::put_user(const user_record& u) {
  user_record rec = u;
  rec.uri = fold_name(u.uri);
  auto at = rec.uri.find('@');
  if (rec.uri.rfind("sip:", 0) != 0 || at == std::string::npos || at == 4 || at + 1 == rec.uri.size() ||
      rec.uri.find('\0') != std::string::npos)
    return status::invalid_argument("user uri must look like sip:user@domain, got '" + u.uri + "'");
  if (rec.display_name.size() > 256) return status::invalid_argument("display name longer than 256 characters");
  std::string value;
  put_user_record(&value, rec);
  return put_tagged(keys::kUserTag, rec.uri, value);
}

status store::get_user(const std::string& uri, user_record* out) const {
  std::string value;
  if (status s = get_tagged(keys::kUserTag, fold_name(uri), &value); !s.is_ok()) return s;
  return get_user_record(value, out);
}

status store::list_users(std::vector<user_record>* out) const {
  std::vector<std::string> values;
  if (status s = list_tagged(keys::kUserTag, &values); !s.is_ok()) return s;
  return decode_all(values, get_user_record, out);
}

status store::delete_user(const std::string& uri) { return delete_tagged(keys::kUserTag, fold_name(uri)); }

status store::put_group(const group_record& g) {
  if (g.name.empty() || g.name.size() > 256 || g.name.find('\0') != std::string::npos)
    return status::invalid_argument("group name must be 1..256 characters");
  group_record rec = g;
  std::string value;
  put_group_record(&value, rec);
  return put_tagged(keys::kGroupTag, fold_name(g.name), value);
}

status store::get_group(const std::string& name, group_record* out) const {
  std::string value;
  if (status s = get_tagged(keys::kGroupTag, fold_name(name), &value); !s.is_ok()) return s;
  return get_group_record(value, out);
}

status store::list_groups(std::vector<group_record>* out) const {
  std::vector<std::string> values;
  if (status s = list_tagged(keys::kGroupTag, &values); !s.is_ok()) return s;
  return decode_all(values, get_group_record, out);
}

status store::delete_group(const std::string& name) { return delete_tagged(keys::kGroupTag, fold_name(name)); }

status store::put_policy(const policy_record& p) {
  bool ok = p.identity == "global" || (p.identity.rfind("site:", 0) == 0 && p.identity.size() > 5) ||
            (p.identity.rfind("tag:", 0) == 0 && p.identity.size() > 4);
  if (!ok || p.identity.find('\0') != std::string::npos)
    return status::invalid_argument("policy identity must be global, site:<name> or tag:<name>, got '" +
                                    p.identity + "'");
  std::string value;
  put_policy_record(&value, p);
  return put_tagged(keys::kPolicyTag, p.identity, value);
}

status store::get_policy(const std::string& identity, policy_record* out) const {
  std::string value;
  if (status s = get_tagged(keys::kPolicyTag, identity, &value); !s.is_ok()) return s;
  return get_policy_record(value, out);
}

status store::list_policies(std::vector<policy_record>* out) const {
  std::vector<std::string> values;
  if (status s = list_tagged(keys::kPolicyTag, &values); !s.is_ok()) return s;
  return decode_all(values, get_policy_record, out);
}

status store::delete_policy(const std::string& identity) { return delete_tagged(keys::kPolicyTag, identity); }

// ---- add-ins

status store::put_addin(const addin_record& a) {
  if (a.name.empty() || a.name.size() > 50 || a.name.find('\0') != std::string::npos)
    return status::invalid_argument("add-in name must be 1..50 characters");
  if (a.url.size() > 255 || (a.url.rfind("http://", 0) != 0 && a.url.rfind("https://", 0) != 0))
    return status::invalid_argument("add-in url must be an http:// or https:// URL of at most 255 characters");
  std::string value;
  put_addin_record(&value, a);
  return put_tagged(keys::kAddinTag, fold_name(a.name), value);
}

status store::get_addin(const std::string& name, addin_record* out) const {
  std::string value;
  if (status s = get_tagged(keys::kAddinTag, fold_name(name), &value); !s.is_ok()) return s;
  return get_addin_record(value, out);
}

status store::list_addins(std::vector<addin_record>* out) const {
  std::vector<std::string> values;
  if (status s = list_tagged(keys::kAddinTag, &values); !s.is_ok()) return s;
  return decode_all(values, get_addin_record, out);
}

status store::delete_addin(const std::string& name) { return delete_tagged(keys::kAddinTag, fold_name(name)); }

// ---- invitations

namespace {
std::string invite_key(const std::string& user, uint64_t id) {
  std::string k = keys::tagged_key(keys::kInviteTag, fold_name(user));
  k.push_back(keys::kSeparator);
  keys::put_fixed64_be(&k, id);
  return k;
}
}  // namespace

// Ids are microseconds since the epoch, bumped past the last one: unique and increasing
// across restarts without a counter in the store.
static uint64_t next_time_id(uint64_t* last_id) {
  uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  *last_id = std::max(*last_id + 1, now);
  return *last_id;
}

uint64_t store::new_file_id() {
  static std::mutex id_mu;
  static uint64_t last_id = 0;
  std::lock_guard<std::mutex> l(id_mu);
  return next_time_id(&last_id);
}

status store::get_file(const std::string& room_id, uint64_t id, file_record* out) const {
  if (status s = check_id("room id", room_id); !s.is_ok()) return s;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), directory_, keys::file_key(room_id, id), &value);
  if (s.IsNotFound()) return status::not_found("no file " + std::to_string(id) + " in room " + room_id);
  if (!s.ok()) return from_rocksdb(s, "get file");
  return get_file_record(value, out);
}

status store::delete_file(const std::string& room_id, uint64_t id) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = check_id("room id", room_id); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Delete(directory_, keys::file_key(room_id, id)); !s.ok())
    return from_rocksdb(s, "delete file");
  return write_synced(&b);
}

status store::list_files(const std::string& room_id, std::vector<file_record>* out) const {
  if (status s = check_id("room id", room_id); !s.is_ok()) return s;
  range_iterator it(*base_, column::directory, keys::file_range_begin(room_id), keys::file_range_end(room_id));
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

status store::uploaded_bytes(const std::string& uploader, uint64_t* out) const {
  range_iterator it(*base_, column::directory, keys::tag_range_begin(keys::kFileTag), keys::tag_range_end(keys::kFileTag));
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

status store::put_invitations(std::vector<invitation_record>* invites) {
  if (status s = check_writable(); !s.is_ok()) return s;
  static std::mutex id_mu;
  static uint64_t last_id = 0;
  rocksdb::WriteBatch b;
  {
    std::lock_guard<std::mutex> l(id_mu);
    for (auto& inv : *invites) {
      inv.id = next_time_id(&last_id);
      inv.user = fold_name(inv.user);
      std::string value;
      put_invitation_record(&value, inv);
      if (rocksdb::Status s = b.Put(directory_, invite_key(inv.user, inv.id), value); !s.ok())
        return from_rocksdb(s, "put invitation");
    }
  }
  return write_synced(&b);
}

status store::list_invitations(const std::string& user, uint64_t after_id, size_t limit,
                               std::vector<invitation_record>* out) const {
  std::string hi = keys::tagged_key(keys::kInviteTag, fold_name(user));
  hi.push_back(static_cast<char>(keys::kSeparator + 1));
  range_iterator it(*base_, column::directory, invite_key(user, after_id + 1), std::move(hi));
  out->clear();
  for (it->Seek(it.lower()); it->Valid() && out->size() < limit; it->Next()) {
    invitation_record r;
    if (status d = get_invitation_record(view(it->value()), &r); !d.is_ok()) return d;
    out->push_back(std::move(r));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "list invitations");
  return status::ok();
}

// ---- messages

status store::last_sequence(const std::string& room_id, uint64_t* out) const {
  if (status s = check_id("room id", room_id); !s.is_ok()) return s;
  range_iterator it(*base_, column::messages, keys::message_range_begin(room_id), keys::message_range_end(room_id));
  it->SeekForPrev(keys::message_key(room_id, std::numeric_limits<uint64_t>::max()));
  if (!it->Valid()) {
    if (!it->status().ok()) return from_rocksdb(it->status(), "last sequence of " + room_id);
    *out = 0;
    return status::ok();
  }
  std::string room;
  uint64_t seq = 0;
  if (!keys::get_message_key(view(it->key()), &room, &seq) || room != room_id) {
    return status::corruption("message key: malformed");
  }
  *out = seq;
  return status::ok();
}

status store::read_latest(const std::string& room_id, size_t n,
                          std::vector<message_record>* out) const {
  if (status s = check_id("room id", room_id); !s.is_ok()) return s;
  std::vector<message_record> result;
  if (n > 0) {
    range_iterator it(*base_, column::messages, keys::message_range_begin(room_id), keys::message_range_end(room_id));
    for (it->SeekForPrev(keys::message_key(room_id, std::numeric_limits<uint64_t>::max()));
         it->Valid() && result.size() < n; it->Prev()) {
      message_record m;
      if (status d = decode_message_entry(it->key(), it->value(), &m); !d.is_ok()) return d;
      result.push_back(std::move(m));
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "read latest of " + room_id);
    std::reverse(result.begin(), result.end());  // collected newest first
  }
  *out = std::move(result);
  return status::ok();
}

status store::read_from(const std::string& room_id, uint64_t from_seq, size_t limit,
                        std::vector<message_record>* out) const {
  if (status s = check_id("room id", room_id); !s.is_ok()) return s;
  std::vector<message_record> result;
  if (limit > 0) {
    range_iterator it(*base_, column::messages, keys::message_range_begin(room_id), keys::message_range_end(room_id));
    for (it->Seek(keys::message_key(room_id, from_seq)); it->Valid() && result.size() < limit;
         it->Next()) {
      message_record m;
      if (status d = decode_message_entry(it->key(), it->value(), &m); !d.is_ok()) return d;
      result.push_back(std::move(m));
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "read from " + room_id);
  }
  *out = std::move(result);
  return status::ok();
}

status store::put_message(const std::string& room_id, const message_record& m) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = check_message(room_id, m); !s.is_ok()) return s;
  std::string value;
  put_message_record(&value, m);
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(messages_, keys::message_key(room_id, m.seq), value); !s.ok()) {
    return from_rocksdb(s, "put message");
  }
  return write_synced(&b);
}

// ---- prefs

status store::get_pref(const std::string& user, const std::string& label, std::string* out) const {
  if (status s = check_id("pref user", user); !s.is_ok()) return s;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), prefs_, keys::pref_key(user, label), &value);
  if (s.IsNotFound()) return status::not_found("pref " + label + " of " + user);
  if (!s.ok()) return from_rocksdb(s, "get pref " + label + " of " + user);
  *out = std::move(value);
  return status::ok();
}

status store::put_pref(const std::string& user, const std::string& label,
                       const std::string& value) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = check_id("pref user", user); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(prefs_, keys::pref_key(user, label), value); !s.ok()) {
    return from_rocksdb(s, "put pref");
  }
  return write_synced(&b);
}

status store::pref_sizes(const std::string& user, std::map<std::string, uint64_t>* out) const {
  if (status s = check_id("pref user", user); !s.is_ok()) return s;
  std::string hi = user;
  hi.push_back(static_cast<char>(keys::kSeparator + 1));
  range_iterator it(*base_, column::prefs, keys::pref_key(user, ""), std::move(hi));
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

// ---- config

status store::validate_config(const chat_config& c) {
  for (const auto& r : kConfigRanges) {
    int v = c.*r.field;
    if (v < r.min || v > r.max) {
      return status::invalid_argument(std::string(r.setting) + " " + std::to_string(v) +
                                      " is out of range " + std::to_string(r.min) + ".." +
                                      std::to_string(r.max));
    }
  }
  return status::ok();
}

status store::get_config(chat_config* out) const { return get_config_at("global", out, nullptr); }

namespace {
// Settings of a scope other than global live under "<identity>/<setting>", with the
// marker "<identity>/" saying the scope exists (New-CsPersistentChatConfiguration).
std::string scoped(const std::string& identity, std::string_view setting) {
  return identity == "global" ? std::string(setting) : identity + "/" + std::string(setting);
}
bool valid_scope(const std::string& identity) {
  return identity == "global" || (identity.rfind("site:", 0) == 0 && identity.size() > 5 &&
                                  identity.find('/') == std::string::npos &&
                                  identity.find('\0') == std::string::npos);
}
}  // namespace

status store::get_config_at(const std::string& identity, chat_config* out, bool* exists) const {
  if (!valid_scope(identity))
    return status::invalid_argument("configuration identity must be global or site:<name>, got '" + identity + "'");
  if (identity != "global") {
    std::string marker;
    rocksdb::Status m = db_->Get(rocksdb::ReadOptions(), config_, keys::config_key(scoped(identity, "")), &marker);
    if (!m.ok() && !m.IsNotFound()) return from_rocksdb(m, "get config " + identity);
    if (exists) *exists = m.ok();
    if (m.IsNotFound()) return status::not_found("configuration " + identity);
  } else if (exists) {
    *exists = true;
  }
  chat_config c;  // defaults for every setting never written
  for (const auto& r : kConfigRanges) {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), config_, keys::config_key(scoped(identity, r.setting)), &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return from_rocksdb(s, "get config " + std::string(r.setting));
    if (status d = get_config_int(r.setting, value, &(c.*r.field)); !d.is_ok()) return d;
  }
  std::string url;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), config_,
                               keys::config_key(scoped(identity, keys::kRoomManagementUrl)), &url);
  if (s.ok()) {
    c.room_management_url = std::move(url);
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "get config " + std::string(keys::kRoomManagementUrl));
  }
  // put_config never stores an out-of-range value, so one on disk was not written by us.
  if (status v = validate_config(c); !v.is_ok()) return status::corruption("config: " + v.reason());
  *out = std::move(c);
  return status::ok();
}

status store::put_config(const chat_config& c) { return put_config_at("global", c); }

status store::put_config_at(const std::string& identity, const chat_config& c) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (!valid_scope(identity))
    return status::invalid_argument("configuration identity must be global or site:<name>, got '" + identity + "'");
  if (status s = validate_config(c); !s.is_ok()) return s;
  // All settings in one batch: a reader never sees half of a configuration change.
  rocksdb::WriteBatch b;
  for (const auto& r : kConfigRanges) {
    std::string value;
    put_config_int(&value, c.*r.field);
    if (rocksdb::Status s = b.Put(config_, keys::config_key(scoped(identity, r.setting)), value); !s.ok()) {
      return from_rocksdb(s, "put config");
    }
  }
  if (rocksdb::Status s = b.Put(config_, keys::config_key(scoped(identity, keys::kRoomManagementUrl)),
                                c.room_management_url);
      !s.ok()) {
    return from_rocksdb(s, "put config");
  }
  if (identity != "global") {
    if (rocksdb::Status s = b.Put(config_, keys::config_key(scoped(identity, "")), "1"); !s.ok())
      return from_rocksdb(s, "put config");
  }
  return write_synced(&b);
}

status store::delete_config_at(const std::string& identity) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (identity == "global") return status::invalid_argument("the global configuration cannot be removed");
  bool exists = false;
  chat_config ignored;
  if (status s = get_config_at(identity, &ignored, &exists); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  for (const auto& r : kConfigRanges) b.Delete(config_, keys::config_key(scoped(identity, r.setting)));
  b.Delete(config_, keys::config_key(scoped(identity, keys::kRoomManagementUrl)));
  b.Delete(config_, keys::config_key(scoped(identity, "")));
  return write_synced(&b);
}

// ---- compliance

status store::compliance_delivered_through(uint64_t* out) const {
  std::string mark;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), config_,
                               keys::config_key(keys::kComplianceDeliveredThrough), &mark);
  if (s.IsNotFound()) {
    *out = 0;
    return status::ok();
  }
  if (!s.ok()) return from_rocksdb(s, "get compliance high-water mark");
  std::string_view in(mark);
  if (in.size() != 8 || !keys::get_fixed64_be(&in, out)) {
    return status::corruption("config " + std::string(keys::kComplianceDeliveredThrough) +
                              ": not 8 bytes");
  }
  return status::ok();
}

// Decodes one compliance CF entry and checks its events against its key: the first carries
// the key's sequence, the rest follow it one by one.
static status decode_compliance_entry(const rocksdb::Iterator& it,
                                      std::vector<compliance_record>* out) {
  uint64_t key_seq = 0;
  if (!keys::get_compliance_key(view(it.key()), &key_seq)) {
    return status::corruption("compliance key: malformed");
  }
  size_t first = out->size();
  if (status d = get_compliance_value(view(it.value()), out); !d.is_ok()) return d;
  for (size_t i = first; i < out->size(); ++i) {
    if ((*out)[i].seq != key_seq + (i - first)) {
      return status::corruption("compliance record: seq " + std::to_string((*out)[i].seq) +
                                " stored in the entry of seq " + std::to_string(key_seq));
    }
  }
  return status::ok();
}

status store::last_compliance_sequence(uint64_t* out) const {
  uint64_t delivered = 0;
  if (status s = compliance_delivered_through(&delivered); !s.is_ok()) return s;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), compliance_));
  it->SeekToLast();
  uint64_t seq = 0;
  if (it->Valid()) {
    std::vector<compliance_record> last;
    if (status d = decode_compliance_entry(*it, &last); !d.is_ok()) return d;
    seq = last.back().seq;
  } else if (!it->status().ok()) {
    return from_rocksdb(it->status(), "last compliance sequence");
  }
  *out = std::max(seq, delivered);
  return status::ok();
}

status store::read_compliance(uint64_t from_seq, size_t limit,
                              std::vector<compliance_record>* out) const {
  std::vector<compliance_record> result;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), compliance_));
  // The entry holding from_seq may start before it (a group).
  it->SeekForPrev(keys::compliance_key(from_seq));
  if (!it->Valid()) it->Seek(keys::compliance_key(from_seq));
  std::vector<compliance_record> entry;
  for (; it->Valid() && result.size() < limit; it->Next()) {
    entry.clear();
    if (status d = decode_compliance_entry(*it, &entry); !d.is_ok()) return d;
    for (auto& e : entry)
      if (e.seq >= from_seq) result.push_back(std::move(e));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read compliance");
  *out = std::move(result);
  return status::ok();
}

status store::count_compliance(uint64_t* out) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), compliance_));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t in_entry = 0;
    if (status d = count_compliance_value(view(it->value()), &in_entry); !d.is_ok()) return d;
    n += in_entry;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "count compliance");
  *out = n;
  return status::ok();
}

status store::delete_compliance(uint64_t first, uint64_t last) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (first == 0 || last < first) {
    return status::invalid_argument("compliance range " + std::to_string(first) + ".." +
                                    std::to_string(last) + " is empty or starts at 0");
  }
  // Groups are deleted whole: a range that starts or ends inside one would leave some of
  // its events staged although marked delivered, or delete undelivered ones.
  for (uint64_t edge : {first, last}) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), compliance_));
    it->SeekForPrev(keys::compliance_key(edge));
    if (!it->Valid()) {
      if (!it->status().ok()) return from_rocksdb(it->status(), "delete compliance");
      continue;
    }
    std::vector<compliance_record> entry;
    if (status d = decode_compliance_entry(*it, &entry); !d.is_ok()) return d;
    uint64_t lo = entry.front().seq, hi = entry.back().seq;
    if ((edge == first && lo < first && hi >= first) || (edge == last && hi > last)) {
      return status::invalid_argument("compliance range " + std::to_string(first) + ".." +
                                      std::to_string(last) + " splits the stored group " +
                                      std::to_string(lo) + ".." + std::to_string(hi));
    }
  }
  rocksdb::WriteBatch b;
  // DeleteRange's end is exclusive, so the range is [first, last) plus `last` itself: one
  // form for every `last`, including UINT64_MAX (last + 1 would wrap).
  rocksdb::Status s =
      b.DeleteRange(compliance_, keys::compliance_key(first), keys::compliance_key(last));
  if (s.ok()) s = b.Delete(compliance_, keys::compliance_key(last));
  // Same write: the high-water mark outlives the deleted events, so numbering never restarts
  // at 1 on an empty queue (a reused range would match an old output file name and be
  // mistaken for work already done).
  std::string mark;
  keys::put_fixed64_be(&mark, last);
  if (s.ok()) s = b.Put(config_, keys::config_key(keys::kComplianceDeliveredThrough), mark);
  if (!s.ok()) return from_rocksdb(s, "delete compliance");
  return write_synced(&b);
}

status store::validate_compliance_config(const compliance_config& c) {
  if (c.adapter_type != "xml" && c.adapter_type != "csv") {
    return status::invalid_argument("ComplianceAdapterType '" + c.adapter_type +
                                    "' is not one of xml, csv");
  }
  if (c.run_interval_seconds < kMinRunIntervalSeconds ||
      c.run_interval_seconds > kMaxRunIntervalSeconds) {
    return status::invalid_argument("RunInterval " + std::to_string(c.run_interval_seconds) +
                                    " s is out of range " + std::to_string(kMinRunIntervalSeconds) +
                                    ".." + std::to_string(kMaxRunIntervalSeconds) + " s");
  }
  return status::ok();
}

namespace {
struct compliance_flag {
  std::string_view setting;
  bool compliance_config::*field;
};
constexpr compliance_flag kComplianceFlags[] = {
    {keys::kComplianceEnabled, &compliance_config::enabled},
    {keys::kOneChatRoomPerOutputFile, &compliance_config::one_chat_room_per_output_file},
    {keys::kAddUserDetails, &compliance_config::add_user_details},
    {keys::kAddChatRoomDetails, &compliance_config::add_chat_room_details},
    {keys::kCreateFileAttachmentsManifest, &compliance_config::create_file_attachments_manifest},
};
}  // namespace

status store::get_compliance_config(compliance_config* out) const {
  compliance_config c;
  auto get = [&](std::string_view setting, std::string* value, bool* found) -> status {
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), config_, keys::config_key(setting), value);
    *found = s.ok();
    if (s.ok() || s.IsNotFound()) return status::ok();
    return from_rocksdb(s, "get config " + std::string(setting));
  };
  std::string value;
  bool found = false;
  for (const auto& f : kComplianceFlags) {
    if (status s = get(f.setting, &value, &found); !s.is_ok()) return s;
    if (!found) continue;
    if (value != "0" && value != "1") {
      return status::corruption("config " + std::string(f.setting) + ": not 0 or 1");
    }
    c.*f.field = value == "1";
  }
  if (status s = get(keys::kComplianceAdapterType, &value, &found); !s.is_ok()) return s;
  if (found) c.adapter_type = value;
  if (status s = get(keys::kComplianceOutputDirectory, &value, &found); !s.is_ok()) return s;
  if (found) c.output_directory = value;
  if (status s = get(keys::kComplianceRunInterval, &value, &found); !s.is_ok()) return s;
  if (found) {
    if (status d = get_config_int(keys::kComplianceRunInterval, value, &c.run_interval_seconds);
        !d.is_ok()) {
      return d;
    }
  }
  if (status v = validate_compliance_config(c); !v.is_ok()) {
    return status::corruption("config: " + v.reason());
  }
  *out = std::move(c);
  return status::ok();
}

status store::put_compliance_config(const compliance_config& c) {
  if (status s = check_writable(); !s.is_ok()) return s;
  if (status s = validate_compliance_config(c); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  rocksdb::Status s;
  for (const auto& f : kComplianceFlags) {
    if (s.ok()) s = b.Put(config_, keys::config_key(f.setting), (c.*f.field) ? "1" : "0");
  }
  std::string interval;
  put_config_int(&interval, c.run_interval_seconds);
  if (s.ok()) s = b.Put(config_, keys::config_key(keys::kComplianceRunInterval), interval);
  if (s.ok()) s = b.Put(config_, keys::config_key(keys::kComplianceAdapterType), c.adapter_type);
  if (s.ok()) {
    s = b.Put(config_, keys::config_key(keys::kComplianceOutputDirectory), c.output_directory);
  }
  if (!s.ok()) return from_rocksdb(s, "put compliance config");
  return write_synced(&b);
}

std::unique_ptr<write_batch> store::new_batch() {
  return std::make_unique<write_batch>(this);
}

// ---- write_batch

write_batch::write_batch(store* s) : store_(s), batch_(std::make_unique<rocksdb::WriteBatch>()) {}

write_batch::~write_batch() = default;

void write_batch::delete_message(const std::string& room_id, uint64_t seq) {
  if (!rejected_.is_ok()) return;
  if (!keys::valid_id(room_id)) {
    rejected_ = status::invalid_argument("room id must be non-empty and free of NUL bytes");
    return;
  }
  if (rocksdb::Status s = batch_->Delete(store_->messages_, keys::message_key(room_id, seq)); !s.ok()) {
    rejected_ = status::io_error("delete message: " + s.ToString());
    return;
  }
  ++count_;
}

void write_batch::put_message(const std::string& room_id, const message_record& m) {
  // After a rejection the whole batch is dropped at commit, so adding more is wasted work.
  if (!rejected_.is_ok()) return;
  if (status s = check_message(room_id, m); !s.is_ok()) {
    rejected_ = s;
    return;
  }
  value_.clear();
  put_message_record(&value_, m);
  if (rocksdb::Status s = batch_->Put(store_->messages_, keys::message_key(room_id, m.seq), value_);
      !s.ok()) {
    rejected_ = from_rocksdb(s, "batch put message");
    return;
  }
  ++count_;
}

void write_batch::put_file(const file_record& f) {
  if (!rejected_.is_ok()) return;
  if (status s = check_id("room id", f.room_id); !s.is_ok()) {
    rejected_ = s;
    return;
  }
  value_.clear();
  put_file_record(&value_, f);
  if (rocksdb::Status s = batch_->Put(store_->directory_, keys::file_key(f.room_id, f.id), value_);
      !s.ok()) {
    rejected_ = from_rocksdb(s, "batch put file");
    return;
  }
  ++count_;
}

void write_batch::put_pref(const std::string& user, const std::string& label,
                           const std::string& value) {
  if (!rejected_.is_ok()) return;
  if (status s = check_id("pref user", user); !s.is_ok()) {
    rejected_ = s;
    return;
  }
  if (rocksdb::Status s = batch_->Put(store_->prefs_, keys::pref_key(user, label), value);
      !s.ok()) {
    rejected_ = from_rocksdb(s, "batch put pref");
    return;
  }
  ++count_;
}

void write_batch::put_compliance(uint64_t seq, const compliance_record& e) {
  if (!rejected_.is_ok()) return;
  if (seq == 0) {
    rejected_ = status::invalid_argument("compliance event seq must be >= 1");
    return;
  }
  if (!group_.empty() && seq != group_next_) {
    rejected_ = status::invalid_argument("compliance events of one batch must be consecutive: " +
                                         std::to_string(seq) + " after " +
                                         std::to_string(group_next_ - 1));
    return;
  }
  value_.clear();
  put_compliance_record(&value_, seq, e);
  // A batch may carry thousands of events (clearing a big room): groups stay small enough
  // for the runner to read a few at a time and for RocksDB values.
  constexpr size_t kGroupEvents = 1000, kGroupBytes = 1 << 20;
  if (group_events_ >= kGroupEvents || group_.size() + value_.size() > kGroupBytes) close_group();
  if (!rejected_.is_ok()) return;
  if (group_.empty()) group_first_ = seq;
  append_compliance_group(&group_, value_);
  ++group_events_;
  group_next_ = seq + 1;
  ++count_;
}

void write_batch::close_group() {
  if (group_.empty()) return;
  if (rocksdb::Status s = batch_->Put(store_->compliance_, keys::compliance_key(group_first_), group_);
      !s.ok())
    rejected_ = from_rocksdb(s, "batch put compliance");
  group_.clear();
  group_events_ = 0;
}

size_t write_batch::bytes() const {
  return batch_->GetDataSize() + group_.size();
}

status write_batch::commit() {
  status result;
  if (!rejected_.is_ok()) {
    result = rejected_;
  } else if (count_ == 0) {
    // Nothing to write, but a store whose writes are failing still reports its error: the
    // caller is about to acknowledge on the strength of this commit.
    result = store_->check_writable();
  } else {
    close_group();
    result = rejected_.is_ok() ? store_->write_synced(batch_.get()) : rejected_;
  }
  // Cleared on failure too: nothing was applied, and the callers answer for its entries.
  batch_->Clear();
  group_.clear();
  group_events_ = 0;
  count_ = 0;
  rejected_ = status::ok();
  return result;
}

}  // namespace pchat::storage
