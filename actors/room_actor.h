// room_actor: one per active room. Owns the room's ordered sequence, its roster of joined
// sessions, and the back-chat cache of the latest DefaultChatHistory messages.
//
//   post:  the session hands the post's INFO over (post_atom with an info_ticket; the
//          room answers ok_atom at once and from then on answers the INFO itself, every
//          outcome, messages.h "Who answers an INFO") -> check the poster is joined ->
//          follow the post plan -> assign seq -> commit_actor (durable) -> SIP 200 to the
//          author's INFO -> fan-out to every joined dialog *including the author* (SIPE
//          never echoes locally) -> back-chat cache. A refusal (not joined, not a presenter,
//          history unreadable, store failure, not confirmed in time, the room stopping) is
//          answered by the room too (actors/info_answer.h).
//   post plan: decided when the room starts and again when its settings change
//          (update_room_atom from the directory), never per post: refuse all while the
//          history cannot be read; presenters only (auditorium); store (the category's
//          ChatHistory: the log and back-chat, else relayed live); capture (compliance on:
//          the CHAT event in the post's own synced write, with ChatHistory off too)
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

// Post ids a room remembers (its newest stored or relayed posts; loaded from the log at
// start): a post sent again with one of them is answered with the stored result instead of
// being stored twice (docs/POOL.md "post ids"). 1,000 x 16 bytes per live room.
inline constexpr size_t kPostIdWindow = 1000;

// REQUIRES: rec is a stored room, `cat` its category (empty: none); ctx->reader and
// ctx->commit are running. Every post and back-chat is checked against the user's access
// to rec and cat as the identity registry says at that moment (defence in depth: a member
// whose access was revoked is refused even before the room removes it).
caf::actor spawn_room_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                            storage::room_record rec, storage::category_record cat = {});

}  // namespace pchat::actors
