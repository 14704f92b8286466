#include "app/room_management_api.h"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <tuple>
#include <variant>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "app/json_text.h"
#include "app/room_settings.h"
#include "app/user_auth.h"
#include "storage/database.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;
constexpr auto kTimeout = std::chrono::seconds(10);


// A room as the admin API shows it, with its topic and its category's name ("category",
// empty when the category is gone or unreadable).
json room_view_json(const storage::database& store, const storage::room_record& r, const std::string& domain) {
  json j = room_json(r, domain);
  j["topic"] = r.topic;
  storage::category_record c;
  j["category"] = store.directory().get_category(r.category_id, &c).is_ok() ? c.name : std::string();
  return j;
}

// What the store accepts as a room name (store.cpp check_name_and_description): 1..256
// characters (UTF-8 code points).
bool valid_room_name(const std::string& n) {
  size_t chars = 0;
  for (unsigned char c : n) chars += (c & 0xc0) != 0x80;
  return chars >= 1 && chars <= 256;
}

// A refusal naming the form field it is about, so the page can show it next to that field.
web::http_response field_error(int status, const std::string& field, const std::string& what) {
  return reply(status, json{{"error", what}, {"field", field}});
}

// What is wrong with the name and lists of `r` (as `before` was, or new), as a field
// refusal, or nullopt: a new name of only spaces, a name another room has (named, not by
// its internal id), a principal that is neither "sip:user@domain", a known "group:NAME" nor
// "domain:NAME" (only those `before` lacked are checked: old rooms keep what they have).
std::optional<web::http_response> invalid_settings(const storage::database& store, const storage::room_record& r,
                                                   const storage::room_record* before) {
  bool renamed = !before || before->name != r.name;
  if (renamed && r.name.find_first_not_of(" \t\r\n") == std::string::npos)
    return field_error(400, "name", "give the room a name (not only spaces)");
  if (renamed && !valid_room_name(r.name)) return field_error(400, "name", "a room name has at most 256 characters");
  if (!before || actors::identity_registry::lower(before->name) != actors::identity_registry::lower(r.name)) {
    std::string id;
    auto s = store.directory().find_room_by_name(r.name, &id);
    if (s.is_ok() && (!before || id != before->id)) return field_error(409, "name", "a room named " + r.name + " exists");
    if (!s.is_ok() && !s.is_not_found()) return error(503, "store: " + s.to_string());
  }
  for (auto [field, list, old] : {std::tuple{"members", &r.members, before ? &before->members : nullptr},
                                  std::tuple{"managers", &r.managers, before ? &before->managers : nullptr},
                                  std::tuple{"presenters", &r.presenters, before ? &before->presenters : nullptr}}) {
    for (const auto& p : *list) {
      if (old && std::find(old->begin(), old->end(), p) != old->end()) continue;
      if (p.rfind("sip:", 0) == 0) {
        auto at = p.find('@');
        if (at == std::string::npos || at == 4 || at + 1 == p.size() || p.find_first_of(" \t,;<>\"") != std::string::npos)
          return field_error(400, field, p + " is not a SIP address (write sip:user@domain)");
      } else if (p.rfind("group:", 0) == 0) {
        storage::group_record g;
        auto s = store.identities().get_group(p.substr(6), &g);
        if (s.is_not_found() || s.is_invalid_argument() || p.size() == 6)
          return field_error(400, field, "there is no group named " + p.substr(6));
        if (!s.is_ok()) return error(503, "store: " + s.to_string());
      } else if (p.rfind("domain:", 0) != 0 || p.size() == 7) {
        return field_error(400, field, p + " is not a SIP address: write sip:" + p + (p.find('@') == std::string::npos ? "@domain" : "") +
                                           " (or group:NAME for a group)");
      }
    }
  }
  return std::nullopt;
}

bool is_creator(const actors::identity_snapshot& ids, const std::string& user,
                const storage::category_record& c) {
  return ids.in_scope(user, c) && ids.matches(c.creators, user);
}

// The first principal of the room's lists that the category's scope does not allow and
// that `before` did not already have (AllowedMembers minus DeniedMembers bounds members,
// managers and presenters; a group or domain is allowed when every user it names is in
// scope), or empty.
std::string out_of_scope(const actors::identity_snapshot& ids, const storage::category_record& cat,
                         const storage::room_record& r, const storage::room_record* before) {
  for (auto [list, old] : {std::pair{&r.members, before ? &before->members : nullptr},
                           std::pair{&r.managers, before ? &before->managers : nullptr},
                           std::pair{&r.presenters, before ? &before->presenters : nullptr}}) {
    for (const auto& p : *list) {
      if (old && std::find(old->begin(), old->end(), p) != old->end()) continue;
      bool ok = p.rfind("sip:", 0) == 0 ? ids.in_scope(actors::identity_registry::lower(p), cat) : true;
      if (p.rfind("sip:", 0) != 0)
        for (const auto& u : ids.expand({p})) ok = ok && ids.in_scope(u, cat);
      if (!ok) return p;
    }
  }
  return {};
}

// The category named by `key` (id or name, case-insensitive): not_found when there is none,
// another failure when the store cannot tell.
pchat::status find_category(const storage::database& store, const std::string& key,
                              storage::category_record* out) {
  pchat::status s = store.directory().get_category(key, out);
  if (!s.is_not_found() && !s.is_invalid_argument()) return s;  // found, or unreadable
  std::vector<storage::category_record> all;
  if (s = store.directory().list_categories(&all); !s.is_ok()) return s;
  for (auto& c : all)
    if (actors::identity_registry::lower(c.name) == actors::identity_registry::lower(key)) {
      *out = c;
      return pchat::status::ok();
    }
  return pchat::status::not_found("there is no category named " + key);
}

// 404 for a category that is not there, 503 when the store cannot say.
web::http_response category_error(const pchat::status& s) {
  return s.is_not_found() ? field_error(400, "category", s.reason()) : error(503, "store: " + s.to_string());
}

// Writes `r` through the directory (which tells a live room at once): a new room, or a
// change of `before` that is refused if the room changed meanwhile.
web::http_response save(caf::actor_system& sys, const actors::server_context& ctx,
                        const storage::room_record* before, const storage::room_record& r,
                        const std::string& user, int status) {
  if (storage::addin_record a; !r.addin.empty() && !ctx.store->directory().get_addin(r.addin, &a).is_ok())
    return error(400, "no add-in named " + r.addin + " (ask an administrator to register it)");
  caf::scoped_actor self{sys};
  web::http_response out;
  auto done = [&](storage::room_record& made) {
    invite_new_members(ctx, made, before ? before->members : std::vector<std::string>{}, user);
    out = reply(status, room_view_json(*ctx.store, made, ctx.domain));
  };
  auto failed = [&](caf::error& err) { out = from_caf_error(sys, err); };
  if (before)
    self->request(ctx.directory, kTimeout, actors::replace_room_atom::value, *before, r).receive(done, failed);
  else
    self->request(ctx.directory, kTimeout, actors::new_room_atom::value, r).receive(done, failed);
  return out;
}

web::http_response create(caf::actor_system& sys, const actors::server_context& ctx,
                          const actors::identity_snapshot& ids, const std::string& user,
                          const web::http_request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      !body.contains("category") || !body["category"].is_string())
    return body.is_object() && !body.contains("category")
               ? field_error(400, "category", "choose a category")
               : error(400, "expected a JSON object with string \"name\" and \"category\"");
  if (std::string bad = invalid_text_in(body); !bad.empty()) return error(400, bad);
  storage::category_record cat;
  if (auto s = find_category(*ctx.store, body["category"].get<std::string>(), &cat); !s.is_ok())
    return category_error(s);
  if (!is_creator(ids, user, cat))
    return error(403, user + " is not a Creator in category '" + cat.name +
                          "' (an administrator adds Creators: pchatctl category set --creators)");
  storage::room_record r;
  r.privacy = storage::room_privacy::closed;  // the reference's default
  if (auto why = apply_room_settings(body, r); !why.empty()) return error(400, why);
  r.category_id = cat.id;
  // The creator manages the room and is in it (a manager must also be a member to join).
  for (auto* list : {&r.managers, &r.members})
    if (!ids.matches(*list, user)) list->push_back(user);
  if (auto bad = invalid_settings(*ctx.store, r, nullptr)) return *bad;
  if (auto p = out_of_scope(ids, cat, r, nullptr); !p.empty())
    return error(400, p + " is outside the scope of category '" + cat.name + "'");
  return save(sys, ctx, nullptr, r, user, 201);
}

web::http_response update(caf::actor_system& sys, const actors::server_context& ctx,
                          const actors::identity_snapshot& ids, const std::string& user,
                          const storage::room_record& before,
                          const storage::category_record& cat, const web::http_request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error(400, "expected a JSON object of room settings");
  if (std::string bad = invalid_text_in(body); !bad.empty()) return error(400, bad);
  storage::room_record r = before;
  if (auto why = apply_room_settings(body, r); !why.empty()) return error(400, why);
  storage::category_record target = cat;
  if (r.category_id != before.category_id) {
    if (auto s = find_category(*ctx.store, r.category_id, &target); !s.is_ok())
      return category_error(s);
    r.category_id = target.id;
    if (target.id != before.category_id && !is_creator(ids, user, target))
      return error(403, "moving a room needs Creator in the target category '" + target.name + "'");
  }
  if (r.managers.empty()) return field_error(400, "managers", "a room needs at least one manager");
  if (auto bad = invalid_settings(*ctx.store, r, &before)) return *bad;
  // A move checks every principal against the new scope; an edit only the added ones.
  bool moved = target.id != before.category_id;
  if (auto p = out_of_scope(ids, target, r, moved ? nullptr : &before); !p.empty())
    return error(400, p + " is outside the scope of category '" + target.name + "'");
  return save(sys, ctx, &before, r, user, 200);
}

}  // namespace

web::http_handler make_room_management_api(caf::actor_system& sys,
                                           std::shared_ptr<const actors::server_context> ctx,
                                           bool trust_user_header, cookie_auth cookie, web::http_handler next) {
  return [&sys, ctx, trust_user_header, cookie, next](const web::http_request& req) -> web::http_response {
    // The old page's address opens the web client's "My rooms" view (web/assets/manage.js).
    if (req.path == "/manage" || req.path == "/manage/") {
      if (req.method != "GET" && req.method != "HEAD") return error(405, "use GET");
      return {302, "text/plain; charset=utf-8", "see /#manage\n", {"Location: /#manage", "Cache-Control: no-store"}};
    }
    if (req.path.rfind(kManagePrefix, 0) != 0) return next(req);
    auto who = authenticate_user(*ctx, trust_user_header, req, cookie);
    if (auto* refused = std::get_if<web::http_response>(&who)) return *refused;
    const std::string& user = std::get<std::string>(who);
    if (!ctx->identities) return error(403, "access control is not configured");
    // One view of users and groups for the whole request (identity_registry.h).
    auto ids_now = ctx->identities->current();
    const actors::identity_snapshot& ids = *ids_now;
    if (!ids.chat_enabled(user))
      return error(403, "Persistent Chat is not enabled for " + user +
                            (ids.known_user(user) ? " (EnablePersistentChat policy)"
                                                  : " (not in the user directory: an administrator adds users)"));
    std::string rest = req.path.substr(kManagePrefix.size());
    // A cross-site form can post text/plain with the browser's cached credentials; a JSON
    // content type cannot be sent cross-site without a CORS preflight, which we never allow.
    if (req.method == "POST" || req.method == "PATCH" || req.method == "PUT") {
      auto ct = req.headers.find("content-type");
      if (ct == req.headers.end() || ct->second.rfind("application/json", 0) != 0)
        return error(415, "send the settings as Content-Type: application/json");
    }

    if (rest == "names") {  // the page's name-availability check
      if (req.method != "GET") return error(405, "use GET");
      auto q = req.query.find("room");
      if (q == req.query.end() || q->second.empty()) return error(400, "give the name as ?room=NAME");
      // Only those who may create rooms ask (it reveals that a name, secret rooms' too, is
      // taken, as creating one would); names the store would refuse are not "available".
      std::vector<storage::category_record> all;
      if (auto s = ctx->store->directory().list_categories(&all); !s.is_ok()) return error(503, "store: " + s.to_string());
      if (std::none_of(all.begin(), all.end(), [&](auto& c) { return is_creator(ids, user, c); }))
        return error(403, user + " is not a Creator in any category");
      if (q->second.size() > 1024 || !valid_room_name(q->second))
        return error(400, "a room name has 1..256 characters");
      std::string id;
      auto s = ctx->store->directory().find_room_by_name(q->second, &id);
      if (!s.is_ok() && !s.is_not_found()) return error(503, "store: " + s.to_string());
      return reply(200, json{{"name", q->second}, {"available", s.is_not_found()}});
    }
    if (rest == "categories") {
      if (req.method != "GET") return error(405, "use GET");
      std::vector<storage::category_record> all;
      if (auto s = ctx->store->directory().list_categories(&all); !s.is_ok()) return error(503, "store: " + s.to_string());
      json out = json::array();
      for (auto& c : all)
        if (is_creator(ids, user, c))
          out.push_back({{"id", c.id}, {"name", c.name}, {"description", c.description}});
      return reply(200, out);
    }
    if (rest == "rooms") {
      if (req.method == "POST") return create(sys, *ctx, ids, user, req);
      if (req.method != "GET") return error(405, "use GET or POST");
      std::vector<storage::room_record> all;
      if (auto s = ctx->store->directory().list_rooms(&all); !s.is_ok()) return error(503, "store: " + s.to_string());
      json out = json::array();
      for (auto& r : all)
        if (ids.matches(r.managers, user)) {
          // A room whose category is gone is in the domain's scope; one whose category
          // cannot be read is not listed as if it were.
          storage::category_record c;
          if (auto s = ctx->store->directory().get_category(r.category_id, &c); !s.is_ok() && !s.is_not_found())
            return error(503, "store: " + s.to_string());
          if (ids.in_scope(user, c)) out.push_back(room_view_json(*ctx->store, r, ctx->domain));
        }
      return reply(200, out);
    }
    if (rest.rfind("rooms/", 0) == 0) {
      std::string id = rest.substr(6);
      storage::room_record r;
      storage::category_record cat;
      if (!ctx->store->directory().get_room(id, &r).is_ok()) return error(404, "no such room: " + id);
      if (auto s = ctx->store->directory().get_category(r.category_id, &cat); !s.is_ok() && !s.is_not_found())
        return error(503, "store: " + s.to_string());
      // Managers act only while the category's scope still includes them.
      if (!ids.matches(r.managers, user) || !ids.in_scope(user, cat)) {
        bool visible = ids.access(user, r, cat).visible;
        return visible ? error(403, user + " does not manage " + r.name) : error(404, "no such room: " + id);
      }
      if (req.method == "GET") return reply(200, room_view_json(*ctx->store, r, ctx->domain));
      if (req.method == "PATCH" || req.method == "PUT") return update(sys, *ctx, ids, user, r, cat, req);
      if (req.method == "DELETE")
        return error(403, "managers cannot remove rooms; disable it, or ask a Persistent Chat administrator");
      return error(405, "use GET, PATCH or DELETE");
    }
    return error(404, "no such resource: " + req.path);
  };
}

}  // namespace pchat::app
