// Room settings as the JSON APIs take and show them, shared by the admin API (every room)
// and the room-management API (rooms a user created or manages): one parser, one view,
// one invitation rule, one mapping of actor errors to HTTP.
#pragma once

#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "storage/records.h"
#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// Applies a room request's settings (New-/Set-CsPersistentChatRoom fields: name,
// description, topic, category, privacy, type, invitations, disabled, addin, and members,
// managers, presenters as whole lists or add_/remove_ edits) to `r`. Returns what is wrong
// with the request, or empty.
std::string apply_room_settings(const nlohmann::json& b, storage::room_record& r);

// Rooms with invitations on (room Inherit and category Invitations) invite the users that a
// change made members (reference §1.7) and who could accept (in the category's scope,
// Persistent Chat enabled); they find them with cmd:getinv.
void invite_new_members(const actors::server_context& ctx, const storage::room_record& room,
                        const std::vector<std::string>& members_before, const std::string& inviter);

// The strings of a JSON array (other elements and non-arrays: none).
std::vector<std::string> json_strings(const nlohmann::json& j);
// `field` replaces the list, `add_<field>` and `remove_<field>` edit it. Returns what is
// wrong (a value that is not an array), or empty.
std::string apply_list_edits(const nlohmann::json& b, const std::string& field,
                             std::vector<std::string>& list);

const char* privacy_name(storage::room_privacy p);
nlohmann::json room_json(const storage::room_record& r, const std::string& domain);

// An error from an actor (actors::errc) as the HTTP status a client can act on.
web::http_response from_caf_error(caf::actor_system& sys, const caf::error& err);

}  // namespace pchat::app
