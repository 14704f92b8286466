// The JSON admin API behind pchatctl (and later the room-management web page).
//
//   GET  /api/v1/status                       node status: version, start, uptime, ports,
//                                             data folder, headline counts, SIP counters
//   GET  /api/v1/categories[?name=NAME]       list categories (every field: allowed and
//                                             denied members, creators, flags)
//   GET  /api/v1/categories/{id|name|uri}     one category, same shape
//   POST /api/v1/categories   {name, description?}           -> 201 category
//   GET  /api/v1/rooms[?name=SUBSTR]          list rooms: every stored setting, category
//                                             (name), users (live count)
//   GET  /api/v1/rooms/{id|name|uri}          one room, same shape
//   POST /api/v1/rooms        {name, category, description?} -> 201 room (with "uri")
//   GET  /api/v1/config[?identity=I]          server options in force on this node (no
//                                             identity) or stored at I, with each one's
//                                             source (docs/ADMIN.md "Effective configuration")
//   PUT  /api/v1/config       {default_chat_history?, max_file_size_kb?,
//                              participant_update_limit?, room_management_url?}
//                             validated (400 names the setting and its range); applied at
//                             once where in force (app/effective_config.h)
//   GET  /api/v1/compliance/config            compliance settings in force, their sources,
//                                             and what is stored
//   PUT  /api/v1/compliance/config {enabled?, adapter_type?, output_directory?,
//                              run_interval_seconds?, one_chat_room_per_output_file?,
//                              add_user_details?, add_chat_room_details?,
//                              create_file_attachments_manifest?}   applied at once unless
//                             pchatd's command line or config file sets the same setting
//   GET  /api/v1/compliance/status            queue depth, last success, last error
//   POST /api/v1/compliance/run               deliver staged events now (202)
//   GET  /api/v1/files?room=ROOM               files uploaded to a room (id, name or uri)
//   DELETE /api/v1/files/{room-id}/{file-id}  removes a file: record and bytes (a takedown;
//                             compliance keeps its FILEUPLOAD/FILEDOWNLOAD events)
//   POST /api/v1/backup       {dir, timeout_seconds?}  online backup (app/backup_api.h)
//   POST /api/v1/messages/replace {room, user?, before?, after?, contains?, replacement?}
//                             Remove-CsPersistentChatMessage: replaces matching stored
//                             messages (default text: the reference's) -> {replaced: n}
//
// Errors: {"error": "<what failed and what to do>"} with 400/404/409/503.
// Runs on the HTTP server's thread and talks to the directory synchronously.
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

struct node_facts;
class effective_config;

// `config`: applies configuration and compliance writes at once (REQUIRES: non-null,
// attached to ctx's live settings).
web::http_handler make_admin_api(caf::actor_system& sys,
                                 std::shared_ptr<const actors::server_context> ctx,
                                 const sip::endpoint* edge, std::shared_ptr<const node_facts> facts,
                                 std::shared_ptr<effective_config> config);

}  // namespace pchat::app
