// What every actor of one server node shares: the node's settings and pointers to its
// long-lived services. Built once, complete, by server_node (actors/server_node.h) and only
// then handed out, as std::shared_ptr<const server_context>: no field changes after the
// first actor or thread that reads it exists.
//
// Build order (server_node.cpp), each service before whatever uses it:
//   1. outside the actor system: the store, the identity registry, the settings, the SIP
//      endpoint (constructed, not started);
//   2. actors that need no context: indexer (store), reader pool (store), compliance runner
//      (store), commit actor (store, indexer, settings);
//   3. the directory, spawned waiting for its context (see below);
//   4. the context, complete; the directory gets it as its first message;
//   5. the SIP bridge (spawns sessions with the context) and, last, the endpoint started
//      with the bridge as its event sink.
// Two cycles are broken explicitly, never by filling a field in later:
//   - the directory spawns rooms with this context, which names the directory: the
//     directory exists before the context and receives it in (start, context) before any
//     other message (messages.h);
//   - the edge: actors send through `edge`, and the endpoint hands its events to the bridge
//     that spawns those actors: the endpoint is constructed first and started last
//     (sip::endpoint::start(events)).
// Stop (server_node::stop) is the reverse: the endpoint stops (no new sessions, every
// dialog closed), every actor is told to exit and ALL of them are awaited
// (await_all_actors_done), and only then the services go (the caller's store last).
//
// Ownership: the caller of server_node owns the store and the endpoint and keeps them
// alive until the node is destroyed.
#pragma once

#include <caf/actor.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "storage/records.h"

namespace pchat::storage {
class database;
}
namespace pchat::sip {
class dialog_sender;
class sign_in_throttle;
}

namespace pchat::actors {

class identity_registry;
class index_feed;
class live_settings;
class pool_membership;
class post_id_source;
struct node_metrics;

// The node's settings, fixed at start-up, except those in `live`.
struct server_settings {
  std::string domain = "example.com";
  std::string files_dir;                    // the file store's root (<data-dir>/files)
  std::string chat_uri = "sip:chat@example.com";  // lookup and channel URI
  // The chat settings and compliance switch AT START. What is in force now is `live`:
  // read live->current() (live_settings.h), never these, wherever a value may change.
  storage::chat_config config;
  // The settings applied without a restart (chat settings, compliance), as in force now;
  // never null in a node built by server_node (made from `config` and
  // `compliance_enabled` when the caller gives none). Shared: pchatd's admin API and SIGHUP
  // publish into it (app/effective_config.h).
  std::shared_ptr<live_settings> live;
  int room_idle_seconds = 60;               // an empty room actor stops after this
  // Compliance on: posts carry their event into the commit, other events reach the commit
  // actor through actors::capture() (commit_actor.h). Off: nothing is captured (zero cost).
  // At start; live->current()->compliance.enabled is what is in force.
  bool compliance_enabled = false;
  // Every actor request has a timeout; its expiry answers the client (SIP 200 with an XCCOS
  // 503 inside, xccos-wire.md §4.5) and nothing is acknowledged.
  //   request_timeout: lookups, joins, parts, back-chat, searches and reads (the client's
  //     INFO is held, and counts against the edge's in-flight limits, until answered);
  //   commit_timeout:  a room's wait for the commit actor to sync a post (or an admin
  //     rewrite); a post not confirmed by then is refused, never acknowledged.
  // A session waits commit_timeout + request_timeout for a post, so the room's own timeout
  // answers first.
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds commit_timeout{10000};
  // Per-user quotas on what a user can make the server store (a full disk stops writes for
  // everyone). Preferences (cmd:setpref): labels and bytes (label + value) per user, beyond
  // which a setpref is refused (XCCOS 413). Uploads: bytes of files a user has in the file
  // service (every room), beyond which an upload is refused (HTTP 507).
  uint64_t max_prefs_per_user = 100;
  uint64_t max_pref_bytes_per_user = 1 << 20;
  uint64_t max_upload_bytes_per_user = uint64_t{1} << 30;
};

struct server_context : server_settings {
  storage::database* store = nullptr;          // thread-safe; writes via the commit actor, reads
                                            // that may block via `reader` (not on CAF workers)
  sip::dialog_sender* edge = nullptr;       // thread-safe send/respond (the SIP edge)
  caf::actor commit;                        // the commit_actor
  caf::actor directory;                     // the directory_actor
  caf::actor reader;                        // the reader pool (reader_actor.h): blocking reads
  // Users, groups, policies and the access rules; nullptr denies every room command. The
  // registry publishes snapshots (identity_registry.h): take current() once per command.
  std::shared_ptr<identity_registry> identities;
  // Failed sign-ins per user and source address (protocol/sip/sign_in_throttle.h), shared
  // by the SIP edge's Digest and the HTTP services' Basic; null: no throttling.
  std::shared_ptr<sip::sign_in_throttle> sign_in_throttle;
  caf::actor compliance_runner;             // the compliance runner; invalid when off
  caf::actor indexer;                       // the indexer_actor (history search); may be invalid
  // What the store holds that the index does not yet (actors/index_feed.h): the commit
  // actor notes, the indexer takes; /metrics and status read its lag. Null when no indexer.
  std::shared_ptr<index_feed> index;
  // The pool (actors/pool_view.h, docs/POOL.md): null for a standalone node, whose rooms
  // are all local. In a pool, take current() once per decision (where a room lives).
  std::shared_ptr<pool_membership> pool;
  // The ids this node's sessions give their posts (actors/post_id_source.h); never null in
  // a node built by server_node.
  std::shared_ptr<post_id_source> post_ids;
  // What the node's actors count (actors/node_metrics.h, read by /metrics); never null.
  std::shared_ptr<node_metrics> metrics;
  // The membership actor (pool_actor.h): room claims (pclaim/prelease), pool status.
  // Invalid for a standalone node.
  caf::actor pool_actor;
  // Pool only (invalid standalone): this node's replica actor (actors/replica_actor.h), the
  // follower side of other owners' room logs; node_entry::replica publishes it.
  caf::actor replica;
  // Pool only (invalid / 0 standalone): this node's tag in the dialog and txn ids its
  // actors see (pool/node_tag.h); its edge relay (pool_edge.h) and directory relay
  // (directory_relay.h), which other nodes reach as node_entry::relay and ::directory.
  uint16_t tag = 0;
  caf::actor relay;
  caf::actor directory_relay;
};

}  // namespace pchat::actors
