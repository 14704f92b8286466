#include "actors/identity_registry.h"

#include "storage/identities.h"

namespace pchat::actors {

std::string identity_registry::lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

identity_snapshot::identity_snapshot(std::string domain) : domain_(identity_registry::lower(std::move(domain))) {}

identity_registry::identity_registry(std::string domain)
    : current_(std::make_shared<const identity_snapshot>(std::move(domain))) {}

template <typename Change>
void identity_registry::publish(Change&& change) {
  std::lock_guard<std::mutex> l(writer_);
  auto before = current_.load();
  auto next = std::make_shared<identity_snapshot>(*before);
  change(*next);
  std::shared_ptr<const identity_snapshot> after = next;
  current_.store(std::move(next));
  if (watcher_) watcher_(*before, *after);
}

void identity_registry::watch(change_watcher w) {
  std::lock_guard<std::mutex> l(writer_);
  watcher_ = std::move(w);
}

std::vector<revoked_user> revoked_between(const identity_snapshot& before, const identity_snapshot& after) {
  std::vector<revoked_user> out;
  for (auto& [uri, u] : before.users_) {
    auto now = after.users_.find(uri);
    bool credentials = now == after.users_.end() || (u.enabled && !now->second.enabled) ||
                       (u.enabled && now->second.ha1 != u.ha1);
    if (credentials || (before.chat_enabled(uri) && !after.chat_enabled(uri)))
      out.push_back({uri, credentials});
  }
  return out;
}

pchat::status identity_registry::load(const storage::identities& s) {
  std::vector<storage::user_record> users;
  std::vector<storage::group_record> groups;
  std::vector<storage::policy_record> policies;
  if (auto st = s.list_users(&users); !st.is_ok()) return st;
  if (auto st = s.list_groups(&groups); !st.is_ok()) return st;
  if (auto st = s.list_policies(&policies); !st.is_ok()) return st;
  publish([&](identity_snapshot& n) {
    n.users_.clear();
    n.groups_.clear();
    n.policies_.clear();
    for (auto& u : users) n.users_[lower(u.uri)] = u;
    for (auto& g : groups) n.groups_[lower(g.name)] = g;
    for (auto& p : policies) n.policies_[p.identity] = p;
  });
  return pchat::status::ok();
}

void identity_registry::upsert_user(const storage::user_record& u) {
  if (follows_store_.load(std::memory_order_acquire)) return;
  publish([&](identity_snapshot& n) { n.users_[lower(u.uri)] = u; });
}
void identity_registry::upsert_users(const std::vector<storage::user_record>& users) {
  if (follows_store_.load(std::memory_order_acquire)) return;
  publish([&](identity_snapshot& n) {
    for (auto& u : users) n.users_[lower(u.uri)] = u;
  });
}
void identity_registry::remove_user(const std::string& uri) {
  if (follows_store_.load(std::memory_order_acquire)) return;
  publish([&](identity_snapshot& n) { n.users_.erase(lower(uri)); });
}
void identity_registry::upsert_group(const storage::group_record& g) {
  if (follows_store_.load(std::memory_order_acquire)) return;
  publish([&](identity_snapshot& n) { n.groups_[lower(g.name)] = g; });
}
void identity_registry::remove_group(const std::string& name) {
  if (follows_store_.load(std::memory_order_acquire)) return;
  publish([&](identity_snapshot& n) { n.groups_.erase(lower(name)); });
}
void identity_registry::upsert_policy(const storage::policy_record& p) {
  if (follows_store_.load(std::memory_order_acquire)) return;
  publish([&](identity_snapshot& n) { n.policies_[p.identity] = p; });
}
void identity_registry::remove_policy(const std::string& identity) {
  if (follows_store_.load(std::memory_order_acquire)) return;
  publish([&](identity_snapshot& n) { n.policies_.erase(identity); });
}

std::string identity_snapshot::ha1(const std::string& username) const {
  using L = identity_registry;
  bool user_part = username.find('@') == std::string::npos;
  std::string uri = "sip:" + L::lower(user_part ? username + "@" + domain_ : username);
  auto it = users_.find(uri);
  if (it == users_.end() || !it->second.enabled) return {};
  return user_part ? it->second.ha1_user : it->second.ha1;
}

bool identity_snapshot::known_user(const std::string& uri) const {
  return users_.count(identity_registry::lower(uri)) > 0;
}

std::string identity_snapshot::display_name(const std::string& uri) const {
  auto it = users_.find(identity_registry::lower(uri));
  return it == users_.end() ? std::string() : it->second.display_name;
}

bool identity_snapshot::chat_enabled(const std::string& uri) const {
  // Default-deny: a user the directory does not know (never made, or deleted while signed
  // in) gets nothing, never the global policy.
  auto u = users_.find(identity_registry::lower(uri));
  if (u == users_.end() || !u->second.enabled) return false;
  if (!u->second.policy.empty())
    if (auto p = policies_.find("tag:" + u->second.policy); p != policies_.end())
      return p->second.enable_persistent_chat;
  if (!u->second.site.empty())
    if (auto p = policies_.find("site:" + u->second.site); p != policies_.end())
      return p->second.enable_persistent_chat;
  auto g = policies_.find("global");
  return g != policies_.end() && g->second.enable_persistent_chat;
}

bool identity_snapshot::matches(const std::vector<storage::principal>& list, const std::string& uri,
                                int depth) const {
  if (depth > 16) return false;  // group cycles
  std::string u = identity_registry::lower(uri);
  std::string user_domain = u.substr(u.find('@') == std::string::npos ? u.size() : u.find('@') + 1);
  for (const auto& raw : list) {
    std::string p = identity_registry::lower(raw);
    if (p.rfind("sip:", 0) == 0) {
      if (p == u) return true;
    } else if (p.rfind("domain:", 0) == 0) {
      if (p.substr(7) == user_domain) return true;
    } else if (p.rfind("group:", 0) == 0) {
      auto g = groups_.find(p.substr(6));
      if (g != groups_.end() && matches(g->second.members, uri, depth + 1)) return true;
    } else if (p.find('@') != std::string::npos && "sip:" + p == u) {
      return true;  // a bare user@domain
    }
  }
  return false;
}

bool identity_snapshot::matches(const std::vector<storage::principal>& list, const std::string& uri) const {
  return matches(list, uri, 0);
}

bool identity_snapshot::in_scope(const std::string& uri, const storage::category_record& cat) const {
  if (matches(cat.denied_members, uri, 0)) return false;  // deny wins
  if (cat.allowed_members.empty()) {
    std::string u = identity_registry::lower(uri);
    auto at = u.find('@');
    return at != std::string::npos && u.substr(at + 1) == domain_;
  }
  return matches(cat.allowed_members, uri, 0);
}

room_access identity_snapshot::access(const std::string& uri, const storage::room_record& room,
                                      const storage::category_record& cat) const {
  room_access a;
  if (!chat_enabled(uri)) {
    a.reason = "Persistent Chat is not enabled for " + uri +
               (known_user(uri) ? std::string() : std::string(" (not in the user directory)"));
    return a;
  }
  if (room.disabled) {
    a.reason = "room is disabled";
    return a;
  }
  if (!in_scope(uri, cat)) {
    a.reason = uri + " is not in the scope of category " + cat.name;
    return a;
  }
  bool member = matches(room.members, uri);
  using P = storage::room_privacy;
  a.visible = room.privacy != P::secret || member;
  a.can_join = room.privacy == P::open || member;
  a.can_post = a.can_join &&
               (room.type == storage::room_type::normal || matches(room.presenters, uri));
  if (!a.can_join) a.reason = uri + " is not a member of " + room.name;
  else if (!a.can_post) a.reason = "only presenters post in the auditorium " + room.name;
  return a;
}

std::vector<std::string> identity_snapshot::expand(const std::vector<storage::principal>& list) const {
  std::vector<std::string> out;
  for (auto& [uri, u] : users_)
    if (matches(list, uri, 0)) out.push_back(uri);
  return out;
}

}  // namespace pchat::actors
