// commit_actor: the only writer of posts and preferences. Runs detached (its own thread)
// because every batch ends in an fsync.
//
// Group commit: each (commit, ...) or (setpref, ...) is added to the open batch and its
// response promise kept; the first entry of a batch sends (flush) to itself, which lands
// behind every request already queued, so one synced WriteBatch covers them all (capped
// at kMaxBatch entries). Only after the sync succeeds are the promises delivered, so a
// room acknowledges and fans out a post only once it is durable. If a sync fails, every
// waiter of that batch gets errc::storage_failure and the store refuses further writes.
#pragma once

#include <caf/fwd.hpp>

#include <memory>

namespace pchat::actors {

struct server_context;

constexpr size_t kMaxBatch = 1024;

// Spawns the detached commit actor. REQUIRES: ctx->store is open.
caf::actor spawn_commit_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx);

}  // namespace pchat::actors
