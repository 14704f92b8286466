#include "app/admin_pool.h"

#include <caf/all.hpp>

#include <map>
#include <string>

#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "pool/etcd_client.h"
#include "pool/pool_keys.h"

namespace pchat::app {
namespace {

using nlohmann::json;

// The most keys under /<pool>/rooms/ one status reads (an owner and a compliance key per
// room): bounds the answer and the etcd read; beyond it `claims_truncated` says so.
constexpr int64_t kMaxRoomKeys = 20000;

// Every room claim in etcd ({room_id, owner, epoch} by room id) and how many each node
// owns, read in one bounded range on this (HTTP) thread. Adds `claims`,
// `claims_truncated` and each node's `rooms_owned`, or `claims_error` when etcd did not
// answer (the rest of the status still stands).
void add_claims(pool::etcd_client& etcd, const std::string& pool_name, json* out) {
  pool::etcd_range r;
  const std::string prefix = pool::rooms_prefix(pool_name);
  if (auto st = etcd.range_created_since(prefix, 0, kMaxRoomKeys, &r); !st.is_ok()) {
    (*out)["claims_error"] = "cannot read the room claims from etcd: " + st.reason();
    return;
  }
  const std::string suffix = "/owner";
  std::map<std::string, json> by_room;
  std::map<std::string, uint64_t> owned;
  for (auto& kv : r.kvs) {
    if (kv.key.size() <= prefix.size() + suffix.size() ||
        kv.key.compare(kv.key.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;  // the room's compliance key
    std::string room_id = kv.key.substr(prefix.size(), kv.key.size() - prefix.size() - suffix.size());
    ++owned[kv.value];
    by_room[room_id] = {{"room_id", room_id}, {"owner", kv.value}, {"epoch", kv.create_revision}};
  }
  json claims = json::array();
  for (auto& [_, c] : by_room) claims.push_back(std::move(c));
  (*out)["claims"] = std::move(claims);
  (*out)["claims_truncated"] = r.more;
  for (auto& n : (*out)["nodes"]) {
    auto it = owned.find(n.value("name", ""));
    n["rooms_owned"] = it == owned.end() ? 0 : it->second;
  }
}

json to_json(const actors::pool_status& s) {
  json nodes = json::array(), rooms = json::array();
  for (auto& n : s.nodes)
    nodes.push_back({{"name", n.node.name},
                     {"tag", n.node.tag},
                     {"host", n.node.host},
                     {"pool_port", n.node.pool_port},
                     {"sip_port", n.node.sip_port},
                     {"http_port", n.node.http_port},
                     {"registered", n.registered},
                     {"linked", n.linked},
                     {"live", n.live},
                     {"draining", n.node.draining},
                     {"self", n.self}});
  for (auto& r : s.rooms) rooms.push_back({{"room_id", r.room_id}, {"epoch", r.epoch}});
  return {{"mode", "pool"},
          {"pool", s.pool_name},
          {"self", s.self},
          {"serving", s.serving},
          {"view_version", s.view_version},
          {"ms_since_renewal", s.ms_since_renewal},
          {"nodes", nodes},
          {"rooms", rooms}};
}

// POST /api/v1/pool/drain|undrain {"node": NAME}: asks NAME's membership actor (this node's
// or, over BASP, another live node's) to set its draining flag.
web::http_response drain(caf::actor_system& sys, const actors::server_context& ctx, const web::http_request& req,
                         bool on) {
  if (req.method != "POST") return error(405, "use POST");
  if (!ctx.pool_actor || !ctx.pool) return error(409, "this node is standalone (not in a pool): nothing to drain");
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("node") || !body["node"].is_string() || body["node"].get<std::string>().empty())
    return error(400, "the body must be {\"node\": \"NAME\"} (a node of the pool)");
  std::string name = body["node"].get<std::string>();
  auto view = ctx.pool->current();
  const actors::node_entry* n = view->find(name);
  if (!n || !n->pool)
    return error(404, "no live node " + name + " in this node's view of the pool (see pchatctl pool status)");
  caf::scoped_actor self{sys};
  web::http_response out = error(503, "node " + name + " did not answer; the change may not be made, try again");
  self->request(n->pool, std::chrono::seconds(5), actors::pool_drain_atom::value, on)
      .receive([&](caf::ok_atom) { out = reply(200, json{{"node", name}, {"draining", on}}); },
               [&](caf::error& e) {
                 actors::errc code;
                 std::string reason;
                 if (actors::decode_error(e, &code, &reason))
                   out = error(503, "node " + name + ": " + reason + "; the change was not made, try again");
               });
  return out;
}

}  // namespace

web::http_handler make_pool_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                std::shared_ptr<pool::etcd_client> etcd, web::http_handler next) {
  return [&sys, ctx, etcd = std::move(etcd), next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (req.path == "/api/v1/pool/drain") return drain(sys, *ctx, req, true);
    if (req.path == "/api/v1/pool/undrain") return drain(sys, *ctx, req, false);
    if (req.path != "/api/v1/pool") return next(req);
    if (req.method != "GET") return error(405, "use GET");
    if (!ctx->pool_actor)
      return reply(200, json{{"mode", "standalone"}, {"nodes", json::array()}, {"rooms", json::array()}});
    caf::scoped_actor self{sys};
    web::http_response out = error(503, "the pool membership actor did not answer; try again");
    self->request(ctx->pool_actor, std::chrono::seconds(5), actors::pool_status_atom::value)
        .receive(
            [&](actors::pool_status& s) {
              json j = to_json(s);
              if (etcd) add_claims(*etcd, s.pool_name, &j);
              out = reply(200, j);
            },
            [&](caf::error&) {});
    return out;
  };
}

}  // namespace pchat::app
