#include "app/admin_api.h"
#include "app/admin_json.h"
#include "app/admin_audit.h"
#include "app/room_settings.h"


#include <algorithm>
#include <charconv>
#include <functional>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/identity_registry.h"
#include "actors/index_feed.h"
#include "actors/live_settings.h"
#include "actors/messages.h"
#include "actors/node_metrics.h"
#include "actors/server_context.h"
#include "app/effective_config.h"
#include "app/node_facts.h"
#include "app/pool_files.h"
#include "log/log.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/chat_uri.h"
#include "storage/database.h"
#include "storage/file_store.h"
#include "text/ascii.h"
#include "text/utc_time.h"

#include <cstdio>
#include <ctime>

namespace pchat::app {
namespace {

using json = nlohmann::json;
constexpr auto kTimeout = std::chrono::seconds(10);
// Remove-CsPersistentChatMessage's default replacement text.
constexpr const char* kDefaultReplacement =
    "This message was replaced by the Persistent Chat administrator.";


json to_json(const storage::compliance_config& c) {
  return json{{"enabled", c.enabled},
              {"adapter_type", c.adapter_type},
              {"output_directory", c.output_directory},
              {"run_interval_seconds", c.run_interval_seconds},
              {"one_chat_room_per_output_file", c.one_chat_room_per_output_file},
              {"add_user_details", c.add_user_details},
              {"add_chat_room_details", c.add_chat_room_details},
              {"create_file_attachments_manifest", c.create_file_attachments_manifest}};
}

// Each field of `values` (an object of settings) as {name, value, source}, in the order of
// `names`: the rows `pchatctl config get` / `compliance get` show (docs/ADMIN.md).
json setting_rows(const json& values, const std::vector<std::string>& names,
                  const std::function<std::string(const std::string&)>& source) {
  json rows = json::array();
  for (const auto& n : names) rows.push_back(json{{"name", n}, {"value", values.at(n)}, {"source", source(n)}});
  return rows;
}

// The compliance settings in force on this node, where each comes from, and what is stored.
json compliance_json(const actors::effective_settings& e, const storage::compliance_config& stored,
                     const std::string& applies) {
  json j = to_json(e.compliance);
  std::vector<std::string> ordered{"enabled", "adapter_type", "output_directory", "run_interval_seconds",
                                   "one_chat_room_per_output_file", "add_user_details", "add_chat_room_details",
                                   "create_file_attachments_manifest"};
  j["settings"] = setting_rows(j, ordered, [&](const std::string& n) { return e.compliance_source(n); });
  j["run_interval_ms"] = e.run_interval.count();
  j["stored"] = to_json(stored);
  j["applies"] = applies;
  return j;
}

// The chat settings at `identity` (in force when it is the node's scope) and their source.
json chat_json(const std::string& identity, const storage::chat_config& c, const std::string& source,
               bool in_force, const std::string& applies) {
  json j{{"identity", identity},
         {"default_chat_history", c.default_chat_history},
         {"max_file_size_kb", c.max_file_size_kb},
         {"participant_update_limit", c.participant_update_limit},
         {"room_management_url", c.room_management_url}};
  j["settings"] = setting_rows(
      j, {"default_chat_history", "max_file_size_kb", "participant_update_limit", "room_management_url"},
      [&](const std::string&) { return source; });
  j["in_force"] = in_force;
  j["applies"] = applies;
  return j;
}

// A change that was made but whose compliance record could not be stored is not reported
// as a plain success: the admin must know the audit trail lacks it.
web::http_response audited(web::http_response done, const pchat::status& recorded) {
  if (recorded.is_ok()) return done;
  return error(500, "the change was made but its compliance record was not stored: " + recorded.reason() +
                        " (check the store: pchatctl status get)");
}

std::string iso_or_empty(int64_t micros) {
  return micros == 0 ? std::string() : utc::seconds_timestamp(micros);
}

json to_json(const actors::compliance_status& s) {
  return json{{"enabled", s.enabled},
              {"adapter", s.adapter},
              {"queue_depth", s.queue_depth},
              {"delivered_through", s.delivered_through},
              {"batches_delivered", s.batches_delivered},
              {"events_delivered", s.events_delivered},
              {"last_success", iso_or_empty(s.last_success_micros)},
              {"last_error", s.last_error},
              {"last_error_time", iso_or_empty(s.last_error_micros)},
              {"consecutive_failures", s.consecutive_failures}};
}

// The id of the room named by `key` (id, name or URI); empty if there is none.
std::string find_room_id(caf::scoped_actor& self, const caf::actor& directory, const std::string& key) {
  std::string id;
  self->request(directory, kTimeout, actors::list_rooms_atom::value)
      .receive(
          [&](std::vector<actors::room_view>& rooms) {
            for (auto& v : rooms)
              if (v.id == key || v.name == key || v.uri == key) id = v.id;
          },
          [&](caf::error&) {});
  return id;
}

json to_json(const actors::room_view& r) {
  return json{{"id", r.id},
              {"uri", r.uri},
              {"name", r.name},
              {"description", r.description},
              {"category_id", r.category_id},
              {"users", r.user_count},
              {"private", r.is_private},
              {"disabled", r.disabled}};
}

json to_json(const storage::category_record& c, const std::string& domain) {
  return json{{"id", c.id},
              {"uri", xccos::category_uri(domain, c.id)},
              {"name", c.name},
              {"description", c.description},
              {"allowed_members", c.allowed_members},
              {"denied_members", c.denied_members},
              {"creators", c.creators},
              {"file_upload", c.file_upload},
              {"invitations", c.invitations},
              {"chat_history", c.chat_history}};
}

}  // namespace

web::http_handler make_admin_api(caf::actor_system& sys,
                                 std::shared_ptr<const actors::server_context> ctx,
                                 const sip::endpoint* edge, std::shared_ptr<const node_facts> facts,
                                 std::shared_ptr<effective_config> config) {
  return [&sys, ctx, edge, facts, config](const web::http_request& req) -> web::http_response {
    caf::scoped_actor self{sys};
    const std::string& p = req.path;
    if (p == "/api/v1/status" && req.method == "GET") {
      auto s = edge->stats();
      const actors::node_metrics& m = *ctx->metrics;
      uint64_t accepted = m.posts[static_cast<size_t>(actors::post_outcome::accepted)].value(), refused = 0;
      for (const auto& c : m.posts) refused += c.value();
      refused -= accepted;
      return reply(200, json{{"version", facts->version},
                             {"started", utc::seconds_timestamp(facts->started_micros)},
                             {"uptime_seconds", (utc::now_micros() - facts->started_micros) / 1'000'000},
                             {"host", facts->host},
                             {"http_port", facts->http ? facts->http->port() : 0},
                             {"data_dir", facts->data_dir},
                             {"store_writable", ctx->store->db().writable()},
                             {"rooms_active", m.rooms_active.value()},
                             {"posts_accepted", accepted},
                             {"posts_refused", refused},
                             {"index_backlog", ctx->index ? ctx->index->lag_messages() : 0},
                             {"index_lag_seconds", ctx->index ? ctx->index->lag_age().count() / 1e6 : 0.0},
                             {"domain", ctx->domain},
                             {"chat_uri", ctx->chat_uri},
                             {"sip_port", edge->port()},
                             {"sip_tls_port", edge->tls_port()},
                             {"connections", s.connections},
                             {"dialogs", s.dialogs},
                             {"inflight", s.inflight},
                             {"requests_in", s.requests_in},
                             {"requests_out", s.requests_out},
                             {"responses_503", s.responses_503},
                             {"bad_messages", s.bad_messages},
                             {"udp_peers", s.udp_peers},
                             {"paused_connections", s.paused_connections},
                             {"pauses", s.pauses},
                             {"slow_readers_closed", s.slow_readers_closed},
                             {"connections_refused", s.connections_refused},
                             {"dialogs_refused", s.dialogs_refused},
                             {"stalled_messages_closed", s.stalled_messages_closed},
                             {"accept_backoffs", s.accept_backoffs},
                             {"default_chat_history", ctx->live->current()->chat.default_chat_history},
                             {"participant_update_limit", ctx->live->current()->chat.participant_update_limit}});
    }
    if (p == "/api/v1/categories") {
      if (req.method == "GET") {
        web::http_response out;
        self->request(ctx->directory, kTimeout, actors::list_categories_atom::value)
            .receive(
                [&](std::vector<storage::category_record>& cats) {
                  std::string name;
                  if (auto it = req.query.find("name"); it != req.query.end()) name = it->second;
                  json arr = json::array();
                  for (auto& c : cats)
                    if (name.empty() || text::ascii_iequal(c.name, name))
                      arr.push_back(to_json(c, ctx->domain));
                  out = reply(200, arr);
                },
                [&](caf::error& err) { out = from_caf_error(sys, err); });
        return out;
      }
      if (req.method == "POST") {
        json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
          return error(400, "expected a JSON object with a string \"name\"");
        storage::category_record c;
        c.name = body["name"].get<std::string>();
        c.description = body.value("description", "");
        c.allowed_members = json_strings(body.value("allowed_members", json::array()));
        c.denied_members = json_strings(body.value("denied_members", json::array()));
        c.creators = json_strings(body.value("creators", json::array()));
        c.file_upload = body.value("file_upload", true);
        c.invitations = body.value("invitations", true);
        c.chat_history = body.value("chat_history", true);
        web::http_response out;
        self->request(ctx->directory, kTimeout, actors::new_category_atom::value, c)
            .receive([&](storage::category_record& made) { out = reply(201, to_json(made, ctx->domain)); },
                     [&](caf::error& err) { out = from_caf_error(sys, err); });
        return out;
      }
      return error(405, "use GET or POST");
    }
    if (p.rfind("/api/v1/categories/", 0) == 0) {
      // Set-/Remove-CsPersistentChatCategory, by id or name.
      std::string key = p.substr(std::string("/api/v1/categories/").size());
      std::vector<storage::category_record> cats;
      std::optional<web::http_response> failed;
      self->request(ctx->directory, kTimeout, actors::list_categories_atom::value)
          .receive([&](std::vector<storage::category_record>& c) { cats = std::move(c); },
                   [&](caf::error& err) { failed = from_caf_error(sys, err); });
      if (failed) return *failed;  // not knowing the categories is not "no such category"
      const storage::category_record* found = nullptr;
      for (auto& c : cats)
        if (c.id == key || text::ascii_iequal(c.name, key) || xccos::category_uri(ctx->domain, c.id) == key)
          found = &c;
      if (!found) return error(404, "no category with id, name or uri '" + key + "'");
      if (req.method == "GET") return reply(200, to_json(*found, ctx->domain));
      web::http_response out;
      if (req.method == "DELETE") {
        self->request(ctx->directory, kTimeout, actors::remove_category_atom::value, found->id)
            .receive([&](caf::ok_atom) { out = reply(200, json{{"removed", found->id}}); },
                     [&](caf::error& err) { out = from_caf_error(sys, err); });
        return out;
      }
      if (req.method != "PATCH" && req.method != "PUT") return error(405, "use GET, PATCH or DELETE");
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object()) return error(400, "expected a JSON object of category settings");
      storage::category_record c = *found;
      if (body.contains("name")) c.name = body.value("name", c.name);
      if (body.contains("description")) c.description = body.value("description", c.description);
      for (auto [field, list] : {std::pair{"allowed_members", &c.allowed_members},
                                 std::pair{"denied_members", &c.denied_members},
                                 std::pair{"creators", &c.creators}}) {
        std::string f = field;
        if (auto why = apply_list_edits(body, f, *list); !why.empty()) return error(400, why);
      }
      for (auto [field, flag] : {std::pair{"file_upload", &c.file_upload}, std::pair{"invitations", &c.invitations},
                                 std::pair{"chat_history", &c.chat_history}})
        if (body.contains(field) && body[field].is_boolean()) *flag = body[field].get<bool>();
      self->request(ctx->directory, kTimeout, actors::new_category_atom::value, c)
          .receive([&](storage::category_record& made) { out = reply(200, to_json(made, ctx->domain)); },
                   [&](caf::error& err) { out = from_caf_error(sys, err); });
      return out;
    }
    if (p == "/api/v1/files" && req.method == "GET") {
      auto q = req.query.find("room");
      if (q == req.query.end()) return error(400, "give the room as ?room=ID|NAME|URI");
      std::string id = find_room_id(self, ctx->directory, q->second);
      if (id.empty()) return error(404, "no room with id, name or uri '" + q->second + "'");
      // In a pool, every node's (app/pool_files.h): stored_name is the holding node's blob.
      std::vector<storage::file_record> files;
      if (auto s = pool_list_files(sys, *ctx, id, &files); !s.is_ok())
        return error(503, s.to_string());
      json arr = json::array();
      for (auto& f : files)
        arr.push_back({{"id", f.id}, {"name", f.name}, {"size", f.size}, {"uploader", f.uploader},
                       {"ts", utc::json_timestamp(f.ts_micros)}, {"stored_name", f.blob}, {"room_id", f.room_id}});
      return reply(200, arr);
    }
    if (p.rfind("/api/v1/files/", 0) == 0 && req.method == "DELETE") {
      std::string rest = p.substr(std::string("/api/v1/files/").size());
      auto slash = rest.find('/');
      storage::file_record f;
      uint64_t fid = 0;
      const char* end = rest.data() + rest.size();
      if (slash == std::string::npos || slash + 1 == rest.size() ||
          std::from_chars(rest.data() + slash + 1, end, fid).ptr != end)
        return error(404, "no file " + rest + " (DELETE /api/v1/files/{room-id}/{file-id})");
      // Every node that holds it removes it (a pool's listing and downloads would show it
      // again from any other); a node that does not answer makes the answer 503: removing
      // again is harmless.
      std::vector<storage::file_record> removed;
      std::vector<std::string> silent;
      if (auto s = pool_remove_file(sys, *ctx, rest.substr(0, slash), fid, &removed, &silent);
          s.is_invalid_argument())
        return error(404, "no file " + rest + " (DELETE /api/v1/files/{room-id}/{file-id})");
      else if (!s.is_ok())
        return error(503, s.to_string());
      if (!silent.empty()) {
        std::string names;
        for (auto& n : silent) names += (names.empty() ? "" : ", ") + n;
        return error(503, "node(s) " + names +
                              " did not answer; the file may still be there: remove it again");
      }
      if (removed.empty())
        return error(404, "no file " + rest + " (DELETE /api/v1/files/{room-id}/{file-id})");
      f = removed.front();
      return reply(200, json{{"removed", f.id}, {"name", f.name}, {"copies", removed.size()}});
    }
    if (p == "/api/v1/rooms" || p.rfind("/api/v1/rooms/", 0) == 0) {
      if (req.method == "POST" && p == "/api/v1/rooms") {
        json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
            !body.contains("category") || !body["category"].is_string())
          return error(400, "expected a JSON object with string \"name\" and \"category\"");
        storage::room_record r;
        r.privacy = storage::room_privacy::closed;  // the reference's default
        if (auto why = apply_room_settings(body, r); !why.empty()) return error(400, why);
        if (storage::addin_record a; !r.addin.empty() && !ctx->store->directory().get_addin(r.addin, &a).is_ok())
          return error(400, "no add-in named " + r.addin + " (register it with pchatctl addin new)");
        std::string why;
        auto admin = admin_of(req, &why);
        if (!admin) return error(400, why);
        web::http_response out;
        self->request(ctx->directory, kTimeout, actors::new_room_atom::value, r)
            .receive(
                [&](storage::room_record& made) {
                  invite_new_members(*ctx, made, {}, "admin");
                  out = audited(reply(201, room_json(made, ctx->domain)),
                                record_admin_events(sys, *ctx, room_change_events(*admin, nullptr, &made)));
                },
                     [&](caf::error& err) { out = from_caf_error(sys, err); });
        return out;
      }
      if ((req.method == "PATCH" || req.method == "PUT") && p.rfind("/api/v1/rooms/", 0) == 0) {
        // Set-CsPersistentChatRoom: find the room by id, name or URI, apply, write through
        // the directory (which tells the live room).
        std::string key = p.substr(std::string("/api/v1/rooms/").size());
        std::string id = find_room_id(self, ctx->directory, key);
        storage::room_record r;
        if (id.empty() || !ctx->store->directory().get_room(id, &r).is_ok())
          return error(404, "no room with id, name or uri '" + key + "'");
        json body = json::parse(req.body, nullptr, false);
        if (!body.is_object()) return error(400, "expected a JSON object of room settings");
        const storage::room_record before = r;
        if (auto why = apply_room_settings(body, r); !why.empty()) return error(400, why);
        if (storage::addin_record a; !r.addin.empty() && !ctx->store->directory().get_addin(r.addin, &a).is_ok())
          return error(400, "no add-in named " + r.addin + " (register it with pchatctl addin new)");
        std::string why;
        auto admin = admin_of(req, &why);
        if (!admin) return error(400, why);
        web::http_response out;
        self->request(ctx->directory, kTimeout, actors::replace_room_atom::value, before, r)
            .receive(
                [&](storage::room_record& made) {
                  invite_new_members(*ctx, made, before.members, "admin");
                  out = audited(reply(200, room_json(made, ctx->domain)),
                                record_admin_events(sys, *ctx, room_change_events(*admin, &before, &made)));
                },
                [&](caf::error& err) { out = from_caf_error(sys, err); });
        return out;
      }
      if (req.method == "POST" && p.rfind("/api/v1/rooms/", 0) == 0 && p.size() > 6 &&
          p.compare(p.size() - 6, 6, "/clear") == 0) {
        // Clear-CsPersistentChatRoom -EndDate: {before: "YYYY-MM-DD" or "...THH:MM:SSZ"}.
        std::string key = p.substr(std::string("/api/v1/rooms/").size());
        key.resize(key.size() - 6);
        json body = json::parse(req.body, nullptr, false);
        std::optional<int64_t> before;
        if (body.is_object() && body.contains("before") && body["before"].is_string())
          before = utc::parse_date_or_timestamp(body["before"].get<std::string>(), /*end_of_day=*/true);
        if (!before)
          return error(400, "expected {\"before\": \"YYYY-MM-DD\" or \"YYYY-MM-DDTHH:MM:SSZ\"}");
        std::string why;
        auto admin = admin_of(req, &why);
        if (!admin) return error(400, why);
        web::http_response out;
        self->request(ctx->directory, std::chrono::seconds(120), actors::clear_atom::value, key, *before, *admin)
            .receive([&](uint64_t n) { out = reply(200, json{{"removed_messages", n}}); },
                     [&](caf::error& err) { out = from_caf_error(sys, err); });
        return out;
      }
      if (req.method == "DELETE" && p.rfind("/api/v1/rooms/", 0) == 0) {
        // Remove-CsPersistentChatRoom: the room and all its history.
        std::string key = p.substr(std::string("/api/v1/rooms/").size());
        std::string id = find_room_id(self, ctx->directory, key);
        if (id.empty()) return error(404, "no room with id, name or uri '" + key + "'");
        std::string why;
        auto admin = admin_of(req, &why);
        if (!admin) return error(400, why);
        storage::room_record gone;
        bool known = ctx->store->directory().get_room(id, &gone).is_ok();
        web::http_response out;
        self->request(ctx->directory, kTimeout, actors::remove_room_atom::value, id)
            .receive(
                [&](caf::ok_atom) {
                  pchat::status recorded = pchat::status::ok();
                  if (known) recorded = record_admin_events(sys, *ctx, room_change_events(*admin, &gone, nullptr));
                  // The records went with the room; now the bytes of its uploaded files.
                  if (!ctx->files_dir.empty())
                    if (auto s = storage::file_store(ctx->files_dir).remove_room(id); !s.is_ok())
                      PCHAT_LOG(warn, "files", "cannot delete a removed room's files",
                                "room=" + id + " error=" + log::quote(s.to_string()) +
                                    " action=" + log::quote("delete the folder by hand"));
                  out = audited(reply(200, json{{"removed", id}}), recorded);
                },
                     [&](caf::error& err) { out = from_caf_error(sys, err); });
        return out;
      }
      if (req.method != "GET") return error(405, "use GET, POST on /api/v1/rooms, PATCH or DELETE on a room");
      std::vector<actors::room_view> rooms;
      web::http_response out;
      bool ok = false;
      self->request(ctx->directory, kTimeout, actors::list_rooms_atom::value)
          .receive(
              [&](std::vector<actors::room_view>& r) {
                rooms = std::move(r);
                ok = true;
              },
              [&](caf::error& err) { out = from_caf_error(sys, err); });
      if (!ok) return out;
      // A listed room and a room asked for by name have one shape: every stored setting,
      // the category's name and the live user count.
      std::vector<storage::category_record> cats;
      self->request(ctx->directory, kTimeout, actors::list_categories_atom::value)
          .receive([&](std::vector<storage::category_record>& c) { cats = std::move(c); },
                   [&](caf::error& err) { out = from_caf_error(sys, err); ok = false; });
      if (!ok) return out;
      auto full = [&](const actors::room_view& r) {
        storage::room_record rec;
        json j = ctx->store->directory().get_room(r.id, &rec).is_ok() ? room_json(rec, ctx->domain) : to_json(r);
        j["users"] = r.user_count;
        j["category"] = "";
        for (auto& c : cats)
          if (c.id == r.category_id) j["category"] = c.name;
        return j;
      };
      if (p == "/api/v1/rooms") {
        std::string filter;
        if (auto it = req.query.find("name"); it != req.query.end()) filter = it->second;
        json arr = json::array();
        for (auto& r : rooms)
          if (filter.empty() || r.name.find(filter) != std::string::npos) arr.push_back(full(r));
        return reply(200, arr);
      }
      std::string key = p.substr(std::string("/api/v1/rooms/").size());
      for (auto& r : rooms)
        if (r.id == key || r.name == key || r.uri == key) return reply(200, full(r));
      return error(404, "no room with id, name or uri '" + key + "'");
    }
    if (p == "/api/v1/config") {
      // Server options (New-/Set-/Get-/Remove-CsPersistentChatConfiguration) at
      // ?identity=global or site:NAME; without it, the options in force on this node (its
      // site's when that exists, else the global ones). A write is stored, then applied at
      // once where it is in force (app/effective_config.h).
      auto in_force_now = [&] { return ctx->live->current(); };
      auto query = req.query.find("identity");
      bool asked = query != req.query.end() && !query->second.empty();
      std::string identity = asked ? query->second : in_force_now()->chat_scope;
      storage::chat_config c;
      bool exists = false;
      auto got = ctx->store->configuration().get_at(identity, &c, &exists);
      if (got.is_invalid_argument()) return error(400, got.reason());
      if (!got.is_ok() && !got.is_not_found()) return error(503, got.to_string());
      std::string note;  // a write stored but not applied here, and why
      if (req.method == "DELETE") {
        auto s = ctx->store->configuration().remove_at(identity);
        if (s.is_not_found()) return error(404, "no configuration " + identity);
        if (!s.is_ok()) return error(s.is_invalid_argument() ? 400 : 503, s.reason());
        if (auto a = config->apply(*ctx->store); !a.is_ok()) note = a.to_string();
        json out{{"removed", identity}, {"in_force", in_force_now()->chat_scope}};
        if (!note.empty()) out["note"] = "removed; not applied: " + note;
        return reply(200, out);
      }
      if (req.method == "POST" && exists && identity != "global")
        return error(409, "configuration " + identity + " exists: use PUT (config set)");
      if (req.method == "PUT" && !exists)
        return error(404, "no configuration " + identity + ": create it with POST (config new)");
      if (req.method == "GET" && !exists) return error(404, "no configuration " + identity);
      if (req.method == "PUT" || req.method == "POST") {
        json body = json::parse(req.body, nullptr, false);
        if (!body.is_object()) return error(400, "expected a JSON object of settings");
        for (auto& [k, v] : body.items()) {
          if (k == "default_chat_history" && v.is_number_integer()) c.default_chat_history = v.get<int>();
          else if (k == "max_file_size_kb" && v.is_number_integer()) c.max_file_size_kb = v.get<int>();
          else if (k == "participant_update_limit" && v.is_number_integer()) c.participant_update_limit = v.get<int>();
          else if (k == "room_management_url" && v.is_string()) c.room_management_url = v.get<std::string>();
          else return error(400, "unknown setting or wrong type: " + k);
        }
        auto s = ctx->store->configuration().put_at(identity, c);
        if (s.is_invalid_argument()) return error(400, s.reason());
        if (!s.is_ok()) return error(503, s.to_string());
        if (auto a = config->apply(*ctx->store); !a.is_ok()) note = a.to_string();
      } else if (req.method != "GET") {
        return error(405, "use GET, POST (new), PUT (set) or DELETE");
      }
      auto now = in_force_now();
      if (identity == now->chat_scope)
        return reply(200, chat_json(identity, now->chat, now->chat_source, true,
                                    note.empty() ? "now" : "stored; not applied: " + note));
      bool written = false;
      if (auto s = ctx->store->configuration().written_at(identity, &written); !s.is_ok())
        return error(503, s.to_string());
      std::string source = !written ? actors::kSourceDefault
                           : identity == "global" ? actors::kSourceStored
                                                  : identity;
      std::string where = identity == "global" ? "nodes without a site configuration"
                                               : "nodes started with --site=" + identity.substr(5);
      return reply(200, chat_json(identity, c, source, false,
                                  "on " + where + "; this node runs " + now->chat_scope));
    }
    if (p == "/api/v1/compliance/config") {
      // Set-CsPersistentChatComplianceConfiguration: stored, then applied at once unless
      // this node's command line or config file sets the same setting (it wins here).
      storage::compliance_config c;
      if (auto s = ctx->store->configuration().get_compliance(&c); !s.is_ok()) return error(503, s.to_string());
      std::string applies = "now";
      if (req.method == "PUT" || req.method == "POST") {
        json body = json::parse(req.body, nullptr, false);
        if (!body.is_object()) return error(400, "expected a JSON object of settings");
        for (auto& [k, v] : body.items()) {
          if (k == "enabled" && v.is_boolean()) c.enabled = v.get<bool>();
          else if (k == "adapter_type" && v.is_string()) c.adapter_type = v.get<std::string>();
          else if (k == "output_directory" && v.is_string()) c.output_directory = v.get<std::string>();
          else if (k == "run_interval_seconds" && v.is_number_integer()) c.run_interval_seconds = v.get<int>();
          else if (k == "one_chat_room_per_output_file" && v.is_boolean()) c.one_chat_room_per_output_file = v.get<bool>();
          else if (k == "add_user_details" && v.is_boolean()) c.add_user_details = v.get<bool>();
          else if (k == "add_chat_room_details" && v.is_boolean()) c.add_chat_room_details = v.get<bool>();
          else if (k == "create_file_attachments_manifest" && v.is_boolean()) c.create_file_attachments_manifest = v.get<bool>();
          else return error(400, "unknown setting or wrong type: " + k);
        }
        if (!c.output_directory.empty() && body.contains("output_directory"))
          if (auto bad = folder_problem(c.output_directory); !bad.empty())
            return error(400, "AdapterOutputDirectory " + bad + " (pchatd writes it as its own user)");
        auto s = ctx->store->configuration().put_compliance(c);
        if (s.is_invalid_argument()) return error(400, s.reason());
        if (!s.is_ok()) return error(503, s.to_string());
        if (auto a = config->apply(*ctx->store); !a.is_ok()) {
          applies = "stored; not applied: " + a.to_string();
        } else {
          std::string kept;  // settings of the body that this node takes from elsewhere
          auto now = ctx->live->current();
          for (auto& [k, v] : body.items()) {
            std::string src = now->compliance_source(k);
            if (src == actors::kSourceFlag || src == actors::kSourceConfigFile)
              kept += (kept.empty() ? "" : ", ") + k + " (" + src + ")";
          }
          if (!kept.empty()) applies = "now, except what this node's pchatd sets: " + kept;
        }
      } else if (req.method != "GET") {
        return error(405, "use GET or PUT");
      }
      return reply(200, compliance_json(*ctx->live->current(), c, applies));
    }
    if (p == "/api/v1/compliance/status" && req.method == "GET") {
      if (!ctx->compliance_runner) {
        actors::compliance_status st;  // off on this node: only the queue is known
        if (auto s = ctx->store->compliance().count(&st.queue_depth); !s.is_ok()) return error(503, s.to_string());
        if (auto s = ctx->store->compliance().delivered_through(&st.delivered_through); !s.is_ok())
          return error(503, s.to_string());
        storage::delivery_totals t;  // what earlier runs delivered (kept in the store)
        if (auto s = ctx->store->compliance().delivered_totals(&t); !s.is_ok()) return error(503, s.to_string());
        st.batches_delivered = t.batches;
        st.events_delivered = t.events;
        st.last_success_micros = t.last_success_micros;
        return reply(200, to_json(st));
      }
      web::http_response out;
      self->request(ctx->compliance_runner, kTimeout, actors::cstatus_atom::value)
          .receive([&](actors::compliance_status& st) { out = reply(200, to_json(st)); },
                   [&](caf::error& err) { out = from_caf_error(sys, err); });
      return out;
    }
    if (p == "/api/v1/compliance/run" && req.method == "POST") {
      if (!ctx->compliance_runner || !ctx->live->current()->compliance.enabled)
        return error(409, "compliance is off on this node (pchatctl compliance set --enabled true)");
      self->send(ctx->compliance_runner, actors::crun_atom::value);
      return reply(202, json{{"run", "started"}});
    }
    if (p == "/api/v1/messages/replace" && req.method == "POST") {
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("room") || !body["room"].is_string())
        return error(400, "expected a JSON object with a string \"room\"");
      actors::message_filter f;
      f.room = body["room"].get<std::string>();
      f.user = body.value("user", "");
      if (!f.user.empty() && f.user.rfind("sip:", 0) != 0) f.user = "sip:" + f.user;
      f.contains = body.value("contains", "");
      f.replacement = body.value("replacement", kDefaultReplacement);
      std::string why;
      auto admin = admin_of(req, &why);
      if (!admin) return error(400, why);
      f.admin = *admin;
      for (auto [key, field] : {std::pair{"before", &f.before_micros}, std::pair{"after", &f.after_micros}}) {
        std::string v = body.value(key, "");
        if (v.empty()) continue;
        std::optional<int64_t> t = utc::parse_date_or_timestamp(v);
        if (!t) return error(400, std::string(key) + " must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
        *field = *t;
      }
      web::http_response out;
      self->request(ctx->directory, kTimeout, actors::replace_atom::value, f)
          .receive([&](uint64_t n) { out = reply(200, json{{"replaced", n}}); },
                   [&](caf::error& err) { out = from_caf_error(sys, err); });
      return out;
    }
    return error(404, "no such endpoint: " + req.method + " " + p);
  };
}

}  // namespace pchat::app
