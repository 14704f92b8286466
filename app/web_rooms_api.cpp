#include "app/web_rooms_api.h"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "app/web_client_api.h"
#include "app/web_sign_ins.h"
#include "log/log.h"
#include "protocol/webchat/read_markers.h"
#include "protocol/xccos/chat_uri.h"
#include "protocol/xccos/followed_rooms.h"
#include "storage/database.h"
#include "storage/directory.h"
#include "storage/message_log.h"
#include "storage/preferences.h"
#include "text/utc_time.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;
constexpr size_t kMaxQuery = 256;
constexpr size_t kMaxRoomUri = 512;
constexpr size_t kMaxInvitationsRead = 1000;  // of one user, per request
constexpr size_t kMaxInvitationsShown = 100;  // the newest

struct rooms_state {
  // Follows, unfollows and read markers of this node's browsers: read, change, write one at
  // a time.
  std::mutex follow_mu;
};

using markers = std::map<std::string, uint64_t>;  // room URI -> seq read through

std::string param(const web::http_request& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

// The room as `user` may see it now, or nullopt (unknown, disabled, hidden: default-deny).
std::optional<json> room_json(const actors::server_context& ctx,
                              const actors::identity_snapshot& ids, const std::string& user,
                              const std::string& room_id, int users, bool followed) {
  storage::room_record r;
  if (room_id.empty() || !ctx.store->directory().get_room(room_id, &r).is_ok() || r.disabled)
    return std::nullopt;
  storage::category_record cat;  // none: the empty category, as the directory actor checks
  if (!r.category_id.empty() && !ctx.store->directory().get_category(r.category_id, &cat).is_ok())
    cat = storage::category_record{};
  auto acc = ids.access(user, r, cat);
  if (!acc.visible) return std::nullopt;
  const char* privacy = r.privacy == storage::room_privacy::open     ? "open"
                        : r.privacy == storage::room_privacy::closed ? "closed"
                                                                     : "secret";
  const char* role = ids.matches(r.managers, user)     ? "manager"
                     : ids.matches(r.presenters, user) ? "presenter"
                     : ids.matches(r.members, user)    ? "member"
                                                       : "";
  json j{{"uri", xccos::room_uri(ctx.domain, r.id)},
         {"name", r.name},
         {"description", r.description},
         {"topic", r.topic},
         {"privacy", privacy},
         {"role", role},
         {"can_join", acc.can_join},
         {"can_post", acc.can_post},
         {"followed", followed}};
  if (users >= 0) j["users"] = users;
  return j;
}

// The user's followed room URIs as stored (kedzie.GroupChannels); false when unreadable.
bool followed_uris(const actors::server_context& ctx, const std::string& user,
                   std::vector<std::string>* out) {
  std::string stored;
  auto s = ctx.store->preferences().get(user, xccos::kFollowedRoomsLabel, &stored);
  if (!s.is_ok() && !s.is_not_found()) return false;
  *out = s.is_ok() ? xccos::decode_followed_rooms(stored) : std::vector<std::string>{};
  return true;
}

// The user's read markers as stored; false when unreadable.
bool read_markers(const actors::server_context& ctx, const std::string& user, markers* out) {
  std::string stored;
  auto s = ctx.store->preferences().get(user, webchat::kReadMarkersLabel, &stored);
  if (!s.is_ok() && !s.is_not_found()) return false;
  *out = s.is_ok() ? webchat::decode_read_markers(stored) : markers{};
  return true;
}

// The newest seq of the room's log on this node (0: no message, or no copy of the log here).
uint64_t last_seq(const actors::server_context& ctx, const std::string& room_id) {
  uint64_t seq = 0;
  return ctx.store->messages().last_sequence(room_id, &seq).is_ok() ? seq : 0;
}

// The followed rooms the user may see now, in the order they were followed, each with its
// newest seq and, once it has a read marker, the marker and the messages after it (unread).
json follows_json(const actors::server_context& ctx, const actors::identity_snapshot& ids,
                  const std::string& user, const std::vector<std::string>& uris,
                  const markers& read) {
  json rooms = json::array();
  for (auto& uri : uris) {
    std::string id = xccos::room_id_in_domain(uri, ctx.domain).value_or("");
    auto j = room_json(ctx, ids, user, id, -1, true);
    if (!j) continue;
    uint64_t last = last_seq(ctx, id);
    (*j)["last_seq"] = last;
    auto m = read.find(uri);
    (*j)["unread"] = m == read.end() || m->second >= last ? 0 : last - m->second;
    if (m != read.end()) (*j)["read"] = m->second;
    rooms.push_back(std::move(*j));
  }
  return rooms;
}

// Keeps markers of followed rooms only (bounded by the followed list).
void prune(markers* read, const std::vector<std::string>& followed) {
  for (auto it = read->begin(); it != read->end();)
    it = std::find(followed.begin(), followed.end(), it->first) == followed.end() ? read->erase(it)
                                                                                  : std::next(it);
}

web::http_response search_rooms(caf::actor_system& sys, const actors::server_context& ctx,
                                const actors::identity_snapshot& ids, const std::string& user,
                                const web::http_request& req) {
  std::string q = param(req, "q");
  if (q.size() > kMaxQuery) return error(400, "q: at most " + std::to_string(kMaxQuery) + " bytes");
  std::vector<std::string> followed;
  if (!followed_uris(ctx, user, &followed))
    return error(503, "your followed rooms could not be read; retry");
  // The search SIP clients get (cmd:chansrch): the directory's, with its access checks.
  caf::scoped_actor self{sys};
  std::vector<actors::room_view> found;
  caf::error failed;
  self->request(ctx.directory, ctx.request_timeout, actors::search_atom::value, q, user)
      .receive([&](std::vector<actors::room_view>& r) { found = std::move(r); },
               [&](caf::error& err) { failed = std::move(err); });
  if (failed) return error(503, "room search unavailable: " + sys.render(failed));
  json rooms = json::array();
  for (auto& v : found) {
    bool f = std::find(followed.begin(), followed.end(), v.uri) != followed.end();
    // Checked again against the record: the view says nothing of roles.
    if (auto j = room_json(ctx, ids, user, v.id, v.user_count, f)) rooms.push_back(std::move(*j));
  }
  return reply(200, json{{"rooms", std::move(rooms)}});
}

web::http_response change_follow(caf::actor_system& sys, const actors::server_context& ctx,
                                 rooms_state& st, const actors::identity_snapshot& ids,
                                 const std::string& user, const std::string& uri, bool on) {
  if (uri.empty() || uri.size() > kMaxRoomUri)
    return error(400, "room: a room URI (ma-chan://...) of at most " + std::to_string(kMaxRoomUri) +
                          " bytes");
  // Only a room the user may see now can be followed (a secret room's URI proves nothing).
  if (on &&
      !room_json(ctx, ids, user, xccos::room_id_in_domain(uri, ctx.domain).value_or(""), -1, false))
    return error(404, "no such room: " + uri);
  std::lock_guard<std::mutex> lock(st.follow_mu);
  std::vector<std::string> rooms;
  markers read;
  if (!followed_uris(ctx, user, &rooms) || !read_markers(ctx, user, &read))
    return error(503, "your followed rooms could not be read; retry");
  auto it = std::find(rooms.begin(), rooms.end(), uri);
  if (on != (it != rooms.end())) {
    if (on && rooms.size() >= xccos::kMaxFollowedRooms)
      return error(413, "at most " + std::to_string(xccos::kMaxFollowedRooms) +
                            " followed rooms; unfollow one first");
    if (on)
      rooms.push_back(uri);
    else
      rooms.erase(it);
    if (auto refused = web_put_pref(sys, ctx, user, xccos::kFollowedRoomsLabel,
                                    xccos::encode_followed_rooms(rooms)))
      return *refused;
    // A room followed now counts what is posted from now on.
    if (on) read[uri] = last_seq(ctx, xccos::room_id_in_domain(uri, ctx.domain).value_or(""));
    prune(&read, rooms);
    if (auto refused = web_put_pref(sys, ctx, user, webchat::kReadMarkersLabel,
                                    webchat::encode_read_markers(read)))
      return *refused;
    log::write(log::level::info, "web", on ? "followed a room" : "unfollowed a room",
               "user=" + log::quote(user) + " room=" + log::quote(uri));
  }
  return reply(200, json{{"rooms", follows_json(ctx, ids, user, rooms, read)}});
}

// The user has read the followed room through `seq`: its marker moves forward (never back,
// never past the room's newest message), for every browser of the user.
web::http_response mark_read(caf::actor_system& sys, const actors::server_context& ctx,
                             rooms_state& st, const actors::identity_snapshot& ids,
                             const std::string& user, const std::string& uri, uint64_t seq) {
  std::lock_guard<std::mutex> lock(st.follow_mu);
  std::vector<std::string> rooms;
  markers read;
  if (!followed_uris(ctx, user, &rooms) || !read_markers(ctx, user, &read))
    return error(503, "your followed rooms could not be read; retry");
  if (std::find(rooms.begin(), rooms.end(), uri) == rooms.end())
    return error(404, "you do not follow " + uri);
  uint64_t to =
      std::min(seq, last_seq(ctx, xccos::room_id_in_domain(uri, ctx.domain).value_or("")));
  auto m = read.find(uri);
  if (m == read.end() || m->second < to) {
    read[uri] = to;
    prune(&read, rooms);
    if (auto refused = web_put_pref(sys, ctx, user, webchat::kReadMarkersLabel,
                                    webchat::encode_read_markers(read)))
      return *refused;
  }
  return reply(200, json{{"rooms", follows_json(ctx, ids, user, rooms, read)}});
}

web::http_response invitations(const actors::server_context& ctx,
                               const actors::identity_snapshot& ids, const std::string& user) {
  std::vector<std::string> followed;
  if (!followed_uris(ctx, user, &followed))
    return error(503, "your followed rooms could not be read; retry");
  std::vector<storage::invitation_record> found;
  if (auto s = ctx.store->directory().list_invitations(user, 0, kMaxInvitationsRead, &found);
      !s.is_ok())
    return error(503, "invitations could not be read: " + s.to_string());
  json out = json::array();
  for (auto it = found.rbegin(); it != found.rend() && out.size() < kMaxInvitationsShown; ++it) {
    std::string uri = xccos::room_uri(ctx.domain, it->room_id);
    if (std::find(followed.begin(), followed.end(), uri) != followed.end()) continue;  // accepted
    auto room = room_json(ctx, ids, user, it->room_id, -1, false);
    if (!room || !(*room)["can_join"].get<bool>()) continue;  // gone, or no longer theirs
    out.push_back({{"id", std::to_string(it->id)},
                   {"room", uri},
                   {"name", (*room)["name"]},
                   {"inviter", it->inviter},
                   {"ts", utc::xccos_timestamp(it->ts_micros)}});
  }
  return reply(200, json{{"invitations", std::move(out)}});
}

web::http_response handle(caf::actor_system& sys, const actors::server_context& ctx,
                          web_sign_ins& sign_ins, rooms_state& st, const web::http_request& req) {
  auto in = web_signed_in(ctx, sign_ins, req);
  if (!in) return error(401, "sign in first (POST /api/web/session)");
  auto ids = ctx.identities ? ctx.identities->current() : nullptr;
  if (!ids || !ids->chat_enabled(in->user))
    return error(403, "Persistent Chat is not enabled for " + in->user);
  const std::string& user = in->user;
  if (req.path == "/api/web/rooms") {
    if (req.method != "GET") return error(405, "use GET");
    return search_rooms(sys, ctx, *ids, user, req);
  }
  if (req.path == "/api/web/follows") {
    if (req.method == "GET") {
      std::vector<std::string> uris;
      markers read;
      if (!followed_uris(ctx, user, &uris) || !read_markers(ctx, user, &read))
        return error(503, "your followed rooms could not be read; retry");
      return reply(200, json{{"rooms", follows_json(ctx, *ids, user, uris, read)}});
    }
    if (req.method != "POST" && req.method != "DELETE")
      return error(405, "use GET, POST or DELETE");
    if (auto refused = web_write_refused(*in, req)) return *refused;
    if (req.method == "DELETE")
      return change_follow(sys, ctx, st, *ids, user, param(req, "room"), false);
    auto j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("room") || !j["room"].is_string())
      return error(400, "send {\"room\": \"ma-chan://...\"}");
    return change_follow(sys, ctx, st, *ids, user, j["room"].get<std::string>(), true);
  }
  if (req.path == "/api/web/read") {
    if (req.method != "POST") return error(405, "use POST");
    if (auto refused = web_write_refused(*in, req)) return *refused;
    auto j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("room") || !j["room"].is_string() ||
        !j.contains("seq") || !j["seq"].is_number_unsigned())
      return error(400, "send {\"room\": \"ma-chan://...\", \"seq\": N}");
    std::string uri = j["room"].get<std::string>();
    if (uri.empty() || uri.size() > kMaxRoomUri) return error(400, "room: a room URI");
    return mark_read(sys, ctx, st, *ids, user, uri, j["seq"].get<uint64_t>());
  }
  if (req.path == "/api/web/invitations") {
    if (req.method != "GET") return error(405, "use GET");
    return invitations(ctx, *ids, user);
  }
  return {404, "text/plain; charset=utf-8", "not found\n", {}, nullptr};
}

}  // namespace

// Stores one preference through the node's preference writer (quota, synced, shared in a
// pool), as a SIP client's setpref; the refusal to send if it was not stored.
std::optional<web::http_response> web_put_pref(caf::actor_system& sys,
                                               const actors::server_context& ctx,
                                               const std::string& user, const std::string& label,
                                               const std::string& value) {
  caf::scoped_actor self{sys};
  caf::error failed;
  self->request(ctx.commit, ctx.commit_timeout + ctx.request_timeout, actors::set_pref_atom::value,
                user, label, value)
      .receive([](uint64_t) {}, [&](caf::error& err) { failed = std::move(err); });
  if (!failed) return std::nullopt;
  actors::errc code;
  std::string reason;
  if (actors::decode_error(failed, &code, &reason) && code == actors::errc::quota_exceeded)
    return error(413, reason);
  return error(503, "not saved: " + (reason.empty() ? sys.render(failed) : reason) + "; retry");
}

web::http_handler make_web_rooms_api(caf::actor_system& sys,
                                     std::shared_ptr<const actors::server_context> ctx,
                                     std::shared_ptr<web_sign_ins> sign_ins,
                                     web::http_handler next) {
  auto st = std::make_shared<rooms_state>();
  return [&sys, ctx, sign_ins, st,
          next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (req.path.rfind("/api/web/", 0) == 0) return handle(sys, *ctx, *sign_ins, *st, req);
    return next(req);
  };
}

}  // namespace pchat::app
