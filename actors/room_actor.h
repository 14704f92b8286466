// room_actor: one per active room. Owns the room's ordered sequence, its roster of joined
// sessions, and the back-chat cache of the latest DefaultChatHistory messages.
//
//   post:  check the poster is joined -> assign seq -> commit_actor (durable)
//          -> SIP 200 to the author's INFO -> cache, fan-out to every joined dialog *including the author* (SIPE never
//          echoes locally), compliance event -> reply seq to the session
//          (with compliance on, the post's CHAT event goes into the same commit)
//   replace: admin rewrite of matching stored messages (one synced write with their
//          compliance events), then the back-chat cache is updated
//   join:  add to roster (monitoring the session), reply the roster; ntc:join to others
//   part / session down: remove, ntc:part to others
//   idle:  with no members and no post in flight for room_idle_seconds, ask the
//          directory to retire it, then quit (requests still queued fail and the
//          sessions look the room up again, getting a fresh actor).
//
// Fan-out goes straight to the SIP edge with one body for all members (one queue entry,
// one wake-up), not through the session actors: it is the hot path.
// Above ParticipantUpdateLimit members, roster lists and join/part notices stop; they
// resume below 80 % of the limit.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "storage/records.h"

namespace pchat::actors {

struct server_context;

// REQUIRES: rec is a stored room. Loads the last sequence and back-chat from the store.
caf::actor spawn_room_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                            storage::room_record rec);

}  // namespace pchat::actors
