// indexer_actor: keeps the history search index (search/search_index.h) in step with the
// store. Runs detached (its own thread) because Xapian writes and commits block on I/O.
//
// Consumes:
//   (index, room_ids, messages)  from the commit actor after every synced batch that wrote
//                                messages (posts, admin replacements, imports). Each message
//                                is (re)indexed under room id + seq, so a replacement
//                                replaces the hit and a repeat is harmless.
//   (ixsync)                     commits everything received so far, then answers ok_atom
//                                (the admin search asks first, so an acknowledged post is
//                                always found).
// Commits in batches: at kIndexCommitDocs buffered documents, or kIndexCommitDelay after
// the first buffered one, whichever comes first; and at exit.
//
// Start-up catch-up: before it takes any message the actor indexes, for every room in the
// store, the messages above the room's high-water mark kept in the index metadata (posts
// acknowledged while the previous process died before its index commit). An empty or
// deleted index directory is therefore rebuilt from the store. Replacements of messages
// below the mark that were not yet committed to the index when the process died are not
// repeated; deleting <data-dir>/search rebuilds everything.
//
// If the index cannot be opened, the actor logs an error and drops what it receives (posts
// are unaffected; search answers 503 until the index is repaired).
#pragma once

#include <caf/fwd.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace pchat::storage {
class database;
}

namespace pchat::actors {

struct node_metrics;

inline constexpr size_t kIndexCommitDocs = 2000;  // bounds memory and work lost in a crash
inline constexpr std::chrono::milliseconds kIndexCommitDelay{250};  // search freshness

// Spawns the detached indexer over the index directory `path`.
// REQUIRES: *store outlives the actor. metrics (not null): counts what it has taken from
// its mailbox (node_metrics::index_done).
caf::actor spawn_indexer_actor(caf::actor_system& sys, storage::database* store, std::string path,
                               std::shared_ptr<node_metrics> metrics);

}  // namespace pchat::actors
