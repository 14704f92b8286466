// What every actor of one server node shares: pointers to the long-lived services and
// the node's immutable settings. Built once at start-up (app/), then read-only.
//
// Ownership: the app owns the store and the endpoint and keeps them alive until
// every actor has terminated. Actors hold a shared_ptr<const server_context>.
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
}

namespace pchat::actors {

class identity_registry;

struct server_context {
  storage::database* store = nullptr;          // thread-safe; writes via the commit actor, reads
                                            // that may block via `reader` (not on CAF workers)
  sip::dialog_sender* edge = nullptr;       // thread-safe send/respond (the SIP edge)
  caf::actor commit;                        // the commit_actor
  caf::actor directory;                     // the directory_actor
  caf::actor reader;                        // the reader pool (reader_actor.h): blocking reads
  // Users, groups, policies and the access rules; nullptr denies every room command.
  std::shared_ptr<identity_registry> identities;
  std::string domain = "example.com";
  std::string files_dir;                    // the file store's root (<data-dir>/files)
  std::string chat_uri = "sip:chat@example.com";  // lookup and channel URI
  storage::chat_config config;
  int room_idle_seconds = 60;               // an empty room actor stops after this
  // Compliance on: posts carry their event into the commit, other events reach the commit
  // actor through actors::capture() (commit_actor.h). Off: nothing is captured (zero cost).
  // Fixed at start-up.
  bool compliance_enabled = false;
  caf::actor compliance_runner;             // the compliance runner; invalid when off
  caf::actor indexer;                       // the indexer_actor (history search); may be invalid
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

}  // namespace pchat::actors
