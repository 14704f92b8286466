// indexer_actor: keeps the history search index (search/search_index.h) in step with the
// store. Runs detached (its own thread) because Xapian writes and commits block on I/O.
//
// It pulls: the commit actor notes in the index_feed (actors/index_feed.h) the room and seq
// of every message a synced batch wrote (no text), and wakes the indexer (ixstep) if it was
// asleep. Each step takes rooms from the feed round-robin, reads their messages from the
// store by seq above what it has read (and re-reads rewritten ranges), indexes at most
// kIndexStepMessages, reports how far it got and sends itself the next step while work is
// left. So its memory does not grow with the backlog (the backlog stays in the store), a
// step is short (an exit, ixsync or ixdel waits for one step at most) and posts never wait
// for it.
//
// Consumes:
//   (ixstep)                 one step (from the commit actor or itself).
//   (ixdel, room_id, seqs)   drops cleared messages from the index and commits at once.
//   (ixsync)                 answers ok_atom once every message noted before it is indexed
//                            and committed (the admin search asks first, so an acknowledged
//                            post is found); error if the index is unavailable. At most
//                            kMaxIndexSyncs wait at once (busy beyond).
//   (ixquery, search_query)  runs the query on the committed index (search_result); ask
//                            ixsync first for everything noted. A pool node's directory
//                            relay asks it for other nodes' searches (docs/POOL.md).
// Commits in batches: at kIndexCommitDocs buffered documents, or kIndexCommitDelay after
// the first buffered one, whichever comes first; and at exit (at most kIndexCommitDocs
// documents: the stop stays short).
//
// Start-up: the index's high-water marks ("hw:" metadata: every message of the room up to
// it is indexed and committed) say what is read already; the indexer seeds the feed with
// them and each stored room's last seq (one seek per room, before its first step), so what
// was acknowledged but not indexed when the previous process stopped (or died) is indexed
// by the steps, in the background: neither the start nor a stop waits for it. An empty or deleted
// index directory is therefore rebuilt from the store. Rewrites of messages below the mark that
// were not yet committed to the index when the process stopped are not repeated; deleting
// <data-dir>/search rebuilds everything.
//
// If the index cannot be opened, the actor logs an error and indexes nothing (posts are
// unaffected; the lag grows; search answers 503 until the index is repaired).
#pragma once

#include <caf/fwd.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace pchat::storage {
class database;
}

namespace pchat::actors {

class index_feed;
struct node_metrics;

inline constexpr size_t kIndexCommitDocs = 2000;  // bounds memory and work lost in a crash
inline constexpr std::chrono::milliseconds kIndexCommitDelay{250};  // search freshness
inline constexpr size_t kIndexStepMessages = 500;  // per step: bounds the wait of an exit
inline constexpr size_t kMaxIndexSyncs = 1000;     // ixsync requests waiting at once

struct indexer_options {
  std::string path;  // the index directory
  // Tests only: the pause between two steps (makes a backlog without a flood of posts).
  std::chrono::milliseconds step_delay{0};
};

// Spawns the detached indexer.
// REQUIRES: *store outlives the actor. feed (not null): shared with the commit actor.
// metrics (not null): index_done counts the messages it indexed.
caf::actor spawn_indexer_actor(caf::actor_system& sys, storage::database* store,
                               indexer_options opts, std::shared_ptr<index_feed> feed,
                               std::shared_ptr<node_metrics> metrics);

}  // namespace pchat::actors
