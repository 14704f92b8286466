// Room management for end users: the reference's "My Rooms" web app (§1.3 roles, §4 room
// management web service). Creators make rooms in their categories; managers change them.
//
//   GET    /manage                    302 to /#manage: the web client's "My rooms" view
//                                     (web/assets/manage.js, docs/WEB.md)
//   GET    /manage/v1/categories      categories the user may create rooms in (Creator, in
//                                     the category's scope)
//   GET    /manage/v1/names?room=N    {name, available}: is a room name still free (names are
//                                     unique, case-insensitively)
//   GET    /manage/v1/rooms           rooms the user manages
//   POST   /manage/v1/rooms           {name, category (id or name), description?, topic?,
//                                     privacy? (default closed), type?, invitations?, addin?,
//                                     members?, managers?, presenters?}: Creators only; the
//                                     creator becomes a manager and a member. 201 {room}
//   GET    /manage/v1/rooms/{id}      a room the user manages
//   PATCH  /manage/v1/rooms/{id}      managers: every setting the admin API takes (lists whole
//                                     or add_/remove_), disabling too; moving the room to
//                                     another category needs Creator there. 200 {room}
//   DELETE /manage/v1/rooms/{id}      403: only administrators remove rooms (as in Lync)
//
// A refusal about one setting names it: {"error", "field"} (name, category, members,
// managers, presenters), so a form shows it next to that field. Names of only spaces, a
// name another room has ("a room named X exists", 409), members that are neither
// sip:user@domain, a known group:NAME nor domain:NAME are refused.
//
// Sign-in as app/user_auth.h: Basic, or the web client's cookie (`cookie`; writes also need
// its X-PChat-CSRF header). EnablePersistentChat must be on for the user. A room the user
// does not manage is 404 when they cannot see it and 403 otherwise. Requests for other
// paths go to `next`.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "app/user_auth.h"
#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// REQUIRES: `sys` outlives the handler (changes go through the directory actor).
web::http_handler make_room_management_api(caf::actor_system& sys,
                                           std::shared_ptr<const actors::server_context> ctx,
                                           bool trust_user_header, cookie_auth cookie, web::http_handler next);

}  // namespace pchat::app
