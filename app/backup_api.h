// The backup endpoint of the admin API (behind the admin token, like the rest of it):
//
//   POST /api/v1/backup {dir, timeout_seconds?}
//        makes an online backup of this node into `dir` (absolute, new or empty, outside the
//        data folder; storage/backup.h says what is in it) while posts go on, on a detached
//        actor (actors/backup_actor.h); this handler thread waits for it.
//        201 with the manifest's summary (what is in it, sizes, took_ms)
//        400 bad body or folder refused, 409 folder not empty or a backup already running,
//        507 no space left, 500 any other write failure (the reason names file and call),
//        503 not finished within timeout_seconds (default 3600, 1..86400): cancelled, what
//        it wrote is removed.
// Other paths go to `next`.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

struct node_facts;

inline constexpr int kBackupDefaultTimeoutSeconds = 3600;
inline constexpr int kBackupMaxTimeoutSeconds = 86400;

web::http_handler make_backup_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                  std::shared_ptr<const node_facts> facts, web::http_handler next);

}  // namespace pchat::app
