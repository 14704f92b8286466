#include "storage/keys.h"

namespace pchat::storage::keys {

bool valid_id(std::string_view id) {
  return !id.empty() && id.find(kSeparator) == std::string_view::npos;
}

status check_id(std::string_view what, std::string_view id) {
  if (valid_id(id)) return status::ok();
  return status::invalid_argument(std::string(what) +
                                  (id.empty() ? " is empty" : " contains a NUL byte"));
}

void put_fixed64_be(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, sizeof buf);
}

bool get_fixed64_be(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>((*in)[i]);
  *v = r;
  in->remove_prefix(8);
  return true;
}

std::string tagged_key(char tag, std::string_view name) {
  std::string k;
  k.reserve(1 + name.size());
  k.push_back(tag);
  k.append(name);
  return k;
}
bool get_tagged_key(char tag, std::string_view key, std::string* name) {
  if (key.empty() || key.front() != tag) return false;
  name->assign(key.substr(1));
  return true;
}
// The tag byte alone sorts before every key carrying it; tag + 1 sorts after all of them.
std::string tag_range_begin(char tag) { return std::string(1, tag); }
std::string tag_range_end(char tag) { return std::string(1, static_cast<char>(tag + 1)); }

std::string fold_case(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string user_key(std::string_view uri) { return tagged_key(kUserTag, fold_case(uri)); }
std::string group_key(std::string_view name) { return tagged_key(kGroupTag, fold_case(name)); }
std::string policy_key(std::string_view identity) { return tagged_key(kPolicyTag, identity); }
std::string addin_key(std::string_view name) { return tagged_key(kAddinTag, fold_case(name)); }

std::string invite_key(std::string_view user, uint64_t id) {
  std::string k = tagged_key(kInviteTag, fold_case(user));
  k.push_back(kSeparator);
  put_fixed64_be(&k, id);
  return k;
}
std::string invite_range_end(std::string_view user) {
  std::string k = tagged_key(kInviteTag, fold_case(user));
  k.push_back(static_cast<char>(kSeparator + 1));
  return k;
}

namespace {
// tag, a non-empty name, 0x00, 8 bytes of id: the id.
bool get_tagged_id(char tag, std::string_view key, uint64_t* id) {
  if (key.size() < 11 || key.front() != tag || key[key.size() - 9] != kSeparator) return false;
  std::string_view tail = key.substr(key.size() - 8);
  return get_fixed64_be(&tail, id);
}
}  // namespace

bool get_invite_key(std::string_view key, uint64_t* id) { return get_tagged_id(kInviteTag, key, id); }
bool get_file_key(std::string_view key, uint64_t* id) { return get_tagged_id(kFileTag, key, id); }

std::string file_range_begin(std::string_view room_id) {
  std::string k = tagged_key(kFileTag, room_id);
  k.push_back(kSeparator);
  return k;
}
std::string file_range_end(std::string_view room_id) {
  std::string k = tagged_key(kFileTag, room_id);
  k.push_back(static_cast<char>(kSeparator + 1));
  return k;
}
std::string file_key(std::string_view room_id, uint64_t id) {
  std::string k = file_range_begin(room_id);
  put_fixed64_be(&k, id);
  return k;
}

std::string category_key(std::string_view id) { return tagged_key(kCategoryTag, id); }
bool get_category_key(std::string_view key, std::string* id) {
  return get_tagged_key(kCategoryTag, key, id);
}
std::string room_key(std::string_view id) { return tagged_key(kRoomTag, id); }
bool get_room_key(std::string_view key, std::string* id) { return get_tagged_key(kRoomTag, key, id); }
std::string category_range_begin() { return tag_range_begin(kCategoryTag); }
std::string category_range_end() { return tag_range_end(kCategoryTag); }
std::string room_range_begin() { return tag_range_begin(kRoomTag); }
std::string room_range_end() { return tag_range_end(kRoomTag); }

std::string message_key(std::string_view room_id, uint64_t seq) {
  std::string k;
  k.reserve(room_id.size() + 1 + 8);
  k.append(room_id);
  k.push_back(kSeparator);
  put_fixed64_be(&k, seq);
  return k;
}

bool get_message_key(std::string_view key, std::string* room_id, uint64_t* seq) {
  // The separator sits exactly 9 bytes from the end; searching from the front would
  // accept keys whose "room id" part contains 0x00, which the grammar forbids.
  if (key.size() < 1 + 8) return false;
  size_t sep = key.size() - 9;
  if (key[sep] != kSeparator || key.substr(0, sep).find(kSeparator) != std::string_view::npos) {
    return false;
  }
  std::string_view tail = key.substr(sep + 1);
  if (!get_fixed64_be(&tail, seq)) return false;
  room_id->assign(key.substr(0, sep));
  return true;
}

std::string message_range_begin(std::string_view room_id) {
  std::string k(room_id);
  k.push_back(kSeparator);
  return k;
}

std::string message_range_end(std::string_view room_id) {
  std::string k(room_id);
  k.push_back(static_cast<char>(kSeparator + 1));
  return k;
}

namespace {
constexpr uint64_t kRoomMetaSeq = ~uint64_t{0};  // the meta prefix: never a message's seq
std::string room_meta(std::string_view room_id, char tag) {
  std::string k = message_key(room_id, kRoomMetaSeq);
  k.push_back(tag);
  return k;
}
}  // namespace

std::string message_entries_end(std::string_view room_id) { return message_key(room_id, kRoomMetaSeq); }
std::string room_log_state_key(std::string_view room_id) { return room_meta(room_id, 's'); }
std::string room_event_key(std::string_view room_id, uint64_t seq) {
  std::string k = room_meta(room_id, 'e');
  put_fixed64_be(&k, seq);
  return k;
}
std::string room_log_entries_end(std::string_view room_id) { return room_meta(room_id, 'f'); }

std::string pref_key(std::string_view user, std::string_view label) {
  std::string k;
  k.reserve(user.size() + 1 + label.size());
  k.append(user);
  k.push_back(kSeparator);
  k.append(label);
  return k;
}

bool get_pref_key(std::string_view key, std::string* user, std::string* label) {
  size_t sep = key.find(kSeparator);
  if (sep == std::string_view::npos || sep == 0) return false;
  user->assign(key.substr(0, sep));
  label->assign(key.substr(sep + 1));
  return true;
}

std::string pref_range_begin(std::string_view user) { return pref_key(user, ""); }
std::string pref_range_end(std::string_view user) {
  std::string k(user);
  k.push_back(static_cast<char>(kSeparator + 1));
  return k;
}

std::string config_key(std::string_view setting) {
  return std::string(setting);
}
std::string scoped_config_key(std::string_view scope, std::string_view setting) {
  if (scope == "global") return config_key(setting);
  std::string k(scope);
  k.push_back('/');
  k.append(setting);
  return k;
}
bool get_config_key(std::string_view key, std::string* setting) {
  if (key.empty()) return false;
  setting->assign(key);
  return true;
}

std::string compliance_key(uint64_t seq) {
  std::string k;
  put_fixed64_be(&k, seq);
  return k;
}

bool get_compliance_key(std::string_view key, uint64_t* seq) {
  if (key.size() != 8) return false;
  return get_fixed64_be(&key, seq);
}

}  // namespace pchat::storage::keys
