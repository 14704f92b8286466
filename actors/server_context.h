// What every actor of one server node shares: pointers to the long-lived services and
// the node's immutable settings. Built once at start-up (app/), then read-only.
//
// Ownership: the app owns the store, the endpoint and the sink and keeps them alive until
// every actor has terminated. Actors hold a shared_ptr<const server_context>.
#pragma once

#include <caf/actor.hpp>

#include <memory>
#include <string>

#include "storage/records.h"

namespace pchat::storage {
class store;
}
namespace pchat::sip {
class dialog_sender;
}
namespace pchat::compliance {
class event_sink;
}

namespace pchat::actors {

class identity_registry;

struct server_context {
  storage::store* store = nullptr;          // thread-safe reads; writes via commit actor
  sip::dialog_sender* edge = nullptr;       // thread-safe send/respond (the SIP edge)
  compliance::event_sink* sink = nullptr;   // thread-safe, non-blocking
  caf::actor commit;                        // the commit_actor
  caf::actor directory;                     // the directory_actor
  // Users, groups, policies and the access rules; nullptr denies every room command.
  std::shared_ptr<identity_registry> identities;
  std::string domain = "example.com";
  std::string files_dir;                    // the file store's root (<data-dir>/files)
  std::string chat_uri = "sip:chat@example.com";  // lookup and channel URI
  storage::chat_config config;
  int room_idle_seconds = 60;               // an empty room actor stops after this
  // Compliance on: posts carry their event into the commit, other events reach the commit
  // actor through `sink`. Off: nothing is captured (zero cost). Fixed at start-up.
  bool compliance_enabled = false;
  caf::actor compliance_runner;             // the compliance runner; invalid when off
  caf::actor indexer;                       // the indexer_actor (history search); may be invalid
};

}  // namespace pchat::actors
