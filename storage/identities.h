// Users, groups and policies (directory CF, keys.h user_key / group_key / policy_key): who
// may sign in and what each may do (identity_registry.h builds its snapshot from these).
// User URIs and group names are case-insensitive: stored folded (keys::fold_case).
// Each put or remove is one synced write; remove of an absent entry is not_found.
//
// Thread safety: any thread. Ownership: borrows the db and the writer.
#pragma once

#include <string>
#include <vector>

#include "storage/records.h"
#include "status/status.h"

namespace pchat::storage {

class db;
class writer;

class identities {
 public:
  identities(db& d, writer& w) : db_(d), writer_(w) {}

  status put_user(const user_record& u);  // invalid_argument unless uri is "sip:x@y"
  // Every record in one synced write, or none (invalid_argument names the first bad one).
  status put_users(const std::vector<user_record>& users);
  status get_user(const std::string& uri, user_record* out) const;
  status list_users(std::vector<user_record>* out) const;
  status remove_user(const std::string& uri);
  status put_group(const group_record& g);  // invalid_argument unless 1..256 characters
  status get_group(const std::string& name, group_record* out) const;
  status list_groups(std::vector<group_record>* out) const;
  status remove_group(const std::string& name);
  // identity: "global", "site:<name>" or "tag:<name>" (invalid_argument otherwise).
  status put_policy(const policy_record& p);
  status get_policy(const std::string& identity, policy_record* out) const;
  status list_policies(std::vector<policy_record>* out) const;
  status remove_policy(const std::string& identity);

 private:
  db& db_;
  writer& writer_;
};

}  // namespace pchat::storage
