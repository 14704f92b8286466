#include "app/admin_pool.h"

#include <caf/all.hpp>

#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/admin_json.h"

namespace pchat::app {
namespace {

using nlohmann::json;

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

}  // namespace

web::http_handler make_pool_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                web::http_handler next) {
  return [&sys, ctx, next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (req.path != "/api/v1/pool") return next(req);
    if (req.method != "GET") return error(405, "use GET");
    if (!ctx->pool_actor)
      return reply(200, json{{"mode", "standalone"}, {"nodes", json::array()}, {"rooms", json::array()}});
    caf::scoped_actor self{sys};
    web::http_response out = error(503, "the pool membership actor did not answer; try again");
    self->request(ctx->pool_actor, std::chrono::seconds(5), actors::pool_status_atom::value)
        .receive([&](actors::pool_status& s) { out = reply(200, to_json(s)); }, [&](caf::error&) {});
    return out;
  };
}

}  // namespace pchat::app
