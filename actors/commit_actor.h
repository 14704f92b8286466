// commit_actor: the only writer of posts. Runs detached (its own thread) because every
// batch ends in an fsync. (setpref, ...) it delegates to the pref writer it spawns linked
// to itself (pref_writer.h: on a pool node a preference is a directory-log record).
//
// Group commit: each (commit, ...) is added to the open batch and its
// response promise kept; the first entry of a batch sends (flush) to itself, which lands
// behind every request already queued, so one synced WriteBatch covers them all (capped
// at kMaxBatch entries). Only after the sync succeeds are the promises delivered, so a
// room acknowledges and fans out a post only once it is durable. If a sync fails, every
// waiter of that batch gets errc::storage_failure (posts: SIP 503), and so does every batch
// until the database has resumed writes by itself (storage/db.h; it logs both edges).
// Each batch is committed through the one synced writer (storage/writer.h).
//
// Pool (docs/POOL.md "Replicated room log"): logput (the owner's post), rlogput (the
// follower's copy), logcopy (catch-up and full copies), logmark (a log complete at an
// epoch) write a room's log with its epoch state in the same batch; a stale epoch is
// refused at once (errc::forbidden), adding nothing. Shipped and copied entries are indexed
// (search on the node that takes the room over); a shipped post's event is kept beside the
// log, not staged (the owner's node delivers it).
//
// Compliance: the commit actor is the single writer of staged compliance events and assigns
// their global sequence (recovered at spawn from the store's high-water mark). A post's
// event rides in the same WriteBatch as the post, so an acknowledged post always has its
// event; (capture, ...) events (join, part, back-chat, file download, history search) have
// no waiter and are staged with the next group commit. Every emitter builds a
// storage::compliance_record (the one event type) and sends it here through capture(). Crash point "after_capture" fires once a batch with a post's event has synced.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>

#include "storage/records.h"

namespace pchat::storage {
class database;
}

namespace pchat::actors {

class index_feed;
struct node_metrics;
struct server_context;
struct server_settings;

constexpr size_t kMaxBatch = 1024;
// Pool: room log states the commit actor keeps in memory between commits (one per room it
// wrote in pool mode); above this the cache is dropped and re-read per room (memory).
constexpr size_t kMaxLogStates = 65536;

// Spawns the detached commit actor. REQUIRES: store is open and outlives the actor.
// index (null when there is no indexer): every synced batch's messages are noted there (room
// and seq only) and the indexer is sent (ixstep) when that woke it; settings: the per-user
// quotas. It needs no server_context: it exists before the context that names it.
// metrics: counts every batch (node_metrics.h). REQUIRES: not null.
caf::actor spawn_commit_actor(caf::actor_system& sys, storage::database* store, caf::actor indexer,
                              std::shared_ptr<index_feed> index, const server_settings& settings, std::shared_ptr<node_metrics> metrics);

// Stages `e` (no waiter) with the commit actor's next group commit; nothing when compliance
// is off (ctx.live: in force now; off costs nothing). Any thread (actors, HTTP handlers);
// never blocks (one mailbox enqueue). A zero e.ts_micros becomes now.
void capture(const server_context& ctx, storage::compliance_record e);

}  // namespace pchat::actors
