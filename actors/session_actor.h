// session_actor: one per channel dialog (lookup dialogs too). Decodes each XCCOS INFO,
// answers it at SIP level and with an XCCOS reply INFO, and talks to the directory and
// rooms for everything else. Holds ids, never SIP handles.
//
// SIP-level answer: 200 once the command's work is done (so every command counts against
// the edge's in-flight limits until then), errors inside XCCOS (resp code), including an
// actor that did not answer within server_context::request_timeout (503 inside XCCOS);
// for a post (grpchat) the room sends the 200 once the post is durable, a store failure
// answers SIP 503 (the client retries), a post not confirmed within commit_timeout gets
// 200 with an XCCOS 503 and is not acknowledged. The reply INFO always follows the 200.
// INFOs still pending when the dialog closes are answered 481.
// On close (BYE, connection loss) the session parts every room and quits.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "protocol/sip/sip_endpoint.h"

namespace pchat::actors {

struct server_context;

caf::actor spawn_session_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                               sip::dialog_info info);

}  // namespace pchat::actors
