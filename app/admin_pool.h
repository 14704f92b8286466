// The pool in the admin API (docs/POOL.md, `pchatctl pool status`).
//
//   GET /api/v1/pool
//   -> 200 standalone: {"mode": "standalone", "nodes": [], "rooms": []}
//          in a pool:  {"mode": "pool", "pool": NAME, "self": NAME, "serving": bool,
//                       "view_version": N, "ms_since_renewal": N (-1: no lease),
//                       "nodes": [{name, tag, host, pool_port, sip_port, http_port,
//                                  registered, linked, live, draining, self}] by name,
//                       "rooms": [{room_id, epoch}]  (the rooms this node has claimed),
//                       from etcd (a bounded range of /<pool>/rooms/):
//                       "claims": [{room_id, owner, epoch}] every room claimed, by room id,
//                       "claims_truncated": bool (over 20000 keys: the rest left out),
//                       each node's "rooms_owned": N (its claims among those);
//                       "claims_error": why etcd could not be read (then no claims)}
//   503 when the membership actor does not answer in time.
//
//   POST /api/v1/pool/drain   {"node": NAME}   (and /api/v1/pool/undrain)
//   -> 200 {"node": NAME, "draining": bool} once NAME's registry entry says so (its rooms
//          then hand off to their next owners, placement skips it; docs/POOL.md);
//      400 bad body, 404 NAME not live in this node's view, 409 standalone,
//      503 NAME did not answer or holds no etcd lease (nothing changed).
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
namespace pchat::pool {
class etcd_client;
}

namespace pchat::app {

// Answers /api/v1/pool and passes every other request to `next`. Runs on the HTTP thread,
// where it reads the room claims through `etcd` (blocking, at most its timeout; null on a
// standalone node).
web::http_handler make_pool_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                std::shared_ptr<pool::etcd_client> etcd, web::http_handler next);

}  // namespace pchat::app
