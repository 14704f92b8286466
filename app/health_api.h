// Health endpoints for a service manager or load balancer (no token: they say only whether
// the node serves, and why not):
//
//   GET /healthz   200 "ok": the process answers HTTP (liveness).
//   GET /readyz    200 {"ready": true, "checks": {...}} when the node can take its work:
//                    store     writes accepted (storage/db.h: false from a failed synced
//                              write, e.g. a full disk, until the store has resumed)
//                    directory the directory answers and has loaded categories and rooms
//                              (2 s timeout)
//                    sip       the SIP edge is listening
//                  503 {"ready": false, "reason": "<the first failed check and what to do>",
//                  "checks": {...}} otherwise.
//
// Requests for other paths go to `next`. Runs on an HTTP handler thread.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}
namespace pchat::sip {
class endpoint;
}

namespace pchat::app {

// REQUIRES: sys and edge outlive the handler.
web::http_handler make_health_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                  const sip::endpoint* edge, web::http_handler next);

}  // namespace pchat::app
