// Export-/Import-CsPersistentChatData for pchat: the admin API's archive endpoints. The
// archive format (JSON Lines, one record per line) is specified in docs/ARCHIVE.md.
//
//   POST /api/v1/export {path?, category?, since?}
//     category  a category name or id: only its rooms (default: every category and room)
//     since     UTC date: only messages posted at or after it (rooms and categories always)
//     path      absolute file on the server host to write (the admin API is loopback-only,
//               so pchatctl passes its own --file); without it the archive is the body
//     -> 200 {path, categories, rooms, messages} (or the archive, application/x-ndjson)
//   POST /api/v1/import {path, what_if?}
//     Reads the archive at `path` (server host), checks it completely first (format,
//     version, trailer counts, and conflicts: a category or room name held by another id,
//     a stored message with the same seq but other content), then writes categories, rooms
//     (same ids, so ma-chan URIs stay valid; all fields, members, managers, presenters) and
//     messages (same seqs and timestamps) through the directory and room actors. Messages
//     already present are skipped, so importing twice adds nothing. The search index is
//     updated through the commit actor like any other write.
//     what_if: only check and count.
//     -> 200 {what_if, categories, rooms, messages_new, messages_present}
//     409 conflict (nothing written), 400 malformed archive, 404 missing file.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// Answers /api/v1/export and /api/v1/import and passes every other request to `next`.
web::http_handler make_archive_api(caf::actor_system& sys,
                                   std::shared_ptr<const actors::server_context> ctx,
                                   web::http_handler next);

}  // namespace pchat::app
