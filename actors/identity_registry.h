// identity_registry: the node's in-memory view of users, groups and Persistent Chat
// policies, and the access rules of the room model (reference §1.3–1.5). Loaded from the
// store at start; the admin API writes the store first, then updates the registry.
//
// Principals in member lists: "sip:user@domain" (case-insensitive), "group:<name>"
// (recursive, cycles ignored) and "domain:<domain>".
// Scope of a category: its AllowedMembers minus its DeniedMembers (deny wins); an empty
// AllowedMembers means everyone in the server's domain (Lync's initial root scope).
// Access (reference §1.3): Open rooms: anyone in scope finds, joins, reads and posts;
// Closed: anyone in scope finds it, members join/read/post; Secret: only members find it
// or join. Auditorium rooms: only presenters post. Disabled rooms: nobody. Managers and
// presenters must also be members, as in Lync. A user whose effective policy has
// EnablePersistentChat false may do nothing (user tag > site > global; no policy = false);
// a user the registry does not know, or a disabled one, may do nothing whatever the
// policies say (default-deny: the global policy applies to known users only).
//
// Threads: the registry publishes immutable snapshots. A reader takes current() once per
// command (an actor's message, an HTTP request, a SIP challenge) and asks every question
// of that one snapshot, so a command never sees half of an admin change (a user without
// the group that came with it). A writer (the HTTP handler threads, start-up) builds a new
// snapshot from the current one and swaps it in atomically; writers are serialised among
// themselves, never against readers. A write copies the snapshot (O(users + groups +
// policies)): admin changes are rare, reads are on every command. current() is cheap
// enough for the SIP thread (ha1 on every challenge).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/records.h"
#include "status/status.h"

namespace pchat::storage {
class identities;
}

namespace pchat::actors {

struct room_access {
  bool visible = false;   // appears in room search
  bool can_join = false;  // join, read history
  bool can_post = false;
  std::string reason;     // why not, for the XCCOS error text
};

// A user who lost access between two snapshots (revoked_between).
struct revoked_user {
  std::string uri;           // lower-case "sip:user@domain"
  bool credentials = false;  // deleted, disabled or a new password: trusted connections sign in again
};

// One consistent, immutable view of users, groups and policies. Every method is const and
// may be called from any thread without locking.
class identity_snapshot {
 public:
  explicit identity_snapshot(std::string domain);

  // H(A1) for a Digest username as sent: the whole address ("alice@example.com", the
  // address HA1) or the user part alone ("alice", the user-part HA1, as standard SIP
  // clients answer); empty if unknown, disabled, or that form has no HA1.
  std::string ha1(const std::string& username) const;
  bool known_user(const std::string& uri) const;
  std::string display_name(const std::string& uri) const;
  // EnablePersistentChat for the user (user tag > site > global); false for a user that is
  // unknown or disabled.
  bool chat_enabled(const std::string& uri) const;
  bool matches(const std::vector<storage::principal>& list, const std::string& uri) const;
  bool in_scope(const std::string& uri, const storage::category_record& cat) const;
  room_access access(const std::string& uri, const storage::room_record& room,
                     const storage::category_record& cat) const;
  // Members of a list expanded to user URIs (known users, groups, domains); for tests and
  // Get-CsPersistentChatEligiblePrincipal.
  std::vector<std::string> expand(const std::vector<storage::principal>& list) const;

 private:
  friend class identity_registry;
  friend std::vector<revoked_user> revoked_between(const identity_snapshot&, const identity_snapshot&);
  bool matches(const std::vector<storage::principal>& list, const std::string& uri, int depth) const;
  std::string domain_;
  std::unordered_map<std::string, storage::user_record> users_;    // by lower uri
  std::unordered_map<std::string, storage::group_record> groups_;  // by lower name
  std::unordered_map<std::string, storage::policy_record> policies_;
};

// Users of `before` who lost access in `after`: their sign-in credentials changed (deleted,
// disabled, a new password) or their effective policy turned Persistent Chat off. O(users
// of `before`); called once per published change. Room-level losses (groups, members,
// scopes) are not listed: live rooms re-check their rosters for those.
std::vector<revoked_user> revoked_between(const identity_snapshot& before, const identity_snapshot& after);

class identity_registry {
 public:
  // Called with the snapshots before and after every published change (standalone writes
  // and a pool node's reloads alike), in the order they were published, on the writer's
  // thread with the writers' lock held: it must not block (send messages and return) and
  // must not write to the registry.
  using change_watcher = std::function<void(const identity_snapshot& before, const identity_snapshot& after)>;

  // Starts empty (everything denied: no policy enables chat) until load() or a write.
  explicit identity_registry(std::string domain);
  identity_registry(const identity_registry&) = delete;
  identity_registry& operator=(const identity_registry&) = delete;

  // Replaces the whole view with the store's users, groups and policies. On error the
  // current view stays.
  pchat::status load(const storage::identities& s);

  // A pool node's registry follows its store: the directory log (directory_log.h) loads it
  // after applying every change, before the writer's call returns, so the upserts and
  // removes below (made by the writer afterwards) do nothing: with changes of other nodes
  // applied in between, they could put back an older record than the store holds.
  void follow_store() { follows_store_.store(true, std::memory_order_release); }

  // Installs the one watcher (replacing any); empty removes it. server_node installs the
  // revocation of live sessions and room memberships here (docs/SECURITY.md "Revocation").
  void watch(change_watcher w);

  void upsert_user(const storage::user_record& u);
  void upsert_users(const std::vector<storage::user_record>& users);  // one snapshot for all
  void remove_user(const std::string& uri);
  void upsert_group(const storage::group_record& g);
  void remove_group(const std::string& name);
  void upsert_policy(const storage::policy_record& p);
  void remove_policy(const std::string& identity);

  // The view now in force; never null. Hold it for one command, not longer (it is not
  // updated: a later admin change is seen by the next current()).
  std::shared_ptr<const identity_snapshot> current() const { return current_.load(); }

  static std::string lower(std::string s);

 private:
  // Builds the next snapshot from the current one with `change` applied, then publishes it.
  template <typename Change>
  void publish(Change&& change);
  std::mutex writer_;  // one writer at a time: no lost update between two admin requests
  change_watcher watcher_;  // guarded by writer_
  std::atomic<bool> follows_store_{false};
  std::atomic<std::shared_ptr<const identity_snapshot>> current_;
};

}  // namespace pchat::actors
