#include "app/room_management_api.h"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <variant>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "app/json_text.h"
#include "app/room_settings.h"
#include "app/user_auth.h"
#include "storage/store.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;
constexpr auto kTimeout = std::chrono::seconds(10);

// The page: plain HTML and a script over the API, so it works from any browser on the
// loopback (or behind a reverse proxy) without a build step. The browser asks for the
// SIP address and password when the API first answers 401.
constexpr const char* kPage = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>My Rooms - pchat</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:60em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.3em;text-align:left}
label{display:block;margin:.3em 0}input,select,textarea{width:100%}
.error{color:#a00}.note{color:#555}
</style></head>
<body>
<h1>My Rooms</h1>
<p class="note">Rooms you manage, and new rooms in the categories where you are a Creator.
Lists take SIP addresses (sip:user@domain), groups (group:name) or domains (domain:example.com), comma-separated.</p>
<p id="error" class="error"></p>
<table id="rooms"><thead><tr><th>Name</th><th>Privacy</th><th>Type</th><th>Members</th><th>Disabled</th><th></th></tr></thead><tbody></tbody></table>
<h2 id="form-title">Create a room</h2>
<form id="room-form">
<input type="hidden" name="id">
<label>Name <input name="name" required maxlength="256"> <span id="name-note" class="note"></span></label>
<label>Category <select name="category" id="categories"></select></label>
<label>Description <textarea name="description" rows="2"></textarea></label>
<label>Privacy <select name="privacy"><option>closed</option><option>open</option><option>secret</option></select></label>
<label>Type <select name="type"><option>normal</option><option>auditorium</option></select></label>
<label>Members <input name="members"></label>
<label>Managers <input name="managers"></label>
<label>Presenters <input name="presenters"></label>
<label><input type="checkbox" name="disabled" style="width:auto"> Disabled</label>
<button type="submit">Save</button> <button type="button" id="new-room">New room</button>
</form>
<script>
const api = "/manage/v1/";
const form = document.getElementById("room-form");
const F = n => form.elements[n];  // not form[n]: inputs named "id" or "name" would clash
const show = msg => { document.getElementById("error").textContent = msg || ""; };
const list = s => s.split(",").map(x => x.trim()).filter(x => x);
async function call(method, path, body) {
  const r = await fetch(api + path, {method, credentials: "same-origin",
    headers: body ? {"Content-Type": "application/json"} : {}, body: body ? JSON.stringify(body) : undefined});
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
  return j;
}
function edit(room) {
  document.getElementById("form-title").textContent = room ? "Edit " + room.name : "Create a room";
  F("id").value = room ? room.id : "";
  for (const f of ["name", "description", "privacy", "type"]) F(f).value = room ? room[f] : (f === "privacy" ? "closed" : f === "type" ? "normal" : "");
  for (const f of ["members", "managers", "presenters"]) F(f).value = room ? room[f].join(", ") : "";
  F("disabled").checked = room ? room.disabled : false;
  F("category").disabled = !!room;
}
async function load() {
  try {
    const [cats, rooms] = await Promise.all([call("GET", "categories"), call("GET", "rooms")]);
    const sel = document.getElementById("categories");
    sel.innerHTML = "";
    for (const c of cats) { const o = document.createElement("option"); o.value = c.id; o.textContent = c.name; sel.appendChild(o); }
    const body = document.querySelector("#rooms tbody");
    body.innerHTML = "";
    for (const r of rooms) {
      const tr = document.createElement("tr");
      for (const v of [r.name, r.privacy, r.type, r.members.length, r.disabled ? "yes" : ""]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      const td = document.createElement("td"), b = document.createElement("button");
      b.textContent = "Edit"; b.onclick = () => edit(r); td.appendChild(b); tr.appendChild(td);
      body.appendChild(tr);
    }
    show("");
  } catch (e) { show(e.message); }
}
form.onsubmit = async ev => {
  ev.preventDefault();
  const body = {name: F("name").value, description: F("description").value, privacy: F("privacy").value,
    type: F("type").value, members: list(F("members").value), managers: list(F("managers").value),
    presenters: list(F("presenters").value), disabled: F("disabled").checked};
  try {
    if (F("id").value) await call("PATCH", "rooms/" + encodeURIComponent(F("id").value), body);
    else await call("POST", "rooms", Object.assign(body, {category: F("category").value}));
    edit(null); load();
  } catch (e) { show(e.message); }
};
document.getElementById("new-room").onclick = () => edit(null);
F("name").onchange = async () => {
  const note = document.getElementById("name-note");
  note.textContent = "";
  if (F("id").value || !F("name").value) return;
  try {
    const r = await call("GET", "names?room=" + encodeURIComponent(F("name").value));
    note.textContent = r.available ? "available" : "taken: choose another name";
  } catch (e) { show(e.message); }
};
load();
</script>
</body></html>
)html";

json room_view_json(const storage::room_record& r, const std::string& domain) {
  json j = room_json(r, domain);
  j["topic"] = r.topic;
  return j;
}

// What the store accepts as a room name (store.cpp check_name_and_description): 1..256
// characters (UTF-8 code points).
bool valid_room_name(const std::string& n) {
  size_t chars = 0;
  for (unsigned char c : n) chars += (c & 0xc0) != 0x80;
  return chars >= 1 && chars <= 256;
}

bool is_creator(const actors::identity_registry& ids, const std::string& user,
                const storage::category_record& c) {
  return ids.in_scope(user, c) && ids.matches(c.creators, user);
}

// The first principal of the room's lists that the category's scope does not allow and
// that `before` did not already have (AllowedMembers minus DeniedMembers bounds members,
// managers and presenters; a group or domain is allowed when every user it names is in
// scope), or empty.
std::string out_of_scope(const actors::identity_registry& ids, const storage::category_record& cat,
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

// The category named by `key` (id or name, case-insensitive), or not found.
bool find_category(const storage::store& store, const std::string& key, storage::category_record* out) {
  if (store.get_category(key, out).is_ok()) return true;
  std::vector<storage::category_record> all;
  if (!store.list_categories(&all).is_ok()) return false;
  for (auto& c : all)
    if (actors::identity_registry::lower(c.name) == actors::identity_registry::lower(key)) {
      *out = c;
      return true;
    }
  return false;
}

// Writes `r` through the directory (which tells a live room at once): a new room, or a
// change of `before` that is refused if the room changed meanwhile.
web::http_response save(caf::actor_system& sys, const actors::server_context& ctx,
                        const storage::room_record* before, const storage::room_record& r,
                        const std::string& user, int status) {
  if (storage::addin_record a; !r.addin.empty() && !ctx.store->get_addin(r.addin, &a).is_ok())
    return error(400, "no add-in named " + r.addin + " (ask an administrator to register it)");
  caf::scoped_actor self{sys};
  web::http_response out;
  auto done = [&](storage::room_record& made) {
    invite_new_members(ctx, made, before ? before->members : std::vector<std::string>{}, user);
    out = reply(status, room_view_json(made, ctx.domain));
  };
  auto failed = [&](caf::error& err) { out = from_caf_error(sys, err); };
  if (before)
    self->request(ctx.directory, kTimeout, actors::replace_room_atom::value, *before, r).receive(done, failed);
  else
    self->request(ctx.directory, kTimeout, actors::new_room_atom::value, r).receive(done, failed);
  return out;
}

web::http_response create(caf::actor_system& sys, const actors::server_context& ctx,
                          const std::string& user, const web::http_request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      !body.contains("category") || !body["category"].is_string())
    return error(400, "expected a JSON object with string \"name\" and \"category\"");
  if (std::string bad = invalid_text_in(body); !bad.empty()) return error(400, bad);
  storage::category_record cat;
  if (!find_category(*ctx.store, body["category"].get<std::string>(), &cat))
    return error(404, "no such category: " + body["category"].get<std::string>());
  if (!is_creator(*ctx.identities, user, cat))
    return error(403, user + " is not a Creator in category '" + cat.name +
                          "' (an administrator adds Creators: pchatctl category set --creators)");
  storage::room_record r;
  r.privacy = storage::room_privacy::closed;  // the reference's default
  if (auto why = apply_room_settings(body, r); !why.empty()) return error(400, why);
  r.category_id = cat.id;
  // The creator manages the room and is in it (a manager must also be a member to join).
  for (auto* list : {&r.managers, &r.members})
    if (!ctx.identities->matches(*list, user)) list->push_back(user);
  if (auto p = out_of_scope(*ctx.identities, cat, r, nullptr); !p.empty())
    return error(400, p + " is outside the scope of category '" + cat.name + "'");
  return save(sys, ctx, nullptr, r, user, 201);
}

web::http_response update(caf::actor_system& sys, const actors::server_context& ctx,
                          const std::string& user, const storage::room_record& before,
                          const storage::category_record& cat, const web::http_request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error(400, "expected a JSON object of room settings");
  if (std::string bad = invalid_text_in(body); !bad.empty()) return error(400, bad);
  storage::room_record r = before;
  if (auto why = apply_room_settings(body, r); !why.empty()) return error(400, why);
  storage::category_record target = cat;
  if (r.category_id != before.category_id) {
    if (!find_category(*ctx.store, r.category_id, &target))
      return error(404, "no such category: " + r.category_id);
    r.category_id = target.id;
    if (target.id != before.category_id && !is_creator(*ctx.identities, user, target))
      return error(403, "moving a room needs Creator in the target category '" + target.name + "'");
  }
  if (r.managers.empty()) return error(400, "a room needs at least one manager");
  // A move checks every principal against the new scope; an edit only the added ones.
  bool moved = target.id != before.category_id;
  if (auto p = out_of_scope(*ctx.identities, target, r, moved ? nullptr : &before); !p.empty())
    return error(400, p + " is outside the scope of category '" + target.name + "'");
  return save(sys, ctx, &before, r, user, 200);
}

}  // namespace

web::http_handler make_room_management_api(caf::actor_system& sys,
                                           std::shared_ptr<const actors::server_context> ctx,
                                           bool trust_user_header, web::http_handler next) {
  return [&sys, ctx, trust_user_header, next](const web::http_request& req) -> web::http_response {
    if (req.path == "/manage" || req.path == "/manage/") {
      if (req.method != "GET") return error(405, "use GET");
      return {200, "text/html; charset=utf-8", kPage,
              {"Cache-Control: no-store", "X-Frame-Options: DENY",
               "Content-Security-Policy: frame-ancestors 'none'"}};
    }
    if (req.path.rfind(kManagePrefix, 0) != 0) return next(req);
    auto who = authenticate_user(*ctx, trust_user_header, req);
    if (auto* refused = std::get_if<web::http_response>(&who)) return *refused;
    const std::string& user = std::get<std::string>(who);
    if (!ctx->identities) return error(403, "access control is not configured");
    if (!ctx->identities->chat_enabled(user))
      return error(403, "Persistent Chat is not enabled for " + user + " (EnablePersistentChat policy)");
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
      if (auto s = ctx->store->list_categories(&all); !s.is_ok()) return error(503, "store: " + s.to_string());
      if (std::none_of(all.begin(), all.end(), [&](auto& c) { return is_creator(*ctx->identities, user, c); }))
        return error(403, user + " is not a Creator in any category");
      if (q->second.size() > 1024 || !valid_room_name(q->second))
        return error(400, "a room name has 1..256 characters");
      std::string id;
      auto s = ctx->store->find_room_by_name(q->second, &id);
      if (!s.is_ok() && !s.is_not_found()) return error(503, "store: " + s.to_string());
      return reply(200, json{{"name", q->second}, {"available", s.is_not_found()}});
    }
    if (rest == "categories") {
      if (req.method != "GET") return error(405, "use GET");
      std::vector<storage::category_record> all;
      if (auto s = ctx->store->list_categories(&all); !s.is_ok()) return error(503, "store: " + s.to_string());
      json out = json::array();
      for (auto& c : all)
        if (is_creator(*ctx->identities, user, c))
          out.push_back({{"id", c.id}, {"name", c.name}, {"description", c.description}});
      return reply(200, out);
    }
    if (rest == "rooms") {
      if (req.method == "POST") return create(sys, *ctx, user, req);
      if (req.method != "GET") return error(405, "use GET or POST");
      std::vector<storage::room_record> all;
      if (auto s = ctx->store->list_rooms(&all); !s.is_ok()) return error(503, "store: " + s.to_string());
      json out = json::array();
      for (auto& r : all)
        if (ctx->identities->matches(r.managers, user)) {
          storage::category_record c;
          ctx->store->get_category(r.category_id, &c);
          if (ctx->identities->in_scope(user, c)) out.push_back(room_view_json(r, ctx->domain));
        }
      return reply(200, out);
    }
    if (rest.rfind("rooms/", 0) == 0) {
      std::string id = rest.substr(6);
      storage::room_record r;
      storage::category_record cat;
      if (!ctx->store->get_room(id, &r).is_ok()) return error(404, "no such room: " + id);
      ctx->store->get_category(r.category_id, &cat);
      // Managers act only while the category's scope still includes them.
      if (!ctx->identities->matches(r.managers, user) || !ctx->identities->in_scope(user, cat)) {
        bool visible = ctx->identities->access(user, r, cat).visible;
        return visible ? error(403, user + " does not manage " + r.name) : error(404, "no such room: " + id);
      }
      if (req.method == "GET") return reply(200, room_view_json(r, ctx->domain));
      if (req.method == "PATCH" || req.method == "PUT") return update(sys, *ctx, user, r, cat, req);
      if (req.method == "DELETE")
        return error(403, "managers cannot remove rooms; disable it, or ask a Persistent Chat administrator");
      return error(405, "use GET, PATCH or DELETE");
    }
    return error(404, "no such resource: " + req.path);
  };
}

}  // namespace pchat::app
