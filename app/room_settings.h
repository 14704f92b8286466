// Room settings changes, shared by the admin API (every room) and the room-management API
// (rooms a user created or manages): one invitation rule, one mapping of actor errors to
// HTTP. The settings' JSON form (parser and view) is app/room_json.h.
#pragma once

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "app/room_json.h"
#include "storage/records.h"
#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// Rooms with invitations on (room Inherit and category Invitations) invite the users that a
// change made members (reference §1.7) and who could accept (in the category's scope,
// Persistent Chat enabled); they find them with cmd:getinv.
void invite_new_members(const actors::server_context& ctx, const storage::room_record& room,
                        const std::vector<std::string>& members_before, const std::string& inviter);

// An error from an actor (actors::errc) as the HTTP status a client can act on.
web::http_response from_caf_error(caf::actor_system& sys, const caf::error& err);

}  // namespace pchat::app
