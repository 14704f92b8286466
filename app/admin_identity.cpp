#include "app/admin_identity.h"
#include "app/admin_json.h"
#include "app/room_settings.h"

#include <nlohmann/json.hpp>

#include <unordered_set>

#include "actors/identity_registry.h"
#include "actors/server_context.h"
#include "protocol/sip/sip_digest.h"
#include "storage/database.h"
#include "text/ascii.h"
#include "text/comma_list.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;

// Both Digest usernames (user@domain, as SIPE sends it, and the user part alone), the realm
// our domain. REQUIRES: u.uri is "sip:user@domain".
void set_password(storage::user_record& u, const std::string& domain, const std::string& pw) {
  auto ha1 = sip::digest_ha1_both(u.uri.substr(4), domain, pw);
  u.ha1 = ha1.address;
  u.ha1_user = ha1.user_part;
}

// Users per POST /api/v1/users/batch (a 1 MiB body holds about 20,000 short ones).
constexpr size_t kMaxBatchUsers = 10000;

web::http_response from_status(const pchat::status& s) {
  if (s.is_not_found()) return error(404, "not found: " + s.reason());
  if (s.is_invalid_argument()) return error(400, s.reason());
  if (s.is_already_exists()) return error(409, s.reason());
  return error(503, s.to_string());
}

json user_json(const storage::user_record& u) {
  return json{{"uri", u.uri},           {"display_name", u.display_name}, {"enabled", u.enabled},
              {"site", u.site},         {"policy", u.policy},             {"has_password", !u.ha1.empty()}};
}

std::string normalise_uri(std::string uri) {
  if (uri.rfind("sip:", 0) != 0) uri = "sip:" + uri;
  return actors::identity_registry::lower(uri);
}

}  // namespace

web::http_handler make_identity_api(std::shared_ptr<const actors::server_context> ctx,
                                    web::http_handler next) {
  return [ctx, next](const web::http_request& req) -> web::http_response {
    const std::string& p = req.path;
    auto& store = *ctx->store;
    auto& ids = *ctx->identities;
    auto tail = [&](const std::string& prefix) { return p.substr(prefix.size()); };

    if (p == "/api/v1/users" && req.method == "GET") {
      std::vector<storage::user_record> users;
      if (auto s = store.identities().list_users(&users); !s.is_ok()) return from_status(s);
      json arr = json::array();
      for (auto& u : users) arr.push_back(user_json(u));
      return reply(200, arr);
    }
    if (p == "/api/v1/users" && req.method == "POST") {
      json b = json::parse(req.body, nullptr, false);
      if (!b.is_object() || !b.contains("uri") || !b["uri"].is_string())
        return error(400, "expected a JSON object with a string \"uri\" (sip:user@domain)");
      std::string uri = normalise_uri(b["uri"].get<std::string>());
      storage::user_record u;
      bool exists = store.identities().get_user(uri, &u).is_ok();
      if (!exists) u.uri = uri;
      if (b.contains("display_name")) u.display_name = b.value("display_name", "");
      if (b.contains("enabled")) u.enabled = b.value("enabled", true);
      if (b.contains("site")) u.site = b.value("site", "");
      if (b.contains("policy")) u.policy = b.value("policy", "");
      if (b.contains("password")) {
        std::string pw = b.value("password", "");
        if (pw.empty()) return error(400, "password must not be empty");
        set_password(u, ctx->domain, pw);
      }
      if (auto s = store.identities().put_user(u); !s.is_ok()) return from_status(s);
      ids.upsert_user(u);
      return reply(exists ? 200 : 201, user_json(u));
    }
    if (p == "/api/v1/users/batch" && req.method == "POST") {
      // Users made if absent (an existing one is left as it is), all in one synced write:
      // provisioning many accounts at once (the bench, an import). At most kMaxBatchUsers.
      json b = json::parse(req.body, nullptr, false);
      if (!b.is_array() || b.size() > kMaxBatchUsers)
        return error(400, "expected a JSON array of at most " + std::to_string(kMaxBatchUsers) +
                              " objects {\"uri\": ..., \"display_name\": ..., \"password\": ...}");
      std::vector<storage::user_record> made;
      auto now = ids.current();
      std::unordered_set<std::string> seen;
      size_t existing = 0;
      for (auto& e : b) {
        if (!e.is_object() || !e.contains("uri") || !e["uri"].is_string())
          return error(400, "every entry needs a string \"uri\" (sip:user@domain)");
        std::string uri = normalise_uri(e["uri"].get<std::string>());
        storage::user_record u;
        if (!seen.insert(uri).second || now->known_user(uri) || store.identities().get_user(uri, &u).is_ok()) {
          ++existing;
          continue;
        }
        for (const char* k : {"display_name", "password"})
          if (e.contains(k) && !e[k].is_string())
            return error(400, std::string(k) + " of " + uri + " must be a string");
        u = {};
        u.uri = uri;
        u.display_name = e.value("display_name", "");
        if (e.contains("password")) {
          std::string pw = e.value("password", "");
          if (pw.empty()) return error(400, "password of " + uri + " must not be empty");
          set_password(u, ctx->domain, pw);
        }
        made.push_back(std::move(u));
      }
      if (!made.empty()) {
        if (auto s = store.identities().put_users(made); !s.is_ok()) return from_status(s);
        ids.upsert_users(made);
      }
      return reply(200, json{{"created", made.size()}, {"existing", existing}});
    }
    if (p.rfind("/api/v1/users/", 0) == 0) {
      std::string uri = normalise_uri(tail("/api/v1/users/"));
      if (req.method == "GET") {
        storage::user_record u;
        if (auto s = store.identities().get_user(uri, &u); !s.is_ok()) return from_status(s);
        json j = user_json(u);
        j["chat_enabled"] = ids.current()->chat_enabled(uri);
        return reply(200, j);
      }
      if (req.method == "DELETE") {
        if (auto s = store.identities().remove_user(uri); !s.is_ok()) return from_status(s);
        ids.remove_user(uri);
        return reply(200, json{{"removed", uri}});
      }
      return error(405, "use GET or DELETE");
    }
    if (p == "/api/v1/groups" && req.method == "GET") {
      std::vector<storage::group_record> groups;
      if (auto s = store.identities().list_groups(&groups); !s.is_ok()) return from_status(s);
      json arr = json::array();
      for (auto& g : groups) arr.push_back(json{{"name", g.name}, {"description", g.description}, {"members", g.members}});
      return reply(200, arr);
    }
    if (p == "/api/v1/groups" && req.method == "POST") {
      json b = json::parse(req.body, nullptr, false);
      if (!b.is_object() || !b.contains("name") || !b["name"].is_string())
        return error(400, "expected a JSON object with a string \"name\" and \"members\" array");
      storage::group_record g{b["name"].get<std::string>(), b.value("description", ""), json_strings(b.value("members", json::array()))};
      if (auto s = store.identities().put_group(g); !s.is_ok()) return from_status(s);
      ids.upsert_group(g);
      return reply(201, json{{"name", g.name}, {"members", g.members}});
    }
    if (p.rfind("/api/v1/groups/", 0) == 0 && req.method == "DELETE") {
      std::string name = tail("/api/v1/groups/");
      if (auto s = store.identities().remove_group(name); !s.is_ok()) return from_status(s);
      ids.remove_group(name);
      return reply(200, json{{"removed", name}});
    }
    if (p == "/api/v1/policies" && req.method == "GET") {
      std::vector<storage::policy_record> ps;
      if (auto s = store.identities().list_policies(&ps); !s.is_ok()) return from_status(s);
      json arr = json::array();
      for (auto& x : ps)
        arr.push_back(json{{"identity", x.identity}, {"enable_persistent_chat", x.enable_persistent_chat}, {"description", x.description}});
      return reply(200, arr);
    }
    if (p == "/api/v1/policies/grant" && req.method == "POST") {
      json b = json::parse(req.body, nullptr, false);
      if (!b.is_object() || !b.contains("user") || !b["user"].is_string() || !b.contains("policy") || !b["policy"].is_string())
        return error(400, "expected {\"user\": URI, \"policy\": TAG or \"\"}");
      std::string uri = normalise_uri(b["user"].get<std::string>());
      std::string tag = b["policy"].get<std::string>();
      if (tag.rfind("tag:", 0) == 0) tag = tag.substr(4);
      storage::policy_record pol;
      if (!tag.empty() && !store.identities().get_policy("tag:" + tag, &pol).is_ok())
        return error(404, "no policy tag:" + tag + " (create it with PUT /api/v1/policies/tag:" + tag + ")");
      storage::user_record u;
      if (auto s = store.identities().get_user(uri, &u); !s.is_ok()) return from_status(s);
      u.policy = tag;
      if (auto s = store.identities().put_user(u); !s.is_ok()) return from_status(s);
      ids.upsert_user(u);
      return reply(200, json{{"user", uri}, {"policy", tag}, {"chat_enabled", ids.current()->chat_enabled(uri)}});
    }
    if (p.rfind("/api/v1/policies/", 0) == 0) {
      std::string identity = tail("/api/v1/policies/");
      if (req.method == "PUT") {
        json b = json::parse(req.body, nullptr, false);
        if (!b.is_object() || !b.contains("enable_persistent_chat") || !b["enable_persistent_chat"].is_boolean())
          return error(400, "expected {\"enable_persistent_chat\": true|false, \"description\": ...}");
        storage::policy_record pol{identity, b["enable_persistent_chat"].get<bool>(), b.value("description", "")};
        if (auto s = store.identities().put_policy(pol); !s.is_ok()) return from_status(s);
        ids.upsert_policy(pol);
        return reply(200, json{{"identity", identity}, {"enable_persistent_chat", pol.enable_persistent_chat}});
      }
      if (req.method == "DELETE") {
        if (auto s = store.identities().remove_policy(identity); !s.is_ok()) return from_status(s);
        ids.remove_policy(identity);
        return reply(200, json{{"removed", identity}});
      }
      if (req.method == "GET") {
        storage::policy_record pol;
        if (auto s = store.identities().get_policy(identity, &pol); !s.is_ok()) return from_status(s);
        return reply(200, json{{"identity", pol.identity}, {"enable_persistent_chat", pol.enable_persistent_chat},
                               {"description", pol.description}});
      }
      return error(405, "use GET, PUT or DELETE");
    }
    if (p == "/api/v1/addins" && req.method == "GET") {
      std::vector<storage::addin_record> as;
      if (auto s = store.directory().list_addins(&as); !s.is_ok()) return from_status(s);
      json arr = json::array();
      for (auto& a : as) arr.push_back(json{{"name", a.name}, {"url", a.url}});
      return reply(200, arr);
    }
    if (p == "/api/v1/addins" && req.method == "POST") {
      json b = json::parse(req.body, nullptr, false);
      if (!b.is_object() || !b.contains("name") || !b["name"].is_string() || !b.contains("url") || !b["url"].is_string())
        return error(400, "expected {\"name\": ..., \"url\": \"https://...\"}");
      storage::addin_record a{b["name"].get<std::string>(), b["url"].get<std::string>()};
      if (auto s = store.directory().put_addin(a); !s.is_ok()) return from_status(s);
      return reply(200, json{{"name", a.name}, {"url", a.url}});
    }
    if (p.rfind("/api/v1/addins/", 0) == 0 && req.method == "DELETE") {
      std::string name = tail("/api/v1/addins/");
      std::vector<storage::room_record> rooms;
      if (auto s = store.directory().list_rooms(&rooms); !s.is_ok()) return from_status(s);
      for (auto& r : rooms)
        if (text::ascii_iequal(r.addin, name))
          return error(409, "add-in " + name + " is used by room " + r.name + ": change the room first");
      if (auto s = store.directory().delete_addin(name); !s.is_ok()) return from_status(s);
      return reply(200, json{{"removed", name}});
    }
    if (p == "/api/v1/principals/eligible" && req.method == "GET") {
      std::vector<std::string> list;
      if (auto it = req.query.find("list"); it != req.query.end()) list = text::comma_list(it->second);
      return reply(200, ids.current()->expand(list));
    }
    return next(req);
  };
}

}  // namespace pchat::app
