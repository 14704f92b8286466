// GET /metrics: the node's figures in the Prometheus text format (metrics/text_format.h),
// for a Prometheus scrape. docs/ADMIN.md lists every metric, its type and meaning.
//
// Who may read it (default deny): a client connecting from a loopback address (a Prometheus
// or agent on the same host), or any client sending the admin token (Authorization: Bearer,
// <data-dir>/admin.token); others get 401. The figures name no user, room or message.
//
// What it reads: the node's counters (actors/node_metrics.h, relaxed atomics), the SIP
// edge's and the HTTP server's stats, the store's write state and RocksDB's stall figures,
// the compliance runner's status (one actor request, 2 s timeout: omitted if it does not
// answer), /proc for the process. Runs on an HTTP handler thread; a scrape costs
// microseconds of the post path's time (none of it is locked).
//
// Requests for other paths go to `next`.
#pragma once

#include <caf/fwd.hpp>

#include <memory>
#include <string>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}
namespace pchat::sip {
class endpoint;
}

namespace pchat::app {

struct node_facts;

// REQUIRES: sys, edge and *facts outlive the handler (pchatd stops HTTP before the node).
web::http_handler make_metrics_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                   const sip::endpoint* edge, std::shared_ptr<const node_facts> facts,
                                   std::string admin_token, web::http_handler next);

}  // namespace pchat::app
