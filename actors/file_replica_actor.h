// file_replica_actor: a pool node's side of other nodes' uploads (docs/POOL.md "Uploaded
// files in a pool"). Takes an upload shipped in chunks (fship: appended to a file store
// writer; the last chunk makes the blob and writes the record through the commit actor,
// without a second FILEUPLOAD event; a record held already answers at once if it is the
// same upload, errc::forbidden if another has its id), serves this node's files in chunks
// (fget) and lists a room's files this node holds (flist).
//
// Detached (file I/O and fsync block); only its node's replica actor talks to it (a
// detached actor never answers remote senders, CAF 0.17), so it answers local actors only.
//
// Bounds: at most kMaxIntakes uploads in progress (the oldest is dropped for a new one),
// each dropped when no chunk came for kIntakeIdle; chunks of at most kFileChunk bytes, the
// whole at most the size the record says, which the uploading node checked against
// MaxFileSizeKB.
//
// Threads: its own. Ownership: borrows the store (it outlives the actor).
#pragma once

#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace pchat::storage {
class database;
}

namespace pchat::actors {

inline constexpr size_t kFileChunk = 256 * 1024;
inline constexpr size_t kMaxIntakes = 16;
inline constexpr std::chrono::seconds kIntakeIdle{120};

// REQUIRES: files_dir is this node's file store root, commit its commit actor.
caf::actor spawn_file_replica(caf::actor_system& sys, storage::database* store, std::string files_dir,
                              caf::actor commit, std::chrono::milliseconds request_timeout);

}  // namespace pchat::actors
