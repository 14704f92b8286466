// History search in the admin API (issue 3, part 6).
//
//   GET /api/v1/search?q=TEXT&room=R[,R2...]&author=U[,U2...]&from=DATE&to=DATE&limit=N
//     q       words (all must occur) and "exact phrases"; +word / -word; optional when
//             author or dates are given. Case-insensitive, no stemming (search/search_index.h).
//     room    room ids, ma-chan URIs or names (case-insensitive), comma-separated; default:
//             every room that is not disabled (naming a disabled room searches it)
//     author  SIP URIs ("sip:" optional), comma-separated
//     from,to UTC "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[Z]", inclusive ("to=2024-05-01" is the
//             whole day)
//     limit   1..1000 (default 50): the server-side result cap
//   -> 200 {results: [{room, room_uri, room_id, seq, author, ts, text}] newest first,
//           total_estimate, limit, truncated}; a pool node adds unanswered_nodes: [names]
//           (it searches every live node's index and merges the answers: docs/POOL.md)
//   400 bad dates, query text or X-PChat-Admin, 404 unknown room, 503 index unavailable.
//
// Every search is recorded as the admin's own ADMINSEARCH compliance event (admin:NAME from
// X-PChat-Admin, app/admin_audit.h; the criteria and the number of results), one per room
// named or one for every room, synced before the results are sent (503 if it cannot be). Before searching, the indexer commits what it has received, so every
// acknowledged post is found.
#pragma once

#include <caf/fwd.hpp>

#include <memory>
#include <string>
#include <vector>

#include "search/search_index.h"
#include "status/status.h"
#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// Answers /api/v1/search and passes every other request to `next`. The index lives at
// `index_path` (written by the indexer actor). Runs on the HTTP thread.
web::http_handler make_search_api(caf::actor_system& sys,
                                  std::shared_ptr<const actors::server_context> ctx,
                                  std::string index_path, web::http_handler next);

// The query behind the endpoint, for callers that already know which rooms the user may
// read (per-user authorization): searches only `readable_room_ids`. REQUIRES: `reader` is
// used by one thread at a time.
status search_history(search::search_reader& reader, search::search_query q,
                               const std::vector<std::string>& readable_room_ids,
                               search::search_result* out);

// A pool node's index holds only the rooms whose log it keeps (owner or follower): asks
// every other live node's index for `q` through ctx.directory_relay and merges their
// answers with `local` (this node's); names the nodes that did not answer. Blocks the
// calling (HTTP) thread, at most kPoolSearchTimeout and a second.
search::search_result search_pool(caf::scoped_actor& self, const actors::server_context& ctx,
                                  const search::search_query& q, search::search_result local,
                                  std::vector<std::string>* unanswered);

}  // namespace pchat::app
