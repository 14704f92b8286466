// The pool in the admin API (docs/POOL.md, `pchatctl pool status`).
//
//   GET /api/v1/pool
//   -> 200 standalone: {"mode": "standalone", "nodes": [], "rooms": []}
//          in a pool:  {"mode": "pool", "pool": NAME, "self": NAME, "serving": bool,
//                       "view_version": N, "ms_since_renewal": N (-1: no lease),
//                       "nodes": [{name, tag, host, pool_port, sip_port, http_port,
//                                  registered, linked, live, draining, self}] by name,
//                       "rooms": [{room_id, epoch}]  (the rooms this node has claimed)}
//   503 when the membership actor does not answer in time.
//
// A node is live when it is registered in etcd (its lease alive) and linked over BASP;
// this node is live while it holds a fresh lease (serving).
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// Answers /api/v1/pool and passes every other request to `next`. Runs on the HTTP thread.
web::http_handler make_pool_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                web::http_handler next);

}  // namespace pchat::app
