// replica_actor: a pool node's side of other nodes' room logs (docs/POOL.md "Replicated room
// log"). One per node in pool mode (server_node spawns it; node_entry::replica names it).
//
// It answers remote owners, so it is event-based and never blocks: every write goes to the
// node's detached commit actor (group commit: one fsync for many rooms) and every read to
// the reader pool, with request(...).then(deliver). A detached actor never answers a remote
// sender itself (CAF 0.17: that hangs the actor system's shutdown).
//
// Messages (messages.h, "---- pool"):
//   ship   an owner's post (and its compliance event): written with its epoch; u64 seq once
//          synced here, errc::forbidden "stale epoch" if this node accepted a newer owner
//   rstate the room log's (data epoch, last seq, complete); with an epoch (a take-over's
//          fencing prepare) the epoch is stored, synced, first: older owners are refused after
//   rcopy  a chunk of the room's log (seq >= from, ascending, at most kCopyChunk); with
//          ok_atom, the kept compliance events of messages from..to
//          (docs/POOL.md "Compliance across the pool"), which a pull writes with each chunk
//   rpull  catch the room's log up from another node's replica: its entries from `from` on
//          (full: the whole log, replacing this node's copy), chunk by chunk, each chunk one
//          synced write carrying the epoch; then the log is marked complete at the epoch
//   rmark  mark the room's log complete at the epoch (an owner that was the best source)
//   fship  a chunk of an upload made on another node (to the file replica), or, from this
//          node's file api with the target replica, on to that node
//   fget   a chunk of a file this node holds (from the file replica), or, with the source
//          replica, from that node (docs/POOL.md "Uploaded files in a pool")
//   flist  the room's files this node holds (from the file replica; none when the node
//          keeps no files), or, with another replica, that node's
//   fdel   remove one of the room's files (an administrator's removal) on this node, or,
//          with another replica, on that node
//   fpull  copy the room's files another node's replica holds and this node does not (fget
//          chunk by chunk; each file's blob and record synced through the file replica)
// Every request it makes has a timeout (request_timeout); a failure answers the requester.
//
// Threads: a CAF worker (cooperative). Ownership: holds handles only.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>

namespace pchat::actors {

// Messages per rcopy answer and per synced write of a pull: bounds one BASP message (at most
// kCopyChunk x 64 kB) and one write.
inline constexpr size_t kCopyChunk = 256;

// REQUIRES: commit and reader are this node's commit actor and reader pool; files its file
// replica (file_replica_actor.h), or invalid when the node keeps no files (fship/fget: not_found).
caf::actor spawn_replica_actor(caf::actor_system& sys, caf::actor commit, caf::actor reader,
                               std::chrono::milliseconds request_timeout, caf::actor files = {});

}  // namespace pchat::actors
