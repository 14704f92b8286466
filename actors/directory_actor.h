// directory_actor: resolves room URIs to room actors, spawning them on demand, and owns
// the in-memory copy of the room directory (categories, rooms) used for search. Every
// room lookup goes through it, so that rooms can later live on other pool nodes.
// It is the only writer of directory records; it runs detached because creating a room
// is a synced store write.
#pragma once

#include <caf/fwd.hpp>

#include <chrono>
#include <memory>

namespace pchat::actors {

// Room search (cmd:chansrch) answers at most this many rooms (the searchLimit we advertise
// in cmd:getserverinfo) and stops scanning after this much of the directory's thread.
inline constexpr size_t kMaxSearchResults = 999;
inline constexpr std::chrono::milliseconds kSearchBudget{50};

struct server_context;

// REQUIRES: ctx->store is open. Loads every category and room at start.
// Spawns the detached directory, waiting for its context: it handles (start, context)
// (messages.h) first and keeps every other message until then. server_node sends it once
// the context that names this directory is complete (the cycle is explained in
// server_context.h).
caf::actor spawn_directory_actor(caf::actor_system& sys);

}  // namespace pchat::actors
