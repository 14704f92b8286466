// session_actor: one per channel dialog (lookup dialogs too). Decodes each XCCOS INFO,
// answers it at SIP level and with an XCCOS reply INFO, and talks to the directory and
// rooms for everything else. Holds ids, never SIP handles.
//
// SIP-level answer: 200 at once for every command, errors inside XCCOS (resp code);
// for a post (grpchat) the 200 waits until the room reports the post durable, and a store
// failure answers 503 (the client retries). The reply INFO always follows the 200.
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
