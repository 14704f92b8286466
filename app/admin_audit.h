// An administrator's actions as their own compliance events (issue 16 pt 3): who acted
// (admin:NAME, text/admin_name.h), on what, and what changed. The room actor records
// replacements and clears itself (per message, in the same synced write as the change);
// the admin API records searches and room and membership changes here.
//
// Threads: HTTP handler threads (record_admin_events blocks until the events are synced).
#pragma once

#include <caf/fwd.hpp>

#include <optional>
#include <string>
#include <vector>

#include "status/status.h"
#include "storage/records.h"
#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// The acting administrator, "admin:NAME", from the X-PChat-Admin header (pchatctl sends
// it); "admin:unnamed" when a client sent none. nullopt with *why when it is not a valid
// name: the request is refused (400) rather than recorded under a name nobody gave.
std::optional<std::string> admin_of(const web::http_request& req, std::string* why);

// Stages `events` with the commit actor and waits until they are synced (at most the
// node's commit timeout): an admin action is answered only once its record is durable.
// ok at once when compliance is off. A zero ts_micros becomes now.
pchat::status record_admin_events(caf::actor_system& sys, const actors::server_context& ctx,
                                  std::vector<storage::compliance_record> events);

// A room created (before null), changed, or removed (after null) by `admin`: one ADMINROOM
// event (text "created: {...}" / "changed: {...}" with the settings that changed, as JSON;
// previous their values before; "removed" with every setting before), and one ADMINMEMBERS
// event per principal added to or removed from its members, managers or presenters
// (target the principal, text e.g. "manager added"). Nothing when nothing changed.
std::vector<storage::compliance_record> room_change_events(const std::string& admin,
                                                           const storage::room_record* before,
                                                           const storage::room_record* after);

}  // namespace pchat::app
