// session_actor: one per channel dialog (lookup dialogs too). Decodes each XCCOS INFO,
// answers it at SIP level and with an XCCOS reply INFO, and talks to the directory and
// rooms for everything else. Holds ids, never SIP handles.
//
// The session holds every INFO and answers it (messages.h, "Who answers an INFO"; the
// mapping is info_answer.h): SIP 200 once the command's work is done (so every command
// counts against the edge's in-flight limits until then), errors inside XCCOS (resp code),
// including an actor that did not answer within server_context::request_timeout (503
// inside XCCOS); a setpref the store refused gets SIP 503. The reply INFO always follows
// the 200. A post (grpchat) is handed over to its room, which answers it (room_actor.h).
// INFOs still held when the dialog closes are answered 481.
// On close (BYE, connection loss) the session parts every room and quits once none of its
// posts is still on its way to a room.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "protocol/sip/sip_endpoint.h"

namespace pchat::actors {

struct server_context;

caf::actor spawn_session_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                               sip::dialog_info info);

}  // namespace pchat::actors
