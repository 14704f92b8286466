#include "actors/directory_actor.h"

#include <caf/all.hpp>

#include <algorithm>
#include <optional>
#include <random>
#include <unordered_map>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/room_actor.h"
#include "actors/server_context.h"
#include "log/log.h"
#include "storage/database.h"
#include "protocol/xccos/chat_uri.h"

namespace pchat::actors {
namespace {

constexpr std::chrono::seconds kMaxReloadDelay{30};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Room and category ids look like Lync's GUIDs.
std::string new_guid(std::mt19937_64& rng) {
  uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

struct directory_state {
  std::shared_ptr<const server_context> ctx;
  std::unordered_map<std::string, storage::category_record> categories;
  std::unordered_map<std::string, storage::room_record> rooms;  // by id
  std::unordered_map<std::string, caf::actor> active;           // by room id
  std::unordered_map<std::string, int> counts;                  // live members by room id
  std::mt19937_64 rng{std::random_device{}()};
  std::string load_error;                // why the store could not be read (empty: serving)
  std::chrono::seconds reload_delay{1};  // before the next read, after a failed one
  static inline const char* name = "directory";

  room_view view(const storage::room_record& r) const {
    room_view v;
    v.id = r.id;
    v.uri = xccos::room_uri(ctx->domain, r.id);
    v.name = r.name;
    v.description = r.description;
    v.category_id = r.category_id;
    auto c = counts.find(r.id);
    v.user_count = c == counts.end() ? 0 : c->second;
    v.is_private = r.privacy != storage::room_privacy::open;
    v.disabled = r.disabled;
    auto cat = categories.find(r.category_id);
    v.file_post = cat != categories.end() && cat->second.file_upload;
    v.invite = cat != categories.end() && cat->second.invitations &&
               r.invitations == storage::room_invitations::inherit;
    v.logged = cat == categories.end() || cat->second.chat_history;
    return v;
  }

  // `ids`: the command's one view of users and groups (null: access control is off).
  room_access access(const identity_snapshot* ids, const std::string& user, const storage::room_record& r) const {
    if (!ids) return {false, false, false, "access control is not configured"};
    static const storage::category_record kNoCategory;
    auto c = categories.find(r.category_id);
    return ids->access(user, r, c == categories.end() ? kNoCategory : c->second);
  }
  std::shared_ptr<const identity_snapshot> identities() const {
    return ctx->identities ? ctx->identities->current() : nullptr;
  }

  // The room's category (an empty record if it has none), for the room's access checks.
  storage::category_record category_of(const storage::room_record& r) const {
    auto c = categories.find(r.category_id);
    return c == categories.end() ? storage::category_record{} : c->second;
  }

  // "ma-chan://<domain>/<id>" -> id, or empty (another domain, not a room URI).
  std::string room_id_of(const std::string& uri) const {
    return xccos::room_id_in_domain(uri, ctx->domain).value_or(std::string());
  }
};

using dir_ptr = caf::stateful_actor<directory_state>*;

// Where a room lives (docs/POOL.md): "" for this node (always, standalone), else its
// owner's name; nullopt when no node may own rooms (a pool forming, every node draining).
std::optional<std::string> owner_of(const directory_state& st, const std::string& room_id) {
  if (!st.ctx->pool) return std::string();
  auto view = st.ctx->pool->current();
  auto rank = view->rank(room_id);
  if (rank.empty()) return std::nullopt;
  if (rank.front() == view->self) return std::string();
  return rank.front();
}

caf::error no_owner(const std::string& room_id) {
  return make_error(errc::busy, "no pool node may own room " + room_id + " now; retry");
}

// A request the directory relay brought from another node: served here or refused, never
// forwarded again (the nodes' views differ for a moment around a change).
bool from_pool(dir_ptr self) {
  return self->state.ctx->directory_relay &&
         self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(self->state.ctx->directory_relay);
}

// The room's actor on this node, spawned if it is not running. Only a room's owner runs
// it: callers check owner_of() first.
caf::actor local_room(dir_ptr self, const std::string& id) {
  auto& st = self->state;
  if (auto a = st.active.find(id); a != st.active.end()) return a->second;
  // Pool: the owner's claim of the room (its epoch, docs/POOL.md "Epochs") belongs to the
  // room's start, before it serves (the replica/members parts).
  auto room = spawn_room_actor(self->system(), st.ctx, st.rooms[id], st.category_of(st.rooms[id]));
  // Linked: when the directory stops (shutdown), its rooms stop with it; a room
  // retiring normally does not affect the directory.
  self->link_to(room);
  st.active.emplace(id, room);
  return room;
}

// An admin request for room `id` (`msg`, answered with a u64): nullopt when this node owns
// the room (the caller serves it), else the answer: forwarded to the owner's directory
// through the relay, or busy.
std::optional<caf::result<caf::message>> route_admin(dir_ptr self, const std::string& id, caf::message msg) {
  auto where = owner_of(self->state, id);
  if (where && where->empty()) return std::nullopt;
  if (!where) return caf::result<caf::message>(no_owner(id));
  if (from_pool(self))
    return caf::result<caf::message>(
        make_error(errc::busy, "this node does not own room " + id + " (the pool view is changing); retry"));
  return caf::result<caf::message>(
      self->delegate(self->state.ctx->directory_relay, route_atom::value, *where, std::move(msg)));
}

// Tells the live room of another owner about a change of its settings (its directory hands
// it to the room); nothing when this node owns the room or the request came from the pool.
void notify_owner(dir_ptr self, const storage::room_record& r, const storage::category_record& c) {
  auto where = owner_of(self->state, r.id);
  if (!where || where->empty() || from_pool(self)) return;
  self->send(self->state.ctx->directory_relay, pnotify_atom::value, *where,
             caf::make_message(update_room_atom::value, r, c));
}

// Writes a new or changed room (category given by id or name) and tells its live actor.
caf::result<storage::room_record> store_room(dir_ptr self, storage::room_record r) {
  auto& st = self->state;
  if (st.categories.find(r.category_id) == st.categories.end()) {
    // Accept a category name as well as an id.
    for (auto& [id, c] : st.categories)
      if (lower(c.name) == lower(r.category_id)) {
        r.category_id = id;
        break;
      }
    if (st.categories.find(r.category_id) == st.categories.end())
      return make_error(errc::not_found, "no such category: " + r.category_id);
  }
  if (r.id.empty()) r.id = new_guid(st.rng);
  auto s = st.ctx->store->directory().put_room(r);
  if (s.is_already_exists() || s.is_invalid_argument())
    return make_error(errc::bad_request, s.reason());
  if (!s.is_ok()) return make_error(errc::storage_failure, s.to_string());
  st.rooms[r.id] = r;
  // A live room applies new settings at once: disabling it or removing a member
  // takes effect for people already in it.
  if (auto a = st.active.find(r.id); a != st.active.end())
    self->send(a->second, update_room_atom::value, r, st.category_of(r));
  notify_owner(self, r, st.category_of(r));
  return r;
}

// Reads every category and room into `st`; on failure `st` is left as it was.
pchat::status load(directory_state& st) {
  std::vector<storage::category_record> cats;
  if (auto s = st.ctx->store->directory().list_categories(&cats); !s.is_ok()) return s;
  std::vector<storage::room_record> rooms;
  if (auto s = st.ctx->store->directory().list_rooms(&rooms); !s.is_ok()) return s;
  st.categories.clear();
  for (auto& c : cats) st.categories.emplace(c.id, std::move(c));
  st.rooms.clear();
  for (auto& r : rooms) st.rooms.emplace(r.id, std::move(r));
  return pchat::status::ok();
}

caf::behavior serving(dir_ptr self);

// The directory could not read the store: every request is answered storage_failure (never
// served from a partial directory, where a room whose category is missing would be open to
// the whole domain) and the store is read again after reload_delay, doubling up to
// kMaxReloadDelay, until it can be.
caf::behavior unreadable(dir_ptr self, const pchat::status& why) {
  auto& st = self->state;
  st.load_error = why.to_string();
  PCHAT_LOG(error, "directory", "cannot read the categories and rooms; every request refused until it can",
            "error=" + log::quote(st.load_error) + " retry_s=" + std::to_string(st.reload_delay.count()) +
                " action=" + log::quote("check the data directory and the store's log"));
  self->set_default_handler([self](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
    return make_error(errc::storage_failure,
                      "the directory cannot read the store: " + self->state.load_error);
  });
  self->delayed_send(self, st.reload_delay, reload_atom::value);
  return {
      [=](reload_atom) {
        auto& st = self->state;
        st.reload_delay = std::min(st.reload_delay * 2, kMaxReloadDelay);
        if (auto s = load(st); !s.is_ok()) {
          self->become(unreadable(self, s));
          return;
        }
        PCHAT_LOG(info, "directory", "categories and rooms readable again; serving",
                  "categories=" + std::to_string(st.categories.size()) +
                      " rooms=" + std::to_string(st.rooms.size()));
        st.load_error.clear();
        self->set_default_handler(caf::print_and_drop);
        self->become(serving(self));
      },
  };
}

// Spawned before the context that names it (server_context.h): it waits for that context,
// keeping any other message in its mailbox until then, and then reads the store.
caf::behavior directory_actor(dir_ptr self) {
  self->set_default_handler(caf::skip);
  return {
      [=](start_atom, std::shared_ptr<const server_context> ctx) {
        self->set_default_handler(caf::print_and_drop);  // CAF's default again
        self->state.ctx = std::move(ctx);
        if (auto s = load(self->state); !s.is_ok()) self->become(unreadable(self, s));
        else self->become(serving(self));
      },
  };
}

// Another pool node's change was applied to the store (actors/directory_log.h): read the
// categories and rooms again and tell each live room whose settings or category changed,
// as store_room does for a local change; a live room removed elsewhere is told it is
// disabled (its members leave) and forgotten, as remove_room_atom does.
void resync(dir_ptr self) {
  auto& st = self->state;
  directory_state fresh;
  fresh.ctx = st.ctx;
  if (auto s = load(fresh); !s.is_ok()) {
    PCHAT_LOG(warn, "directory", "cannot read the categories and rooms after a pool directory change; keeping the previous ones",
              "error=" + log::quote(s.to_string()));
    return;
  }
  for (auto a = st.active.begin(); a != st.active.end();) {
    auto now = fresh.rooms.find(a->first);
    auto before = st.rooms.find(a->first);
    if (now == fresh.rooms.end()) {
      if (before != st.rooms.end()) {
        storage::room_record gone = before->second;
        gone.disabled = true;
        self->send(a->second, update_room_atom::value, gone, st.category_of(gone));
      }
      st.counts.erase(a->first);
      a = st.active.erase(a);
      continue;
    }
    auto category = fresh.category_of(now->second);
    if (before == st.rooms.end() || !(before->second == now->second) || !(st.category_of(before->second) == category))
      self->send(a->second, update_room_atom::value, now->second, category);
    ++a;
  }
  st.categories = std::move(fresh.categories);
  st.rooms = std::move(fresh.rooms);
}

caf::behavior serving(dir_ptr self) {
  return {
      [=](dirsync_atom) { resync(self); },
      [=](access_changed_atom) {
        // Revocation (docs/SECURITY.md): whoever lost a room through a group, a policy or a
        // deleted user leaves it now, told as when a room's settings change.
        auto& st = self->state;
        for (auto& [id, room] : st.active)
          if (auto r = st.rooms.find(id); r != st.rooms.end())
            self->send(room, update_room_atom::value, r->second, st.category_of(r->second));
      },
      [=](lookup_atom, const std::string& uri, const std::string& user) -> caf::result<caf::message> {
        auto& st = self->state;
        std::string id = st.room_id_of(uri);
        auto it = st.rooms.find(id);
        if (id.empty() || it == st.rooms.end())
          return make_error(errc::not_found, "no such room: " + uri);
        // Default-deny: the room model decides who may join (reference §1.3). A room the
        // user may not even see is reported as missing, so secret rooms do not leak.
        room_access acc = st.access(st.identities().get(), user, it->second);
        if (!acc.visible) return make_error(errc::not_found, "no such room: " + uri);
        if (!acc.can_join) return make_error(errc::forbidden, acc.reason);
        auto where = owner_of(st, id);
        if (!where) return no_owner(id);
        // Another node's room: its directory answers with its (remote) room actor.
        if (!where->empty())
          return self->delegate(st.ctx->directory_relay, own_lookup_atom::value, *where, id);
        return caf::make_message(local_room(self, id));
      },
      [=](own_lookup_atom, const std::string& id) -> caf::result<caf::message> {
        // Another node's lookup (through the relay; that node checked the user's access).
        auto& st = self->state;
        if (st.rooms.find(id) == st.rooms.end())
          return make_error(errc::busy, "room " + id + " is not known on this node yet; retry");
        auto where = owner_of(st, id);
        if (!where) return no_owner(id);
        if (!where->empty())
          return make_error(errc::busy, "this node does not own room " + id + " (the pool view is changing); retry");
        return caf::make_message(local_room(self, id));
      },
      [=](update_room_atom, const storage::room_record& r, const storage::category_record& c) {
        // Another node's directory changed a room this node runs (notify_owner).
        auto& st = self->state;
        if (auto a = st.active.find(r.id); a != st.active.end())
          self->send(a->second, update_room_atom::value, r, c);
      },
      [=](clear_atom, const std::string& key, int64_t before, const std::string& admin) -> caf::result<caf::message> {
        auto& st = self->state;
        std::string id = st.room_id_of(key);
        if (st.rooms.find(id) == st.rooms.end()) id = key;
        if (st.rooms.find(id) == st.rooms.end()) {
          id.clear();
          for (auto& [rid, r] : st.rooms)
            if (lower(r.name) == lower(key)) id = rid;
        }
        if (id.empty()) return make_error(errc::not_found, "no such room: " + key);
        if (auto routed = route_admin(self, id, caf::make_message(clear_atom::value, id, before, admin)))
          return std::move(*routed);
        return self->delegate(local_room(self, id), clear_atom::value, id, before, admin);
      },
      [=](replace_atom, const message_filter& f) -> caf::result<caf::message> {
        auto& st = self->state;
        // The room by id, URI or name; its actor does the work (it owns the cache).
        std::string id = st.room_id_of(f.room);
        if (st.rooms.find(id) == st.rooms.end()) id = f.room;
        if (st.rooms.find(id) == st.rooms.end()) {
          id.clear();
          for (auto& [rid, r] : st.rooms)
            if (lower(r.name) == lower(f.room)) id = rid;
        }
        if (id.empty()) return make_error(errc::not_found, "no such room: " + f.room);
        if (st.ctx->pool) {
          message_filter by_id = f;
          by_id.room = id;  // the owner finds it by id whatever its view of names
          if (auto routed = route_admin(self, id, caf::make_message(replace_atom::value, std::move(by_id))))
            return std::move(*routed);
        }
        return self->delegate(local_room(self, id), replace_atom::value, f);
      },
      [=](import_atom, const std::string& id,
          std::vector<storage::message_record>& msgs) -> caf::result<caf::message> {
        // Archive import of one room's messages (by room id); its actor writes them.
        auto& st = self->state;
        auto r = st.rooms.find(id);
        if (r == st.rooms.end()) return make_error(errc::not_found, "no such room: " + id);
        if (st.ctx->pool)
          if (auto routed = route_admin(self, id, caf::make_message(import_atom::value, id, msgs)))
            return std::move(*routed);
        return self->delegate(local_room(self, id), import_atom::value, id, std::move(msgs));
      },
      // A new pool view (ctx->pool; where a room lives is read from the view when a lookup
      // needs it): every live room checks it (pool_check): one this node no longer owns
      // hands itself off, one whose follower is drained replaces it.
      [=](pool_changed_atom, uint64_t) {
        auto& st = self->state;
        if (!st.ctx->pool) return;
        for (auto& [id, room] : st.active) self->send(room, pool_check_atom::value);
      },
      [=](retire_atom, const std::string& id) {
        auto& st = self->state;
        auto a = st.active.find(id);
        if (a != st.active.end() &&
            a->second.address() == caf::actor_cast<caf::actor_addr>(self->current_sender()))
          st.active.erase(a);
        st.counts.erase(id);
        return caf::make_message(caf::ok_atom::value);
      },
      [=](count_atom, const std::string& id, int n) { self->state.counts[id] = n; },
      [=](search_atom, const std::string& criteria, const std::string& user) {
        // Bounded: at most kMaxSearchResults rooms and kSearchBudget of this thread per
        // search (the directory serves every lookup), so a flood of searches over many rooms
        // cannot starve joins. A search cut short answers what it found.
        auto& st = self->state;
        std::string needle = lower(criteria);
        std::vector<room_view> out;
        auto deadline = std::chrono::steady_clock::now() + kSearchBudget;
        size_t scanned = 0;
        auto ids = st.identities();
        for (auto& [id, r] : st.rooms) {
          if (out.size() >= kMaxSearchResults) break;
          if (++scanned % 256 == 0 && std::chrono::steady_clock::now() > deadline) break;
          if (r.disabled) continue;
          if (!needle.empty() && lower(r.name).find(needle) == std::string::npos &&
              lower(r.description).find(needle) == std::string::npos)
            continue;
          if (!st.access(ids.get(), user, r).visible) continue;
          out.push_back(st.view(r));
        }
        std::sort(out.begin(), out.end(),
                  [](const room_view& a, const room_view& b) { return lower(a.name) < lower(b.name); });
        return out;
      },
      [=](list_rooms_atom) {
        auto& st = self->state;
        std::vector<room_view> out;
        for (auto& [id, r] : st.rooms) out.push_back(st.view(r));
        std::sort(out.begin(), out.end(),
                  [](const room_view& a, const room_view& b) { return lower(a.name) < lower(b.name); });
        return out;
      },
      [=](list_categories_atom) {
        std::vector<storage::category_record> out;
        for (auto& [id, c] : self->state.categories) out.push_back(c);
        std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return lower(a.name) < lower(b.name); });
        return out;
      },
      [=](remove_room_atom, const std::string& id) -> caf::result<caf::message> {
        auto& st = self->state;
        auto it = st.rooms.find(id);
        if (it == st.rooms.end()) return make_error(errc::not_found, "no such room: " + id);
        if (auto s = st.ctx->store->directory().delete_room(id); !s.is_ok())
          return make_error(errc::storage_failure, s.to_string());
        // A live room first removes its members (as when disabled), then stops.
        storage::room_record gone = it->second;
        gone.disabled = true;
        notify_owner(self, gone, st.category_of(gone));
        if (auto a = st.active.find(id); a != st.active.end()) {
          self->send(a->second, update_room_atom::value, gone, st.category_of(gone));
          // No exit: the empty room retires by itself, and no lookup finds it any more.
          st.active.erase(a);
        }
        st.rooms.erase(it);
        st.counts.erase(id);
        return caf::make_message(caf::ok_atom::value);
      },
      [=](remove_category_atom, const std::string& id) -> caf::result<caf::message> {
        auto& st = self->state;
        if (st.categories.find(id) == st.categories.end())
          return make_error(errc::not_found, "no such category: " + id);
        auto s = st.ctx->store->directory().delete_category(id);
        if (s.is_invalid_argument()) return make_error(errc::bad_request, s.reason());
        if (!s.is_ok()) return make_error(errc::storage_failure, s.to_string());
        st.categories.erase(id);
        return caf::make_message(caf::ok_atom::value);
      },
      [=](new_category_atom, storage::category_record c) -> caf::result<storage::category_record> {
        auto& st = self->state;
        if (c.id.empty()) c.id = new_guid(st.rng);
        auto s = st.ctx->store->directory().put_category(c);
        if (s.is_already_exists()) return make_error(errc::bad_request, s.reason());
        if (s.is_invalid_argument()) return make_error(errc::bad_request, s.reason());
        if (!s.is_ok()) return make_error(errc::storage_failure, s.to_string());
        st.categories[c.id] = c;
        // A changed scope applies to people already in the category's live rooms.
        for (auto& [rid, room] : st.active)
          if (auto r = st.rooms.find(rid); r != st.rooms.end() && r->second.category_id == c.id)
            self->send(room, update_room_atom::value, r->second, c);
        if (st.ctx->pool)
          for (auto& [rid, r] : st.rooms)
            if (r.category_id == c.id) notify_owner(self, r, c);
        return c;
      },
      [=](replace_room_atom, const storage::room_record& before,
          storage::room_record r) -> caf::result<storage::room_record> {
        // Compare-and-replace: an edit computed from a copy read earlier must not undo what
        // happened since (an administrator's change, another manager's edit, a removal).
        auto& st = self->state;
        auto it = st.rooms.find(before.id);
        if (it == st.rooms.end()) return make_error(errc::not_found, "no such room: " + before.id);
        if (!(it->second == before))
          return make_error(errc::bad_request,
                            "room " + before.name + " changed meanwhile; load it again and retry");
        if (r.id != before.id) return make_error(errc::bad_request, "a room's id cannot change");
        return store_room(self, std::move(r));
      },
      [=](new_room_atom, storage::room_record r) -> caf::result<storage::room_record> {
        return store_room(self, std::move(r));
      },
  };
}

}  // namespace

caf::actor spawn_directory_actor(caf::actor_system& sys) {
  return sys.spawn<caf::detached>(directory_actor);
}

}  // namespace pchat::actors
