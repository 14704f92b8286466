#include "storage/identities.h"

#include "storage/directory_entries.h"
#include "storage/keys.h"
#include "storage/record_codec.h"

namespace pchat::storage {

namespace entries = directory_entries;

namespace {
// The user's key and value, or why it cannot be stored.
status user_entry(const user_record& u, std::string* key, std::string* value) {
  user_record rec = u;
  rec.uri = keys::fold_case(u.uri);
  auto at = rec.uri.find('@');
  if (rec.uri.rfind("sip:", 0) != 0 || at == std::string::npos || at == 4 || at + 1 == rec.uri.size() ||
      rec.uri.find('\0') != std::string::npos)
    return status::invalid_argument("user uri must look like sip:user@domain, got '" + u.uri + "'");
  if (rec.display_name.size() > 256) return status::invalid_argument("display name longer than 256 characters");
  put_user_record(value, rec);
  *key = keys::user_key(rec.uri);
  return status::ok();
}
}  // namespace

status identities::put_user(const user_record& u) {
  std::string key, value;
  if (status s = user_entry(u, &key, &value); !s.is_ok()) return s;
  return entries::put(db_, writer_, key, value);
}

status identities::put_users(const std::vector<user_record>& users) {
  std::vector<std::pair<std::string, std::string>> batch(users.size());
  for (size_t i = 0; i < users.size(); ++i)
    if (status s = user_entry(users[i], &batch[i].first, &batch[i].second); !s.is_ok()) return s;
  return entries::put_many(db_, writer_, batch);
}

status identities::get_user(const std::string& uri, user_record* out) const {
  return entries::get_record(db_, keys::user_key(uri), keys::fold_case(uri), get_user_record, out);
}

status identities::list_users(std::vector<user_record>* out) const {
  return entries::list_records(db_, keys::kUserTag, get_user_record, out);
}

status identities::remove_user(const std::string& uri) {
  return entries::erase(db_, writer_, keys::user_key(uri), keys::fold_case(uri));
}

status identities::put_group(const group_record& g) {
  if (g.name.empty() || g.name.size() > 256 || g.name.find('\0') != std::string::npos)
    return status::invalid_argument("group name must be 1..256 characters");
  std::string value;
  put_group_record(&value, g);
  return entries::put(db_, writer_, keys::group_key(g.name), value);
}

status identities::get_group(const std::string& name, group_record* out) const {
  return entries::get_record(db_, keys::group_key(name), keys::fold_case(name), get_group_record, out);
}

status identities::list_groups(std::vector<group_record>* out) const {
  return entries::list_records(db_, keys::kGroupTag, get_group_record, out);
}

status identities::remove_group(const std::string& name) {
  return entries::erase(db_, writer_, keys::group_key(name), keys::fold_case(name));
}

status identities::put_policy(const policy_record& p) {
  bool ok = p.identity == "global" || (p.identity.rfind("site:", 0) == 0 && p.identity.size() > 5) ||
            (p.identity.rfind("tag:", 0) == 0 && p.identity.size() > 4);
  if (!ok || p.identity.find('\0') != std::string::npos)
    return status::invalid_argument("policy identity must be global, site:<name> or tag:<name>, got '" +
                                    p.identity + "'");
  std::string value;
  put_policy_record(&value, p);
  return entries::put(db_, writer_, keys::policy_key(p.identity), value);
}

status identities::get_policy(const std::string& identity, policy_record* out) const {
  return entries::get_record(db_, keys::policy_key(identity), identity, get_policy_record, out);
}

status identities::list_policies(std::vector<policy_record>* out) const {
  return entries::list_records(db_, keys::kPolicyTag, get_policy_record, out);
}

status identities::remove_policy(const std::string& identity) {
  return entries::erase(db_, writer_, keys::policy_key(identity), identity);
}

}  // namespace pchat::storage
