// room_actor: one per active room. Owns the room's ordered sequence, its roster of joined
// sessions, and the back-chat cache of the latest DefaultChatHistory messages.
//
//   post:  check the poster is joined -> assign seq -> commit_actor (durable)
//          -> SIP 200 to the author's INFO -> cache, fan-out to every joined dialog *including the author* (SIPE never
//          echoes locally), compliance event -> reply seq to the session
//          (with compliance on, the post's CHAT event goes into the same commit)
//   start: the last sequence, back-chat and ChatHistory come from the reader pool (the
//          room takes nothing else until answered); if that read fails the room refuses
//          posts and imports (errc::busy) and reads again later (1 s, doubling, at most 30 s)
//   replace / clear: admin rewrite / removal of matching stored messages, walking the
//          history kScanChunk messages at a time through the reader, one synced write per
//          chunk (with their compliance events), then the back-chat cache is updated; posts
//          to any room interleave with the chunks
//   every write waits at most server_context::commit_timeout: a post not confirmed by then
//          is refused (errc::busy), never acknowledged
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

// Messages per chunk of an admin walk over a room's history (clear, replace, import check):
// bounds one read (at most 256 x 64 kB) and one synced write.
inline constexpr size_t kScanChunk = 256;

// REQUIRES: rec is a stored room; ctx->reader and ctx->commit are running.
caf::actor spawn_room_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                            storage::room_record rec);

}  // namespace pchat::actors
