// Admin API for the user directory, groups and Persistent Chat policies
// (Get-CsAdPrincipal / *-CsPersistentChatPolicy / Grant-CsPersistentChatPolicy). Each write
// goes to the store first (synced), then to the node's identity registry, whose watcher
// ends what a change takes away at once (docs/SECURITY.md "Revocation"). Only users made
// here may chat: the global policy never applies to a user the directory does not know.
//
//   GET    /api/v1/users                      list (never returns password hashes)
//   GET    /api/v1/users/{uri}
//   POST   /api/v1/users      {uri, password?, display_name?, enabled?, site?, policy?}
//                             create or update; a password sets the Digest HA1
//   POST   /api/v1/users/batch [{uri, password?, display_name?}, ...]  (at most 10,000)
//                             each made if absent (an existing user is left as it is), all
//                             in one synced write -> {created, existing}
//   DELETE /api/v1/users/{uri}
//   GET    /api/v1/groups,  POST /api/v1/groups {name, description?, members[]},
//   DELETE /api/v1/groups/{name}
//   GET    /api/v1/policies, GET /api/v1/policies/{identity}, PUT /api/v1/policies/{identity} {enable_persistent_chat,
//          description?}  (identity: global | site:NAME | tag:NAME), DELETE /api/v1/policies/{identity}
//   POST   /api/v1/policies/grant {user, policy}   (policy "" unassigns)
//   GET    /api/v1/principals/eligible?list=a,b   expands principals to user URIs
//   GET    /api/v1/addins, POST /api/v1/addins {name, url}, DELETE /api/v1/addins/{name}
//          (refused while a room uses it)
// Requests for other paths go to `next`.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

web::http_handler make_identity_api(std::shared_ptr<const actors::server_context> ctx,
                                    web::http_handler next);

}  // namespace pchat::app
