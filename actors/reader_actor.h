// reader_actor: blocking store reads for the actors that must not block (rooms, sessions).
// A small pool of detached readers (each its own thread) behind one caf::actor_pool
// (round robin), so a read that waits on the disk never holds one of the CAF worker threads
// that every room and session share, and one long read does not queue every other.
//
// Answers (messages.h, "reader_actor"): rdload (a room's start: last sequence, newest
// messages, the category's ChatHistory), rdlatest (back-chat beyond a room's cache), rdfrom
// (a chunk of a room's history, for admin scans and pool copies), rdinv (a user's
// invitations), rdpref (a user's preference), rdstate (a room log's data epoch and last
// sequence, for the pool). A failed read answers errc::storage_failure with the store's reason.
// Scans are bounded by their caller: rdfrom and rdlatest read at most kMaxReadMessages.
#pragma once

#include <caf/fwd.hpp>

#include <cstddef>

namespace pchat::storage {
class database;
}

namespace pchat::actors {

inline constexpr size_t kReaderThreads = 2;         // reads in parallel (each blocks a thread)
inline constexpr size_t kMaxReadMessages = 1000;    // per rdfrom / rdlatest answer (memory)
inline constexpr size_t kMaxReadInvitations = 100;  // per rdinv answer

// Spawns the pool. REQUIRES: *store outlives it. Stop it with an exit message.
caf::actor spawn_reader_pool(caf::actor_system& sys, const storage::database* store);

}  // namespace pchat::actors
