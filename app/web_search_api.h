// History search for the web client (docs/WEB.md "History search"): the admin search's
// index (app/admin_search.h, search/search_index.h) over the rooms the signed-in user may
// read at the moment of the query, and no other.
//
//   GET /api/web/search?q=TEXT&room=URI&author=URI&limit=N
//     q       words (all must occur), "exact phrases", +word / -word (0..256 bytes)
//     room    only this room (404 unless the user may read it now); default: every room
//             they may read
//     author  only this author's messages (a SIP URI, "sip:" optional)
//     limit   1..200 (default 50)
//   -> 200 {results: [{room, name, seq, author, ts, text}] newest first, truncated}; a pool
//      node adds unanswered_nodes; 400 no q or author, a bad query; 401 not signed in;
//      503 the index is not running or not caught up (retry)
//
//   GET    /api/web/feeds             topic feeds: my saved searches, each with the messages
//                                     matching it posted since I last looked, in the rooms I
//                                     may read now: {feeds: [{id, q, author, new, more}]}
//                                     (new: at most 99; more: there are more)
//   POST   /api/web/feeds             {q, author} saves one (at most 20); {id, seen: true}: I
//                                     have looked at its matches (new goes to 0) -> {feeds}
//   DELETE /api/web/feeds?id=N        removes one -> {feeds}
//   (writes need X-PChat-CSRF; feeds are a preference: protocol/webchat/topic_feeds.h)
//
// Access is checked per room at query time (identity_snapshot::access can_join: members of
// closed and secret rooms, anyone in scope for open ones; disabled rooms never): the query
// names those rooms and the index returns nothing else. Before searching, the indexer
// commits what it has received, so an acknowledged post is found.
// Threads: the HTTP handler threads (blocking requests; one index reader, under a lock).
#pragma once

#include <caf/fwd.hpp>

#include <memory>
#include <string>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

class web_sign_ins;

// Answers /api/web/search and passes every other request to `next`. The index lives at
// `index_path` (written by the indexer actor). REQUIRES: `sys` outlives the handler.
web::http_handler make_web_search_api(caf::actor_system& sys,
                                      std::shared_ptr<const actors::server_context> ctx,
                                      std::shared_ptr<web_sign_ins> sign_ins,
                                      std::string index_path, web::http_handler next);

}  // namespace pchat::app
